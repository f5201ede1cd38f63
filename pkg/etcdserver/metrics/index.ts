/** pkg/etcdserver/metrics: the member's Prometheus metrics and the /livez, /readyz checks. */
export {
  type CheckOutcome, type HealthCheck, HealthChecks, memberReadyChecks,
} from "./health-checks.js";
export { MemberMetrics, type MemberMetricsView } from "./member-metrics.js";
export { type TimedDir, timedSyncIo } from "./timed-sync-io.js";
