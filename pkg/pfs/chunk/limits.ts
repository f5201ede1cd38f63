/**
 * The bounds of the chunk layer (STYLE rule 8), each with why it has its value. The default
 * chunk sizes are the cluster-wide ones in pkg/common/limits.ts (`pfsChunkBytes*`), because
 * they are part of what two replicas must agree on to deduplicate the same bytes the same
 * way; the bounds here are local to one chunk store and one chunker. Relations between them
 * are asserted when this module loads.
 */
import { assert, limits } from "../../common/index.js";

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

/**
 * Smallest minimum chunk size a `Chunker` accepts. The rolling hash looks at the last 32
 * bytes, so below a few windows the cut points would depend on too little content; tests use
 * small chunks (a few hundred bytes) to exercise many cuts quickly.
 */
export const chunkerMinBytesFloor: number = 64;

/** Bytes the rolling hash window covers: a 32-bit gear hash shifts a byte out after 32 steps. */
export const chunkerWindowBytes: number = 32;

/**
 * Largest maximum chunk size a `Chunker` accepts, and the largest chunk a `ChunkStore` takes.
 * A chunk is read whole into memory to be verified, so this bounds memory per read; it stays
 * well below the pfs gRPC message limit's multiples a replica push would use.
 */
export const chunkBytesMaxLimit: number = 64 * mebibyte;

/**
 * Chunk writes (temp file create, write, fsync, close) a write session runs at once. Running
 * many lets the file system group their fsyncs into few journal commits, which is most of the
 * speed of ingesting many small files; each holds a file descriptor and its chunk's bytes.
 */
export const chunkSessionWritesInFlightMax: number = 64;

/**
 * Bytes of chunks a write session holds while their writes run; past it, adding waits (push
 * back on the source). 16 maximum-size chunks: enough to keep the disk busy with large files.
 */
export const chunkSessionBytesInFlightMax: number = 64 * mebibyte;

/**
 * fsyncs (files or directories) a chunk store issues at once. Node runs them on libuv's thread
 * pool (4 threads by default), and the file system groups concurrent fsyncs into one journal
 * commit, so a few in flight cost little more than one; more only queues.
 */
export const chunkFsyncConcurrencyMax: number = 16;

/**
 * Free memory a chunk store's buffer pool (buffer-pool.ts) keeps for assembling chunks while
 * a write session is open: what a write session holds in flight and one more, so a stream of
 * big chunks reuses buffers instead of allocating fresh ones. Beyond it, given-back buffers go
 * to the garbage collector, and all go when no session is open.
 */
export const chunkBufferPoolBytesMax: number = chunkSessionBytesInFlightMax +
  limits.pfsChunkBytesMax; // and the chunk being assembled

/**
 * Bytes of an unfinished chunk a `Chunker` keeps as plain copies before it moves them into a
 * pooled buffer of the maximum chunk size. Small files (most of them far below this) never
 * take a pooled buffer, so many small puts at once hold little memory.
 */
export const chunkerPendingCopyBytesMax: number = 64 * kibibyte;

/**
 * How long a chunk stays safe from garbage collection after it was put or found present by a
 * caller about to refer to it (chunk-guard.ts holds): the gap a cross-shard copy leaves
 * between pushing chunks (`putChunks`, or `missingChunks` saying they are there) and recording
 * the file that refers to them (`putEntry`). Ten minutes: far more than that gap, and only
 * delays the freeing of true garbage to a later collection.
 */
export const chunkHoldMs: number = 10 * 60_000;

/**
 * Most chunk ids held at once; past it the oldest holds end early (a copy that lost its hold
 * to a collection is refused by `putEntry`'s missing-chunk check, never left dangling). About
 * 150 bytes an id: at most ~40 MiB.
 */
export const chunkHoldsMax: number = 262_144;

/** Fan-out directories of a chunk store: one per value of the id's first byte ("00".."ff"). */
export const chunkFanOutDirs: number = 256;

assert(
  limits.pfsChunkBytesMin >= chunkerMinBytesFloor,
  () => `pfsChunkBytesMin ${limits.pfsChunkBytesMin} < floor ${chunkerMinBytesFloor}`,
);
assert(
  limits.pfsChunkBytesMax <= chunkBytesMaxLimit,
  () => `pfsChunkBytesMax ${limits.pfsChunkBytesMax} > limit ${chunkBytesMaxLimit}`,
);
assert(chunkerMinBytesFloor >= chunkerWindowBytes, "the minimum chunk covers one hash window");
assert(chunkSessionWritesInFlightMax >= 1 && chunkFsyncConcurrencyMax >= 1, "positive concurrency");
assert(
  chunkSessionBytesInFlightMax >= limits.pfsChunkBytesMax,
  "a session can hold at least one maximum-size chunk in flight",
);
assert(chunkerPendingCopyBytesMax < limits.pfsChunkBytesMin, "big files use pooled buffers");
