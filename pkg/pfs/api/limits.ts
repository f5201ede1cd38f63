/**
 * The bounds of the pfs API layer and the internal shard RPC (STYLE rule 8), named with their
 * unit and why. Relations are asserted when the module loads.
 */
import { assert, limits } from "../../common/index.js";

/**
 * Bytes per data message the API and shard streams send: well under the gRPC message limit
 * (pfsGrpcMessageBytesMax) and large enough that framing costs nothing.
 */
export const streamMessageBytesMax: number = 1024 * 1024;

/** Files one ListFile/GlobFile/DiffFile answer may hold (one unary message holds them all). */
export const listingFilesMax: number = 100_000;

/** Chunks moved per putChunks call when a copy crosses shards (bounds one message's size). */
export const copyChunksPerCallMax: number = 1;

/** Files a single tar PutFile may hold (each is one staged entry). */
export const tarEntriesMax: number = 1_000_000;

/** Deadline of a unary shard rpc between nodes, in milliseconds (data streams have none). */
export const shardCallDeadlineMs: number = 60_000;

/** Commits ListCommit returns when the request says 0. */
export const listCommitsDefault: number = 100;

assert(streamMessageBytesMax < limits.pfsGrpcMessageBytesMax,
  "a stream message must fit in a gRPC message");
assert(copyChunksPerCallMax * limits.pfsChunkBytesMax < limits.pfsGrpcMessageBytesMax,
  "one putChunks call must fit in a gRPC message");
