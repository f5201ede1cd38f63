/**
 * The bounds and delays of the pps master (pkg/pps/master). Each is named here with its unit
 * and why it has its value; the relations between them are asserted below, at load.
 */
import { assert } from "../../common/index.js";

/** TTL of the master's election lease: a dead master's term ends within it. */
export const ppsMasterLeaseTtlSecondsDefault: number = 10;

/** Pause before campaigning again after a term ended (lost lease, deposed, a failure). */
export const ppsMasterRecampaignMs: number = 1_000;

/**
 * Most operations in one fenced transaction of the master (the fence compare aside): etcd
 * refuses a txn of more than 128 operations, so batches stay well below it.
 */
export const ppsMasterTxnOpsMax: number = 100;

/**
 * Least time between two progress writes (datumsProcessed, datumsFailed) of one running job:
 * a job of 10,000 fast datums must not write its record 10,000 times.
 */
export const ppsMasterProgressWriteMs: number = 1_000;

/**
 * Output commits a job may start and fail to finish (a shard master changed under the open
 * commit) before the job fails: each retry copies every output again.
 */
export const ppsMasterAssembleAttemptsMax: number = 3;

/**
 * Least time between the starts of two rounds of the master's loop: results of a big job
 * arrive by the thousand, and each round counts every running job's results, so rounds are
 * paced instead of run once per arriving result.
 */
export const ppsMasterRoundMinMs: number = 50;

/** Pause before a pipeline's step that failed (the store or pfs unreachable) runs again. */
export const ppsMasterRetryMs: number = 1_000;

/** Pause before a pipeline's input subscription that ended with an error is opened again. */
export const ppsMasterSubscribeRetryMs: number = 1_000;

/** Copies (CopyFile calls) one job's assembly keeps in flight at once. */
export const ppsMasterCopiesInFlightMax: number = 16;

/** Skip records read at once (one paged range read) when a job starts. */
export const ppsMasterSkipReadPageMax: number = 1_000;

/**
 * Commits of an input branch's history (newest first) searched for the head a new pipeline
 * version starts from: the newest one finished before the version was stored.
 */
export const ppsMasterHeadSearchCommitsMax: number = 1_000;

/** How long a stray finishing commit on an output or logs branch is waited for (ms). */
export const ppsMasterFinishingWaitMs: number = 30_000;

assert(ppsMasterTxnOpsMax < 128, () => `ppsMasterTxnOpsMax ${ppsMasterTxnOpsMax} ≥ 128`);
assert(ppsMasterRecampaignMs < ppsMasterLeaseTtlSecondsDefault * 1_000,
  "the master campaigns again well within a lease TTL");
assert(ppsMasterAssembleAttemptsMax >= 1, "a job assembles at least once");
