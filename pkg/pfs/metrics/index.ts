/** pkg/pfs/metrics: the pfs node's Prometheus metrics (pfs-metrics.ts). */
export { PfsMetrics, type PfsMetricsOptions, type ShardStanding } from "./pfs-metrics.js";
