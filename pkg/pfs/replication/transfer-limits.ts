/**
 * The bounds of moving a sealed commit between replicas (transfer.ts), each named with its
 * unit and why (STYLE rule 8). Relations with the shard's own call limits and the gRPC message
 * limit are asserted when the module loads.
 */
import { assert, limits } from "../../common/index.js";
import { shardLimits } from "../shard/index.js";

const mebibyte = 1024 * 1024;

/**
 * Bytes of chunks one `putChunks` call of a copy carries. A copy to another node sends them in
 * one gRPC message, so a batch stays under pfsGrpcMessageBytesMax with room for framing, and
 * it holds at least one largest chunk; the copy holds one batch in memory.
 */
export const transferBatchBytesMax: number = 6 * mebibyte;

/**
 * Chunks one `putChunks` call of a copy carries: with small chunks (a test's chunking) the
 * per-chunk framing (id, size, tags: under 100 bytes) stays far below the message's slack.
 */
export const transferBatchChunksMax: number = 1_024;

/**
 * Chunk reads a copy keeps in flight from the source: enough to hide round trips to another
 * node, few enough that memory stays at this many largest chunks besides the batch.
 */
export const transferReadsInFlightMax: number = 4;

/**
 * Chunk ids one `missingChunks` call of a copy asks about: about 1.1 MiB of ids on the wire,
 * well inside a gRPC message and the shard's own per-call bound.
 */
export const transferIdsPerCallMax: number = 16_384;

/**
 * Rounds of "push what is missing, install the manifest" one copy makes when the target
 * reports chunks missing at install (a collection freed pushed chunks in between: rare).
 */
export const transferInstallRoundsMax: number = 3;

/** Retries of one peer's copy after a transient (UNAVAILABLE) error, in replicateCommit. */
export const transferRetriesMax: number = 3;

/** First pause before retrying a peer's copy, in milliseconds; it doubles each retry. */
export const transferRetryPauseMsMin: number = 100;

/** Longest pause between two attempts at a peer's copy, in milliseconds. */
export const transferRetryPauseMsMax: number = 1_000;

assert(transferBatchBytesMax >= limits.pfsChunkBytesMax,
  "a transfer batch holds one largest chunk");
assert(transferBatchBytesMax + mebibyte <= limits.pfsGrpcMessageBytesMax,
  "a transfer batch and its framing fit in one pfs gRPC message");
assert(transferBatchBytesMax <= shardLimits.shardPutChunksBytesMax,
  "a transfer batch is a putChunks the shard accepts");
assert(transferBatchChunksMax * 100 <= mebibyte,
  "a full batch's per-chunk framing fits in the message's slack");
assert(transferIdsPerCallMax <= shardLimits.shardChunkIdsPerCallMax,
  "a transfer's missingChunks call names no more ids than a shard accepts");
assert(transferReadsInFlightMax >= 1 && transferInstallRoundsMax >= 1, "a copy makes progress");
assert(transferRetryPauseMsMin <= transferRetryPauseMsMax, "retry pauses grow up to a bound");
