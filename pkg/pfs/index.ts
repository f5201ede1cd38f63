/**
 * pkg/pfs: the commit-based file system (DESIGN.md §3): the data model, naming (paths,
 * addresses, sharder, globs), the metadata store over etcd, the chunk layer and the commit
 * storage of a shard replica, and the shard contract. Code outside pkg/pfs imports it from
 * here (STYLE.md rule 12).
 */
export * from "./model.js";
export * from "./path/index.js";
// The metadata store's own name checks and ref parser stay inside it (the exported ones are
// pkg/pfs/path's, which return Results).
export {
  MetaStore, type MetaStoreOptions, type CreateRepoOptions, type StartCommitOptions,
  type ListCommitsOptions, type SubscribeCommitsOptions, type DeletedRepo, type BranchRecord,
  type ClusterConfig, encodeRecord, decodeClusterConfig, decodeRepoInfo, decodeBranchRecord,
  decodeCommitInfo, prefixEnd, MetaKeys, metaRootDefault, metaLimits,
} from "./meta/index.js";
export * from "./chunk/index.js";
export * from "./storage/index.js";
export type * from "./shard/shard-api.js";
// What pipelines (pkg/pps) build on: a watched prefix copy and fenced elections.
export { PrefixCache } from "./placement/index.js";
export {
  type Fence, type CampaignOptions, LeaderTerm, fencedIf, fenceHeld, campaignForTerm,
} from "./replication/index.js";
// The gRPC status mapping and stream flow control of pfs.API, which pps.API shares.
export { statusOf } from "./api/grpc-errors.js";
export { endWithStatus, writeMessage } from "./api/stream-kit.js";
