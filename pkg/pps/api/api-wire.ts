/**
 * The codec between pipeline and job records (records.ts) and pps.API messages, and the checks
 * of request fields before they become store keys: job states become enum names, times decimal
 * strings (STYLE rule 10), a spec its JSON document. Pure.
 */
import { PfsError } from "../../common/index.js";
import { checkRepoName } from "../../pfs/index.js";
import type {
  JobInfoMessage, PipelineInfoMessage,
} from "../../proto/index.js";
import type { JobRecord } from "../records.js";
import { specDocument } from "../spec.js";
import type { PipelineView } from "./pipeline-service.js";
import { jobStateToWire } from "./pps-client.js";

export function jobToWire(job: JobRecord): JobInfoMessage {
  return {
    id: job.id, pipeline: job.pipeline, pipeline_version: job.pipelineVersion,
    state: jobStateToWire(job.state), input_commit: job.inputCommit,
    output_commit: job.outputCommit, datums_total: job.datumsTotal,
    datums_processed: job.datumsProcessed, datums_skipped: job.datumsSkipped,
    datums_failed: job.datumsFailed, created_ms: String(job.createdMs),
    started_ms: String(job.startedMs), finished_ms: String(job.finishedMs), error: job.error,
  };
}

export function pipelineToWire(view: PipelineView): PipelineInfoMessage {
  const { record, lastJob } = view;
  return {
    name: record.spec.name, spec_json: JSON.stringify(specDocument(record.spec)),
    version: record.version, created_ms: String(record.createdMs),
    updated_ms: String(record.updatedMs), reprocess: record.reprocess,
    last_job_id: lastJob?.id ?? "",
    last_job_state: lastJob === undefined ? "JOB_STATE_UNKNOWN" : jobStateToWire(lastJob.state),
  };
}

/** A pipeline name from a request (`field` names it in the error); "" only when `optional`. */
export function requestPipelineName(name: string, field: string, optional = false): string {
  if (name === "" && optional) return name;
  if (name === "") throw new PfsError("INVALID_ARGUMENT", `${field} is required`);
  const checked = checkRepoName(name);
  if (!checked.ok) {
    throw new PfsError("INVALID_ARGUMENT", `${field}: ${checked.error.message}`, { field });
  }
  return name;
}

/** A job id from a request: lowercase hex (what pps makes is 32 digits). */
export function requestJobId(id: string, field: string, optional = false): string {
  if (id === "" && optional) return id;
  if (!/^[0-9a-f]{1,64}$/.test(id)) {
    throw new PfsError("INVALID_ARGUMENT",
      `${field} ${JSON.stringify(id)} is not a job id (lowercase hex)`, { field });
  }
  return id;
}
