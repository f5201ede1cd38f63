/**
 * A master term's copy of the job records, with the indexes that keep job creation unique:
 * never two jobs for one (pipeline, version, input commit), and a version's head job only
 * while that version has no job at all. The term is the only writer of job records, so its
 * copy is current once read at the term's start.
 */
import { assert } from "../../common/index.js";
import type { JobRecord, PipelineRecord } from "../records.js";

export interface TermJobs {
  readonly byId: Map<string, JobRecord>;
  /** `<pipeline>\0<version>\0<input commit>` of every job. */
  readonly seen: Set<string>;
  /** `<pipeline>\0<version>` of every job. */
  readonly versions: Set<string>;
}

/** Adds or replaces `job` in `jobs`. */
export function addJob(jobs: TermJobs, job: JobRecord): void {
  const known = jobs.byId.get(job.id);
  assert(known === undefined || (known.pipeline === job.pipeline &&
    known.inputCommit === job.inputCommit), () => `job ${job.id} changed its identity`);
  jobs.byId.set(job.id, job);
  const version = `${job.pipeline}\0${job.pipelineVersion}`;
  jobs.versions.add(version);
  jobs.seen.add(`${version}\0${job.inputCommit}`);
}

/** A new job (state created) of `record`'s version for `inputCommit` ("repo@id"). */
export function newJobRecord(id: string, record: PipelineRecord, inputCommit: string,
  createdMs: number): JobRecord {
  assert(/^[0-9a-f]{32}$/.test(id), () => `job id ${id}`);
  return {
    id, pipeline: record.spec.name, pipelineVersion: record.version, state: "created",
    inputCommit, outputCommit: "", datumsTotal: 0, datumsProcessed: 0, datumsSkipped: 0,
    datumsFailed: 0, createdMs, startedMs: 0, finishedMs: 0, error: "",
  };
}
