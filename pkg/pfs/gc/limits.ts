/**
 * The bounds and delays of a node's garbage collection (STYLE rule 8), each with why it has its
 * value. The collection interval itself is pfsd's `--pfs-gc-interval` (pkg/common
 * pfsd-config.ts holds its default, `pfsGcIntervalSecondsDefault`).
 */
import { assert } from "../../common/index.js";

/**
 * How long the files of a commit the metadata does not know must stay untouched before they
 * are dropped, in milliseconds. The order of a reconcile (list the shard's commits, then read
 * the metadata) already protects a commit being created (its record is written before any of
 * its files); this is the second line of defence, against a metadata read that is served
 * late, and it costs only that a leftover of a deleted commit waits this long.
 */
export const gcUnknownCommitGraceMs: number = 30_000;

/**
 * Delay between seeing a deletion (a repo or a commit deleted, a commit failed) on the
 * metadata watch and collecting, in milliseconds: a burst of deletions becomes one run.
 */
export const gcAfterDeleteDelayMs: number = 2_000;

/** Commit keys read per metadata transaction (well under etcd's --max-txn-ops of 128). */
export const gcMetaReadKeysMax: number = 64;

/**
 * Deadline of a CollectGarbage call to another node, in milliseconds: a collection reads every
 * manifest and staging log of the shard, so it may take much longer than a data-less call.
 */
export const gcCallDeadlineMs: number = 30 * 60_000;

assert(gcMetaReadKeysMax >= 1 && gcMetaReadKeysMax <= 128,
  () => `gcMetaReadKeysMax ${gcMetaReadKeysMax} is within etcd's txn ops`);
assert(gcUnknownCommitGraceMs >= 0 && gcAfterDeleteDelayMs >= 0, "delays are not negative");
