/**
 * The bounds of replica placement, node health and shard-master election (STYLE rule 8),
 * each named with its unit and why. Relations between them are asserted when the module loads.
 * The cluster-wide knobs (shard count, R, master lease TTL, dead time) stay in
 * pkg/common/limits.ts; these are the replication layer's own.
 */
import { assert, limits } from "../../common/index.js";

/**
 * Replicas one placement round may move to even out the load, once every shard has its R
 * replicas. Each move starts a catch-up that copies a whole shard, so a round moves few and
 * the controller waits `rebalanceRoundMs` before the next one.
 */
export const rebalanceMovesPerRoundMax: number = 4;

/** Pause between two rebalancing rounds of the placement controller, in milliseconds. */
export const rebalanceRoundMs: number = 5_000;

/**
 * TTL of the placement controller's election lease, in seconds. A crashed controller is
 * replaced this long after; the map changes on the scale of the dead time, so this need not
 * be short.
 */
export const controllerLeaseTtlSeconds: number = 5;

/** Wait before a controller that lost its lease campaigns again, in milliseconds. */
export const controllerRecampaignMs: number = 1_000;

/**
 * Attempts of one placement round whose transaction loses a race on the map's revision
 * (somebody else wrote the map between our read and our write) before the round gives up;
 * the next change or timer starts a new round.
 */
export const placementTxnAttemptsMax: number = 4;

/** Most nodes the controller tracks (online, offline and faulty): bounds the map's size. */
export const nodesMax: number = 1_024;

/**
 * Longest encoded replica map, in bytes: S × R node names of at most 63 characters plus
 * quoting must fit one etcd request (1.5 MiB) with room for the health records.
 */
export const replicaMapBytesMax: number = 1024 * 1024;

assert(rebalanceMovesPerRoundMax >= 1, "a rebalancing round must move at least one replica");
assert(controllerLeaseTtlSeconds >= limits.pfsMasterLeaseTtlSecondsMin,
  () => `controller lease ${controllerLeaseTtlSeconds} s below etcd's 2 s minimum`);
assert(controllerRecampaignMs < controllerLeaseTtlSeconds * 1_000,
  "a deposed controller must campaign again well within one lease");
assert(limits.pfsShardsMax * limits.pfsReplicasMax * 66 < replicaMapBytesMax,
  "the largest replica map must fit its byte bound");

/**
 * Offline records one placement round creates or deletes; the rest wait for the next round.
 * A round is one transaction and etcd refuses more than 128 operations in one (--max-txn-ops).
 */
export const healthRecordWritesPerRoundMax: number = 64;

assert(healthRecordWritesPerRoundMax + 1 < 128, "a round's writes must fit etcd's txn op limit");

/**
 * Commits whose staged-on mark one master term remembers (hosted-shard.ts); past it the set
 * starts over, which costs one more fenced transaction per commit, never a wrong answer.
 */
export const stagedMarksMax: number = 65_536;

/**
 * Longest wait of a write or finish for a shard that has no master, in milliseconds: a failover
 * takes about one master lease TTL plus an election; this covers a few of them.
 */
export const masterWaitMs: number = 20_000;

/** Pause before a replica that could not campaign (not up to date, store down) tries again. */
export const candidateRetryMs: number = 500;

/** Attempts of one read on the replicas of a shard before it fails (each replica once first). */
export const readAttemptsMax: number = 6;

/**
 * How long the map's k-th replica of a shard with no master waits (k times this, in ms) before
 * it campaigns while an earlier-listed replica is live, so masters spread like the map does.
 */
export const preferredMasterDelayMs: number = 300;

/**
 * Longest wait of a write that reached the node its shard's election names master before that
 * node's campaign returned (it reads its key back and re-checks the shard), in milliseconds.
 */
export const electionSettleMs: number = 5_000;

/** Poll interval of that wait, in milliseconds. */
export const electionSettlePollMs: number = 20;

/** Renewals of a node's master session lease per TTL (etcd's clients renew every TTL/3). */
export const renewalsPerLease: number = 3;

/**
 * Most finished commits one node's finished-commit index holds (finished-commits.ts): one
 * string `<repo>/<id>` of at most 96 characters each, so about 100 to 200 MB at the bound.
 * A store with more is an operating error the index reports (LIMIT_EXCEEDED) instead of
 * acting on a partial view.
 */
export const finishedCommitsIndexedMax: number = 1_000_000;

/** Pause before the finished-commit index reloads after its watch failed, in milliseconds. */
export const finishedIndexReloadPauseMs: number = 500;

/**
 * Interval of progress requests while somebody waits for the finished-commit index to reach a
 * revision, in milliseconds (an idle prefix sends no events; etcd answers a progress request
 * only while the stream's watchers are synced, so one may go unanswered).
 */
export const finishedIndexProgressPollMs: number = 100;

/**
 * Longest wait for the finished-commit index to reach a revision, in milliseconds; past it the
 * wait fails UNAVAILABLE and a candidate counts itself not up to date (it retries).
 */
export const finishedIndexWaitMs: number = 5_000;

/**
 * Pause between two slow re-checks of the catch-up of a node's replicas, in milliseconds.
 * Catch-up is driven by the finished-commit index's changes; this re-check only retries copies
 * that failed (no source had the commit, a node was down) and re-publishes replica status.
 */
export const catchUpRecheckMs: number = 10_000;

/**
 * Delay of the catch-up pass after the index reports a newly finished commit, in milliseconds:
 * the master is still pushing it to the replicas past its quorum (transfer.ts
 * replicateCommit), so a short wait spares a second copy of the same chunks, and commits
 * finished together are checked in one pass.
 */
export const catchUpAfterFinishMs: number = 200;

assert(catchUpAfterFinishMs < catchUpRecheckMs,
  "a newly finished commit must be caught up well before the slow re-check");
assert(finishedIndexProgressPollMs < finishedIndexWaitMs,
  "a wait for the finished-commit index must span several progress requests");
assert(finishedIndexWaitMs < masterWaitMs,
  "a candidate's wait for the index must fit well within a write's wait for a master");
