/**
 * The bounds and fixed buckets of the metrics and health endpoints (--listen-metrics-urls),
 * named with their unit last (STYLE rule 8). They live here, next to their only users.
 */

/**
 * Upper bounds of etcd's disk histograms (etcd_disk_wal_fsync_duration_seconds and
 * etcd_disk_backend_commit_duration_seconds): 1 ms doubling 14 times, to about 8 s. Kept
 * identical to etcd's so dashboards and alerts written for etcd read ours unchanged.
 */
export const diskDurationBucketsSeconds: readonly number[] =
  Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i);

/**
 * Upper bounds of the propose → applied histogram: 1 ms doubling up to about 16 s, past the
 * 7 s request timeout (raftRequestTimeoutMs) so a timed-out-but-applied proposal still lands
 * in a finite bucket.
 */
export const proposalDurationBucketsSeconds: readonly number[] =
  Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);

/**
 * How long one readiness or liveness check may take before it counts as failed: a probe
 * (kubelet's default timeout is 1 s) must get an answer, not hang with a stuck check.
 */
export const healthCheckTimeoutMs: number = 900;

/**
 * The event-loop delay at which /livez fails: a loop this late answering a timer is wedged
 * (a stall of seconds already breaks Raft heartbeats; this is far past that, so a busy but
 * working process is never restarted for being slow).
 */
export const livezLoopDelayMsMax: number = 5_000;
