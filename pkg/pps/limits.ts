/**
 * The limits of pipelines (pkg/pps). Every bound a spec or a job is checked against has a name
 * here; the error that reports it names it.
 */

/** Largest pipeline spec accepted, in bytes of its JSON or YAML text. */
export const ppsSpecBytesMax = 256 * 1024;

/** Most arguments in `transform.cmd` (the command itself included). */
export const ppsCmdArgsMax = 256;

/** Most lines in `transform.stdin`. */
export const ppsStdinLinesMax = 4_096;

/** Most variables in `transform.env`. */
export const ppsEnvVarsMax = 256;

/** Largest single string in a spec (an argument, a stdin line, an env value), in bytes. */
export const ppsSpecStringBytesMax = 64 * 1024;

/** Largest `description`, in bytes. */
export const ppsDescriptionBytesMax = 4_096;

/** Largest `parallelism`: datums of one pipeline running at once across the cluster. */
export const ppsParallelismMax = 256;

/** Largest `datum_tries`. */
export const ppsDatumTriesMax = 100;

/** Default `datum_tries` when the spec gives none (Pachyderm's default). */
export const ppsDatumTriesDefault = 3;

/** Default `parallelism` when the spec gives none. */
export const ppsParallelismDefault = 1;

/** Longest `datum_timeout`: one day, in seconds. */
export const ppsDatumTimeoutSecondsMax = 86_400;

/** Most pipelines one cluster holds (each one watches its input branch). */
export const ppsPipelinesMax = 1_024;

/** Most datums one job splits into (the benchmark runs 10,000). */
export const ppsDatumsPerJobMax = 200_000;

/** Most bytes of a datum attempt's log (stdout and stderr) kept; the rest is cut with a note. */
export const ppsDatumLogBytesMax = 1024 * 1024;

/** Most files one datum may write under `$PFS_OUT`. */
export const ppsDatumOutputFilesMax = 100_000;

/** Grace between SIGTERM and SIGKILL when a datum attempt is timed out or killed (ms). */
export const ppsDatumKillGraceMs = 2_000;
