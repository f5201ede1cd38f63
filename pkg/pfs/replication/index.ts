/**
 * pkg/pfs/replication: replicas and masters (DESIGN.md §4, issue 6): the pure replica map and
 * node health decisions, the elected placement controller that stores the map, and the
 * per-shard master election with its fencing token, the directory routers read, and the host
 * that runs, catches up and elects this node's replicas.
 */
export {
  type ReplicaMap, type ReplicaMapInput, type ReplicaMapOutcome, computeReplicaMap,
  encodeReplicaMap, decodeReplicaMap,
} from "./replica-map.js";
export {
  type NodeState, type OfflineRecord, type NodeHealthInput, type NodeHealthOutcome,
  nodeStateOf, decideNodeHealth, encodeOfflineRecord, decodeOfflineRecord,
} from "./node-health.js";
export * as replicationLimits from "./limits.js";
export {
  type Fence, type CampaignOptions, LeaderTerm, fencedIf, fenceHeld, campaignForTerm,
} from "./leader-term.js";
export {
  type ShardMasterOptions, ShardMasterCandidate, type MasterObserverOptions, MasterObserver,
  masterElectionName,
} from "./shard-master.js";
export {
  ReplicaMapKeys, type StoredReplicaMap, type ReplicaMapWrite, type ReplicaMapWriteOutcome,
  readReplicaMap, readOfflineRecords, writeReplicaMapFenced,
} from "./replica-map-store.js";
export {
  type PlacementControllerOptions, type PlacementControllerStats, PlacementController,
} from "./placement-controller.js";
export {
  type ReplicaStatusRecord, type ReplicaStatusKeyParts, replicaStatusPrefix, replicaStatusKey,
  parseReplicaStatusKey, encodeReplicaStatus, decodeReplicaStatus,
} from "./replica-status.js";
export * from "./transfer.js";
export { type EagerPushStats, type EagerPusherOptions, EagerPusher } from "./eager-push.js";
export { type ReplicaDirectoryOptions, ReplicaDirectory } from "./replica-directory.js";
export {
  type HostedShardOptions, HostedShard, type MasterStanding, type ReplicateCommit,
} from "./hosted-shard.js";
export { type ShardHostOptions, ShardHost, type CopyCommit } from "./shard-host.js";
export { readOrCreateIncarnation } from "./incarnation.js";
export { type MasterSessionOptions, MasterSession } from "./master-session.js";
export {
  type FinishedChange, type FinishedCommitsOptions, FinishedCommits,
} from "./finished-commits.js";
