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
 * Batches of one copy being pushed to the target while the next fills: the push's round trip,
 * the target's hash checks and fsyncs overlap reading the next batch. Memory per copy is this
 * many batches plus the one filling.
 */
export const transferPutsInFlightMax: number = 2;

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

// ---- eager push (eager-push.ts): the master pushing an open commit's chunks early -------

/**
 * Chunk refs one peer's eager-push queue holds. Past it, offers are dropped (the finish
 * pushes what is missing): a peer slower than the writes falls behind by a bounded amount,
 * and the queue (refs only, about 100 bytes each) stays small.
 */
export const eagerQueueChunksMax: number = 65_536;

/**
 * Bytes of chunks (their sizes; the bytes stay on disk until pushed) one peer's eager queue
 * may name: a backlog the peer would still be receiving long after the finish is not worth
 * queueing, the finish copies the rest.
 */
export const eagerQueueBytesMax: number = 1_024 * mebibyte;

/**
 * Bytes of chunks one peer's eager queue holds in memory: the chunks `tee` cut from a put's
 * stream wait there for their push (shared between the peers' queues, so the pusher holds at
 * most this times the peers). Past it, such chunks are dropped for that peer, and queued
 * again, without their bytes (read back from the source), when the put's entry is offered.
 */
export const eagerHeldBytesMax: number = 32 * mebibyte;

/**
 * Bytes of chunks one eager push to a peer carries (missingChunks, reads, putChunks): the
 * memory of one peer's push in flight. Smaller than a copy's batch so a put's chunks start
 * moving soon after they are written.
 */
export const eagerBatchBytesMax: number = 4 * mebibyte;

/** Chunks one eager push carries (small files: many tiny chunks in one round trip). */
export const eagerBatchChunksMax: number = 1_024;

/**
 * Chunk ids per peer remembered as queued or pushed, so the same chunk offered again (a tar
 * put records the chunks it staged a second time) is not pushed twice; oldest forgotten first.
 */
export const eagerRecentIdsMax: number = 131_072;

/** First pause of eager pushes to a peer after one failed, in milliseconds; doubles. */
export const eagerBackoffMsMin: number = 500;

/** Longest pause of eager pushes to a failing or unreachable peer, in milliseconds. */
export const eagerBackoffMsMax: number = 30_000;

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
assert(transferPutsInFlightMax >= 1, "a copy pushes at least one batch at a time");
assert(eagerBatchBytesMax >= limits.pfsChunkBytesMax && eagerBatchBytesMax <= transferBatchBytesMax,
  "an eager batch holds one largest chunk and is one copy batch at most");
assert(eagerBatchChunksMax <= transferBatchChunksMax &&
  eagerBatchChunksMax <= transferIdsPerCallMax, "an eager batch is one putChunks and one missingChunks call");
assert(eagerHeldBytesMax >= eagerBatchBytesMax && eagerHeldBytesMax <= eagerQueueBytesMax,
  "a peer's held chunks fill a batch and are queued bytes");
assert(eagerRecentIdsMax >= eagerQueueChunksMax, "every queued id is remembered");
assert(eagerBackoffMsMin >= 1 && eagerBackoffMsMin <= eagerBackoffMsMax,
  "eager backoff grows up to a bound");
