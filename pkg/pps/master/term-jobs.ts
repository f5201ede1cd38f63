/**
 * A master term's copy of the job records, with the indexes that keep job creation unique:
 * never two jobs for one (pipeline, version, input commit), and a version's head job only
 * while that version has no job at all. The term is the only writer of job records, so its
 * copy is current once read at the term's start.
 *
 * Incarnations: a pipeline deleted and created again under the same name starts at version 1
 * again, so a job belongs to the stored pipeline only if it was created at or after the
 * record's `createdMs`; older jobs are of an earlier incarnation (killed if still live, never
 * counted as the new one's). A job's `createdMs` is therefore made later than the record's
 * `updatedMs` even when this node's clock is behind the one that stored the record.
 */
import { assert } from "../../common/index.js";
import type { JobRecord, PipelineRecord } from "../records.js";

export interface TermJobs {
  readonly byId: Map<string, JobRecord>;
  /** `<pipeline>\0<version>\0<input commit>` → the latest createdMs of such a job. */
  readonly seen: Map<string, number>;
  /** `<pipeline>\0<version>` → the latest createdMs of a job of that version. */
  readonly versions: Map<string, number>;
}

export function emptyTermJobs(): TermJobs {
  return { byId: new Map(), seen: new Map(), versions: new Map() };
}

function versionKey(pipeline: string, version: number): string {
  return `${pipeline}\0${version}`;
}

function later(map: Map<string, number>, key: string, createdMs: number): void {
  map.set(key, Math.max(createdMs, map.get(key) ?? -Infinity));
}

/** Adds or replaces `job` in `jobs`. */
export function addJob(jobs: TermJobs, job: JobRecord): void {
  const known = jobs.byId.get(job.id);
  assert(known === undefined || (known.pipeline === job.pipeline &&
    known.inputCommit === job.inputCommit), () => `job ${job.id} changed its identity`);
  jobs.byId.set(job.id, job);
  const version = versionKey(job.pipeline, job.pipelineVersion);
  later(jobs.versions, version, job.createdMs);
  later(jobs.seen, `${version}\0${job.inputCommit}`, job.createdMs);
}

/** Whether `job` belongs to the stored `record` (its version, its incarnation). */
export function isCurrent(job: JobRecord, record: PipelineRecord | undefined): boolean {
  return record !== undefined && job.pipelineVersion === record.version &&
    job.createdMs >= record.createdMs;
}

/** Whether `record`'s version has a job already (for `inputCommit`, or any when absent). */
export function hasJob(jobs: TermJobs, record: PipelineRecord, inputCommit?: string): boolean {
  const version = versionKey(record.spec.name, record.version);
  const createdMs = inputCommit === undefined ? jobs.versions.get(version)
    : jobs.seen.get(`${version}\0${inputCommit}`);
  return createdMs !== undefined && createdMs >= record.createdMs;
}

/**
 * Whether `job` skips nothing: its version asked to reprocess (`--reprocess`) and it is the
 * version's first job (the later ones reuse what that one produced).
 */
export function reprocesses(jobs: TermJobs, job: JobRecord, record: PipelineRecord): boolean {
  if (!record.reprocess) return false;
  return ![...jobs.byId.values()].some((other) => other.pipeline === job.pipeline &&
    isCurrent(other, record) && (other.createdMs < job.createdMs ||
      (other.createdMs === job.createdMs && other.id < job.id)));
}

/** A createdMs for a new job of `record`: after `lastMs`, and after the record was stored. */
export function nextCreatedMs(wallMs: number, lastMs: number, record: PipelineRecord): number {
  return Math.max(wallMs, lastMs + 1, record.updatedMs + 1);
}

/** A new job (state created) of `record`'s version for `inputCommit` ("repo@id"). */
export function newJobRecord(id: string, record: PipelineRecord, inputCommit: string,
  createdMs: number): JobRecord {
  assert(/^[0-9a-f]{32}$/.test(id), () => `job id ${id}`);
  assert(createdMs >= record.createdMs, () => `job created at ${createdMs} before its pipeline`);
  return {
    id, pipeline: record.spec.name, pipelineVersion: record.version, state: "created",
    inputCommit, outputCommit: "", datumsTotal: 0, datumsProcessed: 0, datumsSkipped: 0,
    datumsFailed: 0, createdMs, startedMs: 0, finishedMs: 0, error: "",
  };
}
