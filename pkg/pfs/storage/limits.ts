/**
 * The bounds of commit storage (manifests, staging logs, the commit store). Every number here
 * is a named constant with its unit last and a comment saying why it has that value; the
 * relations between them are asserted when this module loads.
 */
import { assert } from "../../common/index.js";

/**
 * A manifest block is closed once it holds at least this many bytes of entries: small enough
 * that a lookup reads and checks little, large enough that 1,000,000 entries need only a few
 * thousand index rows (the index is the only part of a manifest held in memory).
 */
export const manifestBlockBytesTarget: number = 32 * 1024;

/** Decoded manifest blocks kept per open manifest, so walks and nearby lookups re-read little. */
export const manifestBlockCacheBlocks: number = 8;

/**
 * The largest manifest index accepted when opening (about 200,000 blocks, far past the 1,000,000
 * entries a manifest is built for): a corrupted footer can never make us allocate more.
 */
export const manifestIndexBytesMax: number = 64 * 1024 * 1024;

/** The longest path, in UTF-8 bytes (Linux's PATH_MAX), so any entry can be checked out. */
export const filePathBytesMax: number = 4096;

/**
 * The most chunks one file may have: 1 TiB at the chunker's 1 MiB average. One entry then takes
 * at most about 40 MiB in a manifest block or a staging record.
 */
export const fileChunksMax: number = 1024 * 1024;

/** Bytes of one encoded chunk reference: the 32-byte sha256 and a uint64 size. */
export const chunkRefBytes: number = 40;

/** The most bytes of one staging record (its largest entry plus framing). */
export const stagingRecordBytesMax: number = fileChunksMax * chunkRefBytes + 2 * filePathBytesMax +
  1024;

/**
 * The most bytes of records one staging write + fdatasync carries (group commit): large enough
 * that thousands of small puts share one fsync, small enough to keep one write's buffer modest.
 */
export const stagingBatchBytesMax: number = 8 * 1024 * 1024;

/**
 * The most bytes of records waiting for their write + fsync on one staging log; past it a write
 * is refused (LIMIT_EXCEEDED) rather than queued without bound. Eight full batches.
 */
export const stagingPendingBytesMax: number = 64 * 1024 * 1024;

/** The read buffer of a staging log replay; a larger record is read whole by itself. */
export const stagingReadBufferBytes: number = 1024 * 1024;

/**
 * The largest manifest replicas move whole (read into memory, sent, checked, installed): a
 * million small files make a manifest of about 130 MiB, so this leaves room for longer paths
 * and multi-chunk files while bounding the memory one transfer takes on each side.
 */
export const manifestTransferBytesMax: number = 512 * 1024 * 1024;

/** The longest repo name, in bytes: one file-name component of the store's directories. */
export const repoNameBytesMax: number = 255;

assert(stagingRecordBytesMax > manifestBlockBytesTarget, "a record may exceed a block");
assert(stagingPendingBytesMax >= stagingBatchBytesMax, "a full batch can be pending");
assert(stagingReadBufferBytes <= stagingBatchBytesMax, "replay buffer within one batch");
assert(manifestTransferBytesMax > manifestIndexBytesMax, "a transfer holds the largest index");
assert(manifestBlockCacheBlocks >= 2, "a walk needs at least two cached blocks");
