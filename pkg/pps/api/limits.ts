/**
 * The limits of the pipelines API (pkg/pps/api): what one call may read or return. Each error
 * that reports one names it.
 */

/** Most log entries (datum logs) one GetLogs call streams; ask for one job to see the rest. */
export const ppsLogEntriesPerCallMax = 10_000;

/** Most bytes of log text one GetLogs call streams (a datum's log is at most 1 MiB). */
export const ppsLogBytesPerCallMax = 64 * 1024 * 1024;

/** Most jobs one ListJob answer holds (the newest ones); also what ListPipeline scans. */
export const ppsListJobsMax = 10_000;

/** Most keys one deletion transaction removes (etcd's default txn bound is 128 operations). */
export const ppsDeleteKeysPerTxnMax = 100;

/** Deadline of the pipelines API's own calls to this node's pfs API, in milliseconds. */
export const ppsPfsCallDeadlineMs = 30_000;
