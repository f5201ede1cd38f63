/** pkg/pps/metrics: the `pfs_pipeline_*` metrics of a pfsd, read from the coordination store. */
export { type PpsMetricsOptions, PpsMetrics } from "./pps-metrics.js";
export { ppsDatumDurationBucketsSeconds } from "./limits.js";
