/**
 * The bounds of a pipeline worker (pkg/pps/worker), each named with its unit and why.
 * Relations between them are asserted when the module loads, so an inconsistent edit fails at
 * start-up.
 */
import { assert } from "../../common/index.js";

/**
 * Datums one node runs at once when the options give no `concurrency`. Each is a child
 * process plus a staging put; two keep a node busy while one of them waits on pfs.
 */
export const ppsWorkerConcurrencyDefault: number = 2;

/** Largest `concurrency` accepted: each running datum holds a process, files and a slot. */
export const ppsWorkerConcurrencyMax: number = 64;

/**
 * TTL of a worker's lease, in seconds. A dead worker's claims and slots go with it, so its
 * datums run elsewhere about this long after it died; a longer TTL survives longer stalls.
 */
export const ppsWorkerLeaseTtlSecondsDefault: number = 10;

/** Smallest lease TTL: etcd raises any lease below 2 s to 2 s anyway. */
export const ppsWorkerLeaseTtlSecondsMin: number = 2;

/**
 * How long a task waits before a node holding none of its shards may claim it, in
 * milliseconds: replica holders (which read its files locally) go first, yet no task waits
 * for ever when every holder is busy or gone.
 */
export const ppsRemoteClaimDelayMs: number = 1_500;

/**
 * Datums put into one staging commit before it is finished. Finishing replicates the commit
 * (a round trip per shard); batching amortizes it, at the cost of rerunning the whole batch
 * when the commit cannot finish.
 */
export const ppsStagingBatchDatumsMax: number = 32;

/**
 * Oldest a staging commit gets before it is finished even though more work of its job is
 * queued here, in milliseconds: results (and so the job's progress) are never held back long.
 */
export const ppsStagingBatchAgeMs: number = 2_000;

/**
 * Period of the worker's scheduling pass when nothing changes, in milliseconds: it lets
 * delayed (remote) tasks become claimable and retries claims that failed on a store error.
 */
export const ppsWorkerPassMs: number = 500;

/** Wait before a worker whose lease was lost or could not be granted tries again (ms). */
export const ppsWorkerLeaseRetryMs: number = 1_000;

/** Tasks one scheduling pass tries to claim before it yields (each try is a transaction). */
export const ppsClaimTriesPerPassMax: number = 64;

assert(ppsWorkerConcurrencyDefault >= 1 &&
  ppsWorkerConcurrencyDefault <= ppsWorkerConcurrencyMax, "default concurrency out of range");
assert(ppsWorkerLeaseTtlSecondsDefault >= ppsWorkerLeaseTtlSecondsMin,
  "default worker lease below the minimum");
assert(ppsWorkerPassMs < ppsRemoteClaimDelayMs,
  "the pass must run more often than the remote delay, or remote claims wait a whole pass");
assert(ppsStagingBatchDatumsMax >= 1, "a staging batch holds at least one datum");
