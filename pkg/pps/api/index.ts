/**
 * pkg/pps/api: the pipelines API served by every pfsd on its pfs port (pps.API): the handlers,
 * the service behind them (create, update, inspect, list, delete pipelines; list and inspect
 * jobs; datum logs) and its reads and writes of the coordination store.
 */
export * as ppsApiLimits from "./limits.js";
export { parseSpecText } from "./spec-text.js";
export { PipelineStore, type StoredPipeline } from "./pipeline-store.js";
export {
  PipelineService, type PipelineServiceOptions, type PipelineView, type PpsPfsClient,
  type DeletedPipeline, newestFirst, outputRepoDescription,
} from "./pipeline-service.js";
export { JobLogs, type LogEntry, type LogBounds } from "./job-logs.js";
export { jobToWire, pipelineToWire } from "./api-wire.js";
export { ppsApiHandlers, type PpsServices, type ServicesLookup } from "./pps-service.js";
export {
  PpsClient, type PpsClientOptions, jobStateToWire, jobStateOfWire, jobOfWire,
} from "./pps-client.js";
