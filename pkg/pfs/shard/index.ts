/**
 * pkg/pfs/shard: one shard replica (DESIGN.md §3–4): the `ShardReplica` contract and
 * `LocalShard`, its implementation over a local chunk store and commit store.
 */
export type {
  ShardCommit, ShardByteRange, ShardDirectoryChild, ShardFileChange, ShardFinishResult,
  ShardReplica,
} from "./shard-api.js";
export { type LocalShardOptions, type RepairChunk, LocalShard } from "./local-shard.js";
export type { StoredCommit } from "../storage/index.js";
export * as shardLimits from "./limits.js";
