/** The limits of pipeline metrics (pkg/pps/metrics). */

/**
 * Buckets of pfs_pipeline_datum_duration_seconds: from a trivial command (~10 ms, a process
 * start) to datum_timeout's scale (an hour).
 */
export const ppsDatumDurationBucketsSeconds: readonly number[] =
  [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
