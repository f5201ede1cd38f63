// Raw unary gRPC calls reduced to comparable outcomes: the decoded response with the header
// fields that only identify a member (cluster_id, member_id, raft_term) blanked, or the gRPC
// status code and message. Timing-dependent fields (a lease's remaining TTL) compare within a
// tolerance.
import { isDeepStrictEqual } from "node:util";
import type { Client } from "@grpc/grpc-js";
import { maskHeader, show } from "./store-wire.js";

/** How long one unary call may take before it counts as a hang. */
export const unaryDeadlineMs = 15_000;

/** A unary outcome: the masked response, or the gRPC status code and message. */
export type GrpcOutcome =
  | { readonly ok: true; readonly response: unknown }
  | { readonly ok: false; readonly code: number; readonly message: string };

/** grpc-js's (request, options, callback) overload. */
type UnaryMethod = (
  request: object, options: { deadline: Date },
  callback: (error: Error | null, value: unknown) => void,
) => void;

function isStatus(error: unknown): error is { code: number; details: string } {
  const status = error as { code?: unknown; details?: unknown } | null;
  return typeof status?.code === "number" && typeof status.details === "string";
}

/** Calls `method` with a deadline; never rejects for a gRPC status. */
export function callUnary(client: Client, method: string, request: object): Promise<GrpcOutcome> {
  const call = (client as unknown as Record<string, unknown>)[method];
  if (typeof call !== "function") return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + unaryDeadlineMs);
    (call as UnaryMethod).call(client, request, { deadline }, (error, value) => {
      if (error === null) resolve({ ok: true, response: maskHeader(value) });
      else if (isStatus(error)) resolve({ ok: false, code: error.code, message: error.details });
      else reject(error);
    });
  });
}

/**
 * Copies `reference`'s value of each `fields` entry into `subject`'s response where the two
 * are decimal strings at most `tolerance` apart, so that a deep comparison ignores that much
 * drift. Returns `subject` unchanged otherwise.
 */
export function alignTolerant(
  reference: GrpcOutcome, subject: GrpcOutcome, fields: readonly string[], tolerance: number,
): GrpcOutcome {
  if (!reference.ok || !subject.ok) return subject;
  const expected = reference.response as Record<string, unknown> | null;
  const actual = subject.response as Record<string, unknown> | null;
  if (expected === null || actual === null || typeof actual !== "object") return subject;
  const aligned = { ...actual };
  for (const field of fields) {
    const [want, got] = [expected[field], actual[field]];
    if (typeof want !== "string" || typeof got !== "string") continue;
    if (Math.abs(Number(want) - Number(got)) <= tolerance) aligned[field] = want;
  }
  return { ok: true, response: aligned };
}

/** Whether two outcomes are equal field by field. */
export function sameOutcome(reference: GrpcOutcome, subject: GrpcOutcome): boolean {
  return isDeepStrictEqual(reference, subject);
}

/** An outcome as one line of JSON (byte strings as latin1 text, long values cut). */
export function showOutcome(outcome: unknown, charsMax = 2_000): string {
  const text = show(outcome);
  return text.length <= charsMax ? text : `${text.slice(0, charsMax)}… (${text.length} chars)`;
}
