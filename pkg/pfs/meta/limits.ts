/**
 * The bounds of the metadata layer (STYLE rule 8), named with their unit and why. They live
 * here rather than in pkg/common/limits.ts because only pkg/pfs/meta uses them; relations
 * between them are asserted when the module loads.
 */
import { assert, limits } from "../../common/index.js";

/**
 * Attempts of one metadata change that loses its compare-and-swap to a concurrent writer
 * before it gives up with LIMIT_EXCEEDED. Each attempt re-reads, so a loser normally sees the
 * winner's change and fails with a precise error long before this bound.
 */
export const metaCasAttemptsMax: number = 16;

/** Longest repo name, in characters (Kubernetes-style DNS labels fit). */
export const metaRepoNameCharsMax: number = 63;

/** Longest branch name, in characters. */
export const metaBranchNameCharsMax: number = 128;

/** Longest commit or repo description, in UTF-8 bytes: metadata values stay small in etcd. */
export const metaDescriptionBytesMax: number = 8_192;

/** Longest failure reason kept on a failed commit, in UTF-8 bytes (longer ones are cut). */
export const metaFailureReasonBytesMax: number = 4_096;

/** Commits `listCommits` returns when no limit is asked for. */
export const metaListCommitsDefault: number = 100;

/** Most commits one `listCommits` returns: each costs a read of the parent chain. */
export const metaListCommitsMax: number = 10_000;

/** Most ancestors `branch^N` may walk back. */
export const metaAncestryStepsMax: number = 10_000;

/** Keys read per Range when a listing pages through a prefix (bounds one response's size). */
export const metaRangePageKeys: number = 1_000;

/**
 * Finished commits a subscriber may have waiting before it is cut off with LIMIT_EXCEEDED:
 * a consumer that never reads must not make the process buffer without end.
 */
export const metaSubscribeQueueMax: number = 10_000;

assert(metaListCommitsDefault <= metaListCommitsMax, "list default above its maximum");
assert(metaFailureReasonBytesMax <= metaDescriptionBytesMax, "reason above description bound");
assert(metaCasAttemptsMax >= 2, () => `cas attempts ${metaCasAttemptsMax} < 2`);

/**
 * Most commits one commit's provenance may name. Each one is read and compared in the
 * transaction that starts the commit, beside the repo, branch, commit and parent keys, so the
 * bound keeps that transaction under etcd's max-txn-ops; a pipeline's output commit names one.
 */
export const metaProvenanceCommitsMax: number = 64;

/** Keys startCommit reads and compares besides the provenance: repo, branch, commit, parent. */
export const metaStartCommitKeysOwn: number = 4;

assert(metaProvenanceCommitsMax + metaStartCommitKeysOwn <= limits.etcdTxnOpsMax,
  () => `provenance ${metaProvenanceCommitsMax} + ${metaStartCommitKeysOwn} keys above ` +
    `etcdTxnOpsMax ${limits.etcdTxnOpsMax}`);
