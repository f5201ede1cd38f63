/**
 * The records pipelines keep in the coordination store (DESIGN.md §5) and their checked
 * decoding: a pipeline (its spec and version) and a job (its state and datum counts). Decoding
 * checks every field (DATA_CORRUPTED names the record); encoding writes exactly the fields, so a
 * decoded record re-encodes to the same bytes. `jobView` is the issue's `pfs list job --json`
 * shape.
 *
 * Job states move only forward: created → running → success | failure | killed, or from
 * created straight to a final state (killed before it ran, or an input that splits into no
 * datum); the final states are final.
 */
import { JsonRecord, PfsError, type Result, err, ok } from "../common/index.js";
import { type PipelineSpec, checkPipelineSpec, specDocument } from "./spec.js";

/** A pipeline as stored: its checked spec, its version (1 at creation, +1 per update). */
export interface PipelineRecord {
  readonly spec: PipelineSpec;
  readonly version: number;
  readonly createdMs: number;
  readonly updatedMs: number;
  /** The update that made this version asked to reprocess every datum (`--reprocess`): the
   *  job it starts skips nothing. False at creation. */
  readonly reprocess: boolean;
}

export const jobStates = ["created", "running", "success", "failure", "killed"] as const;
export type JobState = (typeof jobStates)[number];

/** A job as stored. Commits are "repo@id"; `outputCommit` is "" until it is started. */
export interface JobRecord {
  readonly id: string;
  readonly pipeline: string;
  readonly pipelineVersion: number;
  readonly state: JobState;
  readonly inputCommit: string;
  readonly outputCommit: string;
  readonly datumsTotal: number;
  readonly datumsProcessed: number;
  readonly datumsSkipped: number;
  readonly datumsFailed: number;
  readonly createdMs: number;
  /** When it started running; 0 before. */
  readonly startedMs: number;
  /** When it reached a final state; 0 before. */
  readonly finishedMs: number;
  /** Why it failed or was killed; "" otherwise. */
  readonly error: string;
}

const finalStates: ReadonlySet<JobState> = new Set(["success", "failure", "killed"]);

/** Whether `state` is final. */
export function isFinal(state: JobState): boolean {
  return finalStates.has(state);
}

/** Whether a job may move from `from` to `to`. */
export function canMove(from: JobState, to: JobState): boolean {
  if (isFinal(from)) return false;
  if (from === "created") return to !== "created";
  return isFinal(to);
}

/** `job` moved to `to`, or FAILED_PRECONDITION when the move is not allowed. */
export function moveJob(job: JobRecord, to: JobState, nowMs: number, error = ""):
  Result<JobRecord, PfsError> {
  if (!canMove(job.state, to)) {
    return err(new PfsError("FAILED_PRECONDITION",
      `job ${job.id} is ${job.state}; it cannot become ${to}`, { job: job.id }));
  }
  return ok({
    ...job, state: to,
    startedMs: to === "running" ? nowMs : job.startedMs,
    finishedMs: isFinal(to) ? nowMs : job.finishedMs,
    error: isFinal(to) && to !== "success" ? error : "",
  });
}

function reprocessField(record: JsonRecord): boolean {
  const value = record.raw("reprocess");
  if (typeof value !== "boolean") throw record.corrupted("reprocess", "a boolean");
  return value;
}

export function encodePipeline(record: PipelineRecord): Buffer {
  return Buffer.from(JSON.stringify({
    spec: specDocument(record.spec), version: record.version, createdMs: record.createdMs,
    updatedMs: record.updatedMs, reprocess: record.reprocess,
  }));
}

export function decodePipeline(key: string, bytes: Uint8Array): PipelineRecord {
  const record = JsonRecord.parse(`pipeline record ${key}`, bytes);
  const spec = checkPipelineSpec(record.raw("spec"));
  if (!spec.ok) throw record.corrupted("spec", `a valid spec (${spec.error.message})`);
  return {
    spec: spec.value, version: record.count("version"), createdMs: record.count("createdMs"),
    updatedMs: record.count("updatedMs"), reprocess: reprocessField(record),
  };
}

export function encodeJob(job: JobRecord): Buffer {
  return Buffer.from(JSON.stringify({
    id: job.id, pipeline: job.pipeline, pipelineVersion: job.pipelineVersion, state: job.state,
    inputCommit: job.inputCommit, outputCommit: job.outputCommit,
    datumsTotal: job.datumsTotal, datumsProcessed: job.datumsProcessed,
    datumsSkipped: job.datumsSkipped, datumsFailed: job.datumsFailed,
    createdMs: job.createdMs, startedMs: job.startedMs, finishedMs: job.finishedMs,
    error: job.error,
  }));
}

export function decodeJob(key: string, bytes: Uint8Array): JobRecord {
  const record = JsonRecord.parse(`job record ${key}`, bytes);
  return {
    id: record.string("id"), pipeline: record.string("pipeline"),
    pipelineVersion: record.count("pipelineVersion"), state: record.oneOf("state", jobStates),
    inputCommit: record.string("inputCommit"), outputCommit: record.string("outputCommit"),
    datumsTotal: record.count("datumsTotal"), datumsProcessed: record.count("datumsProcessed"),
    datumsSkipped: record.count("datumsSkipped"), datumsFailed: record.count("datumsFailed"),
    createdMs: record.count("createdMs"), startedMs: record.count("startedMs"),
    finishedMs: record.count("finishedMs"), error: record.string("error"),
  };
}

/** A job as `pfs list job --json` and `pfs inspect job --json` show it (snake_case). */
export function jobView(job: JobRecord): Readonly<Record<string, string | number>> {
  return {
    id: job.id, pipeline: job.pipeline, pipeline_version: job.pipelineVersion,
    state: job.state, input_commit: job.inputCommit, output_commit: job.outputCommit,
    datums_total: job.datumsTotal, datums_processed: job.datumsProcessed,
    datums_skipped: job.datumsSkipped, datums_failed: job.datumsFailed,
    created_ms: job.createdMs, started_ms: job.startedMs, finished_ms: job.finishedMs,
    error: job.error,
  };
}
