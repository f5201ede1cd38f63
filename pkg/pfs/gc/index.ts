/**
 * pkg/pfs/gc: garbage collection run by a pfsd node over its shard replicas — reconcile each
 * replica with the metadata (drop the files of failed and deleted commits), then free the
 * chunks nothing references; periodically, soon after deletions, and on request.
 */
export * as gcLimits from "./limits.js";
export {
  type ReconcilableShard, type CommitStates, type CommitStateReader, type ReconcileVerdict,
  type ReconcilePlan, type ReconcileResult, isReconcilable, commitKey, verdictOf, planReconcile,
  reconcileShard,
} from "./reconcile.js";
export { metaCommitStates } from "./commit-states.js";
export { type StopWatch, watchDeletions } from "./deletion-watch.js";
export {
  type GarbageFreed, type ShardGarbageResult, type NodeCollectorOptions, NodeGarbageCollector,
  sumFreed,
} from "./node-collector.js";
