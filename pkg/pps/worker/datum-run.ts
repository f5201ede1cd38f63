/**
 * Runs one claimed datum on this node: up to `datum_tries` attempts (runDatumAttempt), each
 * in a fresh work directory under the worker's root, its input files fetched from pfs at the
 * task's input commit. An aborted attempt (job killed, lease lost, worker closing) is not
 * retried.
 *
 * The datum's log is every attempt's output, each after a header line naming the attempt and
 * the node, so a datum that failed three times shows all three. Work directories of failed
 * attempts are removed at once; the successful one holds the outputs until the caller has
 * staged them and calls `dispose()`.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { type Clock, PfsError, assert } from "../../common/index.js";
import type { FileRefMessage } from "../../proto/index.js";
import type { DatumFile } from "../datum.js";
import { type DatumAttemptResult, type DatumOutput, runDatumAttempt } from "../datum-runner.js";
import type { PipelineSpec } from "../spec.js";
import type { DatumTaskRecord } from "../task-records.js";

/** The one pfs call a datum run makes. */
export interface DatumFileSource {
  getFile(file: FileRefMessage, out: Writable): Promise<bigint>;
}

export interface DatumRunOptions {
  readonly spec: PipelineSpec;
  readonly task: DatumTaskRecord;
  readonly node: string;
  /** The worker's own directory; attempts get subdirectories of it. */
  readonly workRoot: string;
  readonly pfs: DatumFileSource;
  readonly signal: AbortSignal;
  readonly clock: Clock;
}

/** How the datum ended on this node. */
export interface DatumRun {
  readonly ok: boolean;
  /** The run was aborted: no result is to be written. */
  readonly aborted: boolean;
  readonly attempts: number;
  /** The successful attempt's outputs; [] otherwise. */
  readonly outputs: readonly DatumOutput[];
  readonly log: Buffer;
  /** Why the last attempt failed; "" when ok. */
  readonly error: string;
  readonly durationMs: number;
  /** Removes the work directory that still holds the outputs. */
  dispose(): Promise<void>;
}

/** Splits "repo@commit id" (repo names hold no "@"). */
export function splitCommit(ref: string): { readonly repo: string; readonly commit: string } {
  const at = ref.indexOf("@");
  if (at <= 0 || at === ref.length - 1) {
    throw new PfsError("INVALID_ARGUMENT", `commit ${JSON.stringify(ref)} is not repo@id`);
  }
  return { repo: ref.slice(0, at), commit: ref.slice(at + 1) };
}

function fetcher(pfs: DatumFileSource, inputCommit: string):
  (file: DatumFile, destination: string) => Promise<void> {
  const { repo, commit } = splitCommit(inputCommit);
  return async (file, destination) => {
    const bytes = await pfs.getFile({ commit: { repo, commit }, path: file.path },
      createWriteStream(destination));
    if (bytes !== BigInt(file.size)) {
      throw new PfsError("DATA_CORRUPTED", `${inputCommit}:${file.path} gave ${bytes} bytes, ` +
        `its listing said ${file.size}`);
    }
  };
}

function attemptHeader(attempt: number, tries: number, node: string): Buffer {
  return Buffer.from(`[pfs: attempt ${attempt} of ${tries} on ${node}]\n`);
}

/** Runs the datum; never throws for a failing command or a failing fetch. */
export async function runDatum(options: DatumRunOptions): Promise<DatumRun> {
  const { spec, task, node, signal } = options;
  assert(spec.datumTries >= 1, () => `datum_tries ${spec.datumTries}`);
  const started = options.clock.nowMs();
  const logs: Buffer[] = [];
  const fetch = fetcher(options.pfs, task.inputCommit);
  let last: DatumAttemptResult | undefined;
  let attempts = 0;
  let workDir = "";
  while (attempts < spec.datumTries && !signal.aborted) {
    attempts += 1;
    workDir = join(options.workRoot, `${task.jobId}-${task.datum.id.slice(0, 16)}-${attempts}`);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    last = await runDatumAttempt({ spec, datum: task.datum, jobId: task.jobId, workDir, fetch,
      signal }).catch((error: unknown) => failedAttempt(error));
    logs.push(attemptHeader(attempts, spec.datumTries, node), last.log);
    if (last.ok) break;
    await rm(workDir, { recursive: true, force: true });
  }
  const ok = last?.ok === true;
  const kept = ok ? workDir : "";
  return {
    ok, aborted: !ok && (signal.aborted || last?.aborted === true), attempts,
    outputs: ok ? last?.outputs ?? [] : [], log: Buffer.concat(logs),
    error: ok ? "" : last?.error ?? "aborted before its first attempt",
    durationMs: Math.round(options.clock.nowMs() - started),
    dispose: async () => {
      if (kept !== "") await rm(kept, { recursive: true, force: true });
    },
  };
}

/** An attempt that failed before its command ran (a fetch from pfs failed, a disk error). */
function failedAttempt(error: unknown): DatumAttemptResult {
  const message = error instanceof Error ? error.message : String(error);
  const line = `cannot prepare the attempt: ${message}`;
  return {
    ok: false, error: line, exitCode: null, timedOut: false, aborted: false, outputs: [],
    log: Buffer.from(`[pfs: ${line}]\n`), durationMs: 0,
  };
}
