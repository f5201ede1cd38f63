/**
 * The bounds of a local shard replica (STYLE rule 8), each with why it has its value. The
 * chunk and commit layers below bound their own queues (pkg/pfs/chunk, pkg/pfs/storage); these
 * bound what one call into a shard may ask for at once.
 */
import { assert, limits } from "../../common/index.js";

const mebibyte = 1024 * 1024;

/**
 * Bytes of chunks one `putChunks` call may carry: the caller (a copy between shards) holds
 * them all in memory, so a batch stays a small multiple of the largest chunk.
 */
export const shardPutChunksBytesMax: number = 256 * mebibyte;

/** Chunks one `putChunks` or `missingChunks` call may name: bounds one call's work and reply. */
export const shardChunkIdsPerCallMax: number = 65_536;

assert(
  shardPutChunksBytesMax >= limits.pfsChunkBytesMax,
  () => `a putChunks batch (${shardPutChunksBytesMax} B) holds one largest chunk`,
);
assert(shardChunkIdsPerCallMax >= 1, "a chunk call names at least one chunk");
