/**
 * pkg/pps: pipelines (DESIGN.md §5). A pipeline turns each finished commit of its input branch
 * into a job, whose datums (the glob's split of the commit) run as local processes, and whose
 * outputs form one output commit with provenance. Depends on pfs, never the reverse.
 */
export * from "./limits.js";
export {
  type PipelineInput,
  type PipelineTransform,
  type PipelineSpec,
  reservedEnvNames,
  checkPipelineSpec,
  parseDatumTimeout,
  specDocument,
  specError,
} from "./spec.js";
export { checkAcyclic, readersOf } from "./dag.js";
export { type DatumFile, type Datum, splitDatums, transformKey, datumKey } from "./datum.js";
export {
  type DatumAttempt, type DatumOutput, type DatumAttemptResult, runDatumAttempt,
} from "./datum-runner.js";
export {
  type PipelineRecord, type JobRecord, type JobState, jobStates, isFinal, canMove, moveJob,
  encodePipeline, decodePipeline, encodeJob, decodeJob, jobView,
} from "./records.js";
export { PpsKeys, ppsRootDefault, ppsMasterElection } from "./keys.js";
export * from "./task-records.js";
export {
  PipelineService, PipelineStore, JobLogs, type LogEntry, type PipelineView, parseSpecText,
  ppsApiHandlers, ppsApiLimits, jobToWire, pipelineToWire,
} from "./api/index.js";
export {
  PpsNode, type PpsNodeOptions, type PpsAttachment, type PpsParts, type PpsPartOptions,
  type PpsWorkerPartOptions, type PpsMasterPart, type PpsWorkerPart, ppsPartsDefault,
} from "./pps-node.js";
export { PpsMaster, type PpsMasterOptions, type PpsMasterStats } from "./master/index.js";
export { PpsWorker, type PpsWorkerOptions } from "./worker/index.js";
