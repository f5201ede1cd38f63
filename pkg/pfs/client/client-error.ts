/**
 * Errors of the pfs client: a failed call becomes a `PfsError` with the server's code (mapped
 * back from its gRPC status) and the server's message, prefixed by nothing, so the CLI prints
 * exactly what the server said. Transport failures (unreachable server, deadline) say which
 * address and which call, because that is what a person needs to fix them.
 *
 * Invariant: every error a `PfsClient` method rejects with is a `PfsError`.
 */
import { type ServiceError, status } from "@grpc/grpc-js";
import { type ErrorCode, PfsError } from "../../common/index.js";
import { transportHint } from "./client-tls.js";

/** A call's failure, with the gRPC status it came with (for callers that match on it). */
export class PfsClientError extends PfsError {
  override readonly name: string = "PfsClientError";
  /** The gRPC status code the call ended with. */
  readonly grpcCode: number;

  constructor(code: ErrorCode, message: string, grpcCode: number) {
    super(code, message, { grpcCode });
    this.grpcCode = grpcCode;
  }
}

/** The pfs code each gRPC status stands for (pfs's table read backwards); others: INTERNAL. */
const codeByStatus: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [status.INVALID_ARGUMENT, "INVALID_ARGUMENT"],
  [status.OUT_OF_RANGE, "INVALID_ARGUMENT"],
  [status.NOT_FOUND, "NOT_FOUND"],
  [status.ALREADY_EXISTS, "ALREADY_EXISTS"],
  [status.FAILED_PRECONDITION, "FAILED_PRECONDITION"],
  [status.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED"],
  [status.DATA_LOSS, "DATA_CORRUPTED"],
  [status.UNAVAILABLE, "UNAVAILABLE"],
  [status.DEADLINE_EXCEEDED, "UNAVAILABLE"],
  [status.CANCELLED, "UNAVAILABLE"],
]);

/** The pfs code that a gRPC status stands for. */
export function codeOfStatus(grpcCode: number): ErrorCode {
  return codeByStatus.get(grpcCode) ?? "INTERNAL";
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}

/** The trailer a pfs server adds to every error it sends (pkg/pfs/api/grpc-errors.ts). */
const pfsCodeTrailer = "pfs-code";

/** Whether a pfs server sent `error` (it carries the pfs code), rather than the transport. */
function sentByPfs(error: ServiceError): boolean {
  // A ServiceError built by hand may lack metadata despite its type.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  return (error.metadata?.get(pfsCodeTrailer).length ?? 0) > 0;
}

/**
 * grpc-js's connection failure text without its boilerplate ("connect ECONNREFUSED …"); an
 * OpenSSL error line becomes its reason alone ("TLS: tlsv13 alert certificate required").
 */
function transportReason(details: string): string {
  const cause = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(details);
  const reason = (cause?.[1] ?? details).trim();
  const openssl = /:SSL routines:[^:]*:([^:]+):/.exec(reason);
  return openssl?.[1] === undefined ? reason : `TLS: ${openssl[1]}`;
}

/**
 * The `PfsError` for a failure of `method` against `address`. A `PfsError` passes through
 * unchanged; a gRPC error keeps the server's message; anything else is INTERNAL. With
 * `secure` (whether the channel is TLS) given, an unreachable server's message says which TLS
 * flag is likely missing when the failure looks like a TLS mismatch (client-tls.ts).
 */
export function clientError(error: unknown, method: string, address: string,
  secure?: boolean): PfsError {
  if (error instanceof PfsError) return error;
  if (!isServiceError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new PfsClientError("INTERNAL", `${method}: ${text}`, status.INTERNAL);
  }
  const details = error.details === "" ? error.message : error.details;
  const code = codeOfStatus(error.code);
  // The server's own UNAVAILABLE (a shard master changing, the coordination store down) was
  // reached: its message says what is wrong, and "cannot reach" with a TLS hint would mislead.
  if (error.code === status.UNAVAILABLE && sentByPfs(error)) {
    return new PfsClientError(code, details, error.code);
  }
  switch (error.code) {
    case status.UNAVAILABLE: {
      const reason = transportReason(details);
      const hint = secure === undefined ? "" : transportHint(reason, secure);
      return new PfsClientError(code,
        `cannot reach the pfs API at ${address} (${method}): ${reason}${hint}`, error.code);
    }
    case status.DEADLINE_EXCEEDED:
      return new PfsClientError(code,
        `${method} to ${address} did not answer before its deadline`, error.code);
    case status.UNIMPLEMENTED:
      return new PfsClientError(code,
        `${address} does not serve ${method} (is it a pfsd with --pfs-address?)`, error.code);
    default:
      return new PfsClientError(code, details, error.code);
  }
}

/**
 * The failure of a data call (put, get, wait, subscribe) whose channel did not connect within
 * `deadlineMs`: those calls have no deadline of their own, so without this a server that
 * accepts TCP and never speaks gRPC would hold them forever. `hint` (from `transportHint`)
 * goes after the address when the connection attempts fail rather than hang.
 */
export function notConnectedError(method: string, address: string, deadlineMs: number,
  hint = ""): PfsError {
  return new PfsClientError("UNAVAILABLE",
    `cannot reach the pfs API at ${address} (${method}): no gRPC connection within ` +
    `${deadlineMs} ms${hint}`, status.UNAVAILABLE);
}
