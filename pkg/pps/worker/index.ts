/**
 * pkg/pps/worker: the pipeline worker of a node (`PpsWorker`): claims datum tasks, runs them
 * as local processes, stages their outputs and logs in pfs and writes their results (the
 * contract is pkg/pps/keys.ts and task-records.ts).
 */
export * as workerLimits from "./limits.js";
export { PpsWorker, type PpsWorkerOptions, type WorkerPfs } from "./pps-worker.js";
export {
  claimOrder, freeSlots, isLocal, type SeenTask, type ClaimOrderInput,
} from "./claim-order.js";
export {
  JobStager, type JobStagerOptions, type StagingPfs, type BatchOutcome,
} from "./job-stager.js";
export type { DatumRun, DatumFileSource } from "./datum-run.js";
