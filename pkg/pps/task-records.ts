/**
 * The records a running job keeps in the coordination store (keys.ts), and where its data lies
 * in pfs while it runs. The contract between the pps master (writes tasks, reads results,
 * assembles the output) and the workers (claim tasks, run datums, stage outputs, write results).
 *
 * Staging (why outputs do not go straight into the output commit): data put into an open
 * commit has one copy, on its shard's master, until the commit finishes, so a master change
 * would lose it. A worker therefore stages the outputs of the datums it runs in commits of its
 * own, on the branch `stagingBranch(job, node)` of the output repo, and finishes such a
 * commit (replicated, durable) before it writes those datums' results. In a staging commit the
 * output `/p` of a datum lies at `/out/p` and the datum's log at `/log/<datum id>`. The master
 * copies (server-side, chunks shared) from the staged commits into the output commit when
 * every datum has a result, and the logs into the job's commit on the output repo's `logs`
 * branch at `/<job id>/<datum id>.log`, with an index of the datums (root, node, outcome) at
 * `/<job id>/datums.json`.
 *
 * Decoding checks every field (DATA_CORRUPTED names the record); encoding writes exactly the
 * fields, so a decoded record re-encodes to the same bytes.
 */
import { JsonRecord } from "../common/index.js";
import type { Datum, DatumFile } from "./datum.js";

/** The output repo's branch that holds the pipeline's logs (one commit per job). */
export const logsBranch = "logs";

/** The branch of the output repo where `node` stages the outputs of job `jobId`. */
export function stagingBranch(jobId: string, node: string): string {
  return `stage-${jobId}-${node}`;
}

/** Where the output `path` ("/p") of a datum lies in a staging commit. */
export function stagedOutputPath(path: string): string {
  return `/out${path}`;
}

/** Where the log of datum `datumId` lies in a staging commit. */
export function stagedLogPath(datumId: string): string {
  return `/log/${datumId}`;
}

/** Where the log of datum `datumId` of job `jobId` lies in the `logs` branch's commits. */
export function logPath(jobId: string, datumId: string): string {
  return `/${jobId}/${datumId}.log`;
}

/**
 * Where the index of job `jobId`'s datum logs lies in the `logs` branch's commits, beside the
 * logs: what the results said of each datum (they are deleted when the job ends), so a final
 * job's logs still name each datum's root and the node it ran on.
 */
export function logIndexPath(jobId: string): string {
  return `/${jobId}/datums.json`;
}

/** One datum of a log index. */
export interface LogIndexEntry {
  readonly datumId: string;
  readonly root: string;
  readonly node: string;
  readonly ok: boolean;
  readonly attempts: number;
}

/** A datum task waiting to run. Written by the master; deleted with the datum's result. */
export interface DatumTaskRecord {
  readonly jobId: string;
  readonly pipeline: string;
  /** Its files, as splitDatums gave them. */
  readonly datum: Datum;
  /** "repo@commit id": where its files are read. */
  readonly inputCommit: string;
  /** The shards of its files (pkg/pfs `shardOf`), sorted, each once: a worker on a node
   *  holding a replica of one of them claims it first. */
  readonly shards: readonly number[];
  readonly createdMs: number;
}

/** A worker's claim on a task (on the worker's lease). */
export interface DatumClaimRecord {
  readonly node: string;
  readonly claimedMs: number;
}

/** How a datum ended. Written by the worker that ran it, when its staging commit finished. */
export interface DatumResultRecord {
  readonly jobId: string;
  readonly datumId: string;
  /** The datum's root (what error messages name). */
  readonly root: string;
  readonly ok: boolean;
  /** The node it ran on. */
  readonly node: string;
  /** Attempts made on that node (1 … datum_tries). */
  readonly attempts: number;
  /** The pfs paths it wrote ("/p"), sorted; [] when it failed. */
  readonly outputs: readonly string[];
  /** "repo@commit id" of the finished staging commit holding its outputs and its log. */
  readonly staged: string;
  /** Why its last attempt failed; "" when ok. */
  readonly error: string;
  readonly durationMs: number;
  readonly finishedMs: number;
}

/** A datum key's successful outputs, reusable by a later job whose datum has the same key. */
export interface SkipRecord {
  readonly datumId: string;
  readonly root: string;
  /** "repo@commit id" of the finished output commit that holds `outputs` at their paths. */
  readonly outputCommit: string;
  readonly outputs: readonly string[];
}

function strings(record: JsonRecord, name: string): readonly string[] {
  const value = record.raw(name);
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === "string")) {
    throw record.corrupted(name, "a list of strings");
  }
  return value;
}

function counts(record: JsonRecord, name: string): readonly number[] {
  const value = record.raw(name);
  const isCount = (item: unknown): item is number =>
    typeof item === "number" && Number.isSafeInteger(item) && item >= 0;
  if (!Array.isArray(value) || !value.every(isCount)) {
    throw record.corrupted(name, "a list of non-negative integers");
  }
  return value;
}

function flag(record: JsonRecord, name: string): boolean {
  const value = record.raw(name);
  if (typeof value !== "boolean") throw record.corrupted(name, "a boolean");
  return value;
}

function decodeDatum(record: JsonRecord): Datum {
  const datum = JsonRecord.of(`${record.what} datum`, record.raw("datum"));
  const files = datum.raw("files");
  if (!Array.isArray(files)) throw datum.corrupted("files", "a list");
  return {
    id: datum.string("id"), root: datum.string("root"), sizeBytes: datum.count("sizeBytes"),
    files: files.map((value: unknown, index: number): DatumFile => {
      const file = JsonRecord.of(`${datum.what} file ${index}`, value);
      return { path: file.string("path"), size: file.count("size"), hash: file.string("hash") };
    }),
  };
}

export function encodeDatumTask(task: DatumTaskRecord): Buffer {
  const datum = task.datum;
  return Buffer.from(JSON.stringify({
    jobId: task.jobId, pipeline: task.pipeline,
    datum: {
      id: datum.id, root: datum.root, sizeBytes: datum.sizeBytes,
      files: datum.files.map((file) => ({ path: file.path, size: file.size, hash: file.hash })),
    },
    inputCommit: task.inputCommit, shards: task.shards, createdMs: task.createdMs,
  }));
}

export function decodeDatumTask(key: string, bytes: Uint8Array): DatumTaskRecord {
  const record = JsonRecord.parse(`datum task ${key}`, bytes);
  return {
    jobId: record.string("jobId"), pipeline: record.string("pipeline"),
    datum: decodeDatum(record), inputCommit: record.string("inputCommit"),
    shards: counts(record, "shards"), createdMs: record.count("createdMs"),
  };
}

export function encodeDatumClaim(claim: DatumClaimRecord): Buffer {
  return Buffer.from(JSON.stringify({ node: claim.node, claimedMs: claim.claimedMs }));
}

export function decodeDatumClaim(key: string, bytes: Uint8Array): DatumClaimRecord {
  const record = JsonRecord.parse(`datum claim ${key}`, bytes);
  return { node: record.string("node"), claimedMs: record.count("claimedMs") };
}

export function encodeDatumResult(result: DatumResultRecord): Buffer {
  return Buffer.from(JSON.stringify({
    jobId: result.jobId, datumId: result.datumId, root: result.root, ok: result.ok,
    node: result.node, attempts: result.attempts, outputs: result.outputs,
    staged: result.staged, error: result.error, durationMs: result.durationMs,
    finishedMs: result.finishedMs,
  }));
}

export function decodeDatumResult(key: string, bytes: Uint8Array): DatumResultRecord {
  const record = JsonRecord.parse(`datum result ${key}`, bytes);
  return {
    jobId: record.string("jobId"), datumId: record.string("datumId"),
    root: record.string("root"), ok: flag(record, "ok"), node: record.string("node"),
    attempts: record.count("attempts"), outputs: strings(record, "outputs"),
    staged: record.string("staged"), error: record.string("error"),
    durationMs: record.count("durationMs"), finishedMs: record.count("finishedMs"),
  };
}

export function encodeSkip(skip: SkipRecord): Buffer {
  return Buffer.from(JSON.stringify({
    datumId: skip.datumId, root: skip.root, outputCommit: skip.outputCommit,
    outputs: skip.outputs,
  }));
}

export function decodeSkip(key: string, bytes: Uint8Array): SkipRecord {
  const record = JsonRecord.parse(`skip record ${key}`, bytes);
  return {
    datumId: record.string("datumId"), root: record.string("root"),
    outputCommit: record.string("outputCommit"), outputs: strings(record, "outputs"),
  };
}

export function encodeLogIndex(entries: readonly LogIndexEntry[]): Buffer {
  return Buffer.from(JSON.stringify({
    datums: entries.map((entry) => ({
      datumId: entry.datumId, root: entry.root, node: entry.node, ok: entry.ok,
      attempts: entry.attempts,
    })),
  }));
}

export function decodeLogIndex(key: string, bytes: Uint8Array): readonly LogIndexEntry[] {
  const record = JsonRecord.parse(`log index ${key}`, bytes);
  const datums = record.raw("datums");
  if (!Array.isArray(datums)) throw record.corrupted("datums", "a list");
  return datums.map((value: unknown, index: number): LogIndexEntry => {
    const entry = JsonRecord.of(`${record.what} datum ${index}`, value);
    return {
      datumId: entry.string("datumId"), root: entry.string("root"), node: entry.string("node"),
      ok: flag(entry, "ok"), attempts: entry.count("attempts"),
    };
  });
}
