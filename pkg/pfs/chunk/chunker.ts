/**
 * Content-defined chunking (DESIGN.md §3), streaming: a `Chunker` takes a byte stream in
 * pieces of any size and cuts it where a rolling hash of the last 32 bytes matches a mask, so
 * an edit moves only the cut points near it and the chunks elsewhere keep their ids.
 *
 * The hash is a gear hash (`h = (h << 1) + gear[byte]`, 32 bits) with FastCDC's refinements:
 * - cut-point skipping: no cut before `minBytes`, and the bytes before the last hash window
 *   below it are not even hashed (the hash depends only on its last 32 bytes);
 * - normalized chunking (level 2): below `averageBytes` the mask has log2(average) + 2 bits,
 *   above it log2(average) - 2, which pulls chunk sizes towards the average;
 * - a forced cut at `maxBytes`.
 *
 * Invariants: the cut points are a function of the bytes alone, never of how the input was
 * split into `push` calls; every chunk but the last has `minBytes <= size <= maxBytes`, the
 * last has `1 <= size <= maxBytes`; an empty stream has no chunk. The chunker holds at most
 * `maxBytes - 1` bytes of its own between calls (the unfinished chunk), whatever the stream's
 * length: as small copies up to `chunkerPendingCopyBytesMax`, past that in one buffer of
 * `maxBytes` from its pool, which becomes the chunk's memory when it is cut (one copy of each
 * byte, no concatenation; the chunk's consumer gives the buffer back to the pool). It also
 * hashes the whole content (sha256) and counts its bytes, which a `FileEntry` records besides
 * the chunk list.
 */
import { createHash, type Hash } from "node:crypto";
import { PfsError, assert, limits } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import { BufferPool } from "./buffer-pool.js";
import { sha256Hex } from "./chunk-id.js";
import { gearTable } from "./gear-table.js";
import {
  chunkBytesMaxLimit, chunkerMinBytesFloor, chunkerPendingCopyBytesMax, chunkerWindowBytes,
} from "./limits.js";

/** The size bounds of chunking. Replicas must use the same ones to deduplicate alike. */
export interface ChunkingOptions {
  /** No cut before this many bytes (except the stream's last chunk). */
  readonly minBytes: number;
  /** The target size; a power of two. */
  readonly averageBytes: number;
  /** A cut is forced at this many bytes. */
  readonly maxBytes: number;
}

/**
 * The cluster's chunk sizes (pkg/common/limits.ts): 256 KiB / 1 MiB / 4 MiB. A 1 MiB average
 * keeps per-chunk costs (a file, an fsync, a manifest reference of 40 bytes) small next to
 * the data while an edit re-stores about a megabyte; a minimum of a quarter of the average is
 * FastCDC's choice (skips most hashing at little loss of dedup); 4 MiB bounds a chunk's
 * memory and fits a pfs gRPC message. Files up to 256 KiB are always one chunk.
 */
export const defaultChunking: ChunkingOptions = Object.freeze({
  minBytes: limits.pfsChunkBytesMin,
  averageBytes: limits.pfsChunkBytesAverage,
  maxBytes: limits.pfsChunkBytesMax,
});

/**
 * One cut chunk. `bytes` may alias the input passed to `push` (consume it, or `detach` it,
 * before that memory is reused). With `pool`, `bytes` lie in a buffer lent by that pool, now
 * owned by whoever holds the chunk: its last consumer calls `pool.give(bytes)` once.
 */
export interface Chunk {
  readonly id: Sha256Hex;
  readonly bytes: Uint8Array;
  readonly pool?: BufferPool;
}

/** What `finish` returns: the last chunk (if any) and the whole content's size and sha256. */
export interface ChunkingEnd {
  readonly chunks: readonly Chunk[];
  readonly sizeBytes: number;
  readonly hash: Sha256Hex;
}

/** Throws INVALID_ARGUMENT unless the options are usable (see `ChunkingOptions`). */
export function checkChunkingOptions(options: ChunkingOptions): void {
  const { minBytes, averageBytes, maxBytes } = options;
  const fail = (reason: string): never => {
    throw new PfsError("INVALID_ARGUMENT", `chunking options min ${minBytes}, average ` +
      `${averageBytes}, max ${maxBytes}: ${reason}`);
  };
  if (![minBytes, averageBytes, maxBytes].every(Number.isSafeInteger)) fail("not integers");
  if (minBytes < chunkerMinBytesFloor) fail(`min is below ${chunkerMinBytesFloor}`);
  if (!(minBytes < averageBytes && averageBytes < maxBytes)) fail("need min < average < max");
  if (maxBytes > chunkBytesMaxLimit) fail(`max is above ${chunkBytesMaxLimit}`);
  if ((averageBytes & (averageBytes - 1)) !== 0) fail("average is not a power of two");
}

/** A mask of the top `bits` bits of a 32-bit word, as an int32. */
function topBitsMask(bits: number): number {
  assert(bits >= 1 && bits <= 31, () => `mask bits ${bits} outside [1, 31]`);
  return (~0 << (32 - bits)) | 0;
}

/** Streaming content-defined chunker. Not reusable: one per stream. */
export class Chunker {
  readonly #minBytes: number;
  readonly #averageBytes: number;
  readonly #maxBytes: number;
  /** Mask below the average size: two bits more than log2(average), so cuts are rarer. */
  readonly #maskSmall: number;
  /** Mask above the average size: two bits fewer, so cuts come sooner. */
  readonly #maskLarge: number;
  /** Where the chunker's buffers for big chunks come from. */
  readonly #pool: BufferPool;
  /** Small copies of the unfinished chunk's bytes (total `#length`) while there is no assembly. */
  #pending: Uint8Array[] = [];
  /** Small copies of the unfinished chunk's bytes (total `#length`) while it has no assembly. */
  #assembly: Buffer | undefined;
  /** Bytes of the unfinished chunk so far; always < maxBytes between calls. */
  #length = 0;
  /** Rolling hash state (int32); depends only on the last 32 bytes once 32 are hashed. */
  #hash = 0;
  readonly #contentHash: Hash = createHash("sha256");
  #contentBytes = 0;
  #finished = false;

  /**
   * `pool` lends the buffers big chunks are assembled in (a chunk store's, so its sessions
   * give them back); without one, each is newly allocated and never reused.
   */
  constructor(options: ChunkingOptions = defaultChunking, pool: BufferPool = new BufferPool(0)) {
    checkChunkingOptions(options);
    this.#pool = pool;
    this.#minBytes = options.minBytes;
    this.#averageBytes = options.averageBytes;
    this.#maxBytes = options.maxBytes;
    const averageBits = Math.log2(options.averageBytes);
    this.#maskSmall = topBitsMask(averageBits + 2);
    this.#maskLarge = topBitsMask(averageBits - 2);
  }

  /** Bytes pushed so far. */
  get sizeBytes(): number {
    return this.#contentBytes;
  }

  /**
   * Feeds the next bytes of the stream; returns the chunks they complete, in order. The
   * returned chunks may alias `bytes` (no copy is made for a chunk that lies inside it).
   */
  push(bytes: Uint8Array): Chunk[] {
    assert(!this.#finished, "push after finish");
    this.#contentHash.update(bytes);
    this.#contentBytes += bytes.length;
    const chunks: Chunk[] = [];
    let from = 0;
    while (from < bytes.length) {
      const end = this.#scan(bytes, from);
      if (end < 0) {
        // A copy: the caller may reuse `bytes` once this returns.
        this.#keep(bytes.subarray(from));
        break;
      }
      chunks.push(this.#cut(bytes.subarray(from, end)));
      from = end;
    }
    assert(this.#length < this.#maxBytes, () =>
      `pending ${this.#length} >= max ${this.#maxBytes}`);
    return chunks;
  }

  /** Ends the stream: returns its last chunk (none for an empty stream), size and sha256. */
  finish(): ChunkingEnd {
    assert(!this.#finished, "finish called twice");
    this.#finished = true;
    const chunks = this.#length > 0 ? [this.#cut(new Uint8Array(0))] : [];
    return { chunks, sizeBytes: this.#contentBytes, hash: this.#contentHash.digest("hex") };
  }

  /**
   * Scans `bytes` from `from` for the end of the unfinished chunk. Returns the index just past
   * the cut, or -1 when `bytes` ends first (the rolling state is then saved for the next call).
   * The chunk's length after consuming the byte at index i is `i - base + 1`.
   */
  #scan(bytes: Uint8Array, from: number): number {
    const gear = gearTable;
    const n = bytes.length;
    const base = from - this.#length;
    let h = this.#hash;
    let i = Math.max(from, Math.min(n, base + this.#minBytes - chunkerWindowBytes));
    const hashEnd = Math.min(n, base + this.#minBytes - 1);
    // `as number`: i < n, so the byte and its gear word exist; a `??` here costs a fifth of
    // the loop's speed.
    for (; i < hashEnd; i += 1) h = ((h << 1) + (gear[bytes[i] as number] as number)) | 0;
    const smallEnd = Math.min(n, base + this.#averageBytes - 1);
    const maskSmall = this.#maskSmall;
    for (; i < smallEnd; i += 1) {
      h = ((h << 1) + (gear[bytes[i] as number] as number)) | 0;
      if ((h & maskSmall) === 0) return i + 1;
    }
    const largeEnd = Math.min(n, base + this.#maxBytes - 1);
    const maskLarge = this.#maskLarge;
    for (; i < largeEnd; i += 1) {
      h = ((h << 1) + (gear[bytes[i] as number] as number)) | 0;
      if ((h & maskLarge) === 0) return i + 1;
    }
    if (i < n) return i + 1; // The byte that brings the chunk to maxBytes: a forced cut.
    this.#hash = h;
    return -1;
  }

  /** Appends `bytes` (copied) to the unfinished chunk, moving it to a pooled buffer when big. */
  #keep(bytes: Uint8Array): void {
    const length = this.#length + bytes.length;
    assert(length < this.#maxBytes, () => `unfinished chunk of ${length} >= ${this.#maxBytes}`);
    if (this.#assembly === undefined && length > chunkerPendingCopyBytesMax) {
      const assembly = this.#pool.take(this.#maxBytes);
      let at = 0;
      for (const piece of this.#pending) {
        assembly.set(piece, at);
        at += piece.length;
      }
      this.#pending = [];
      this.#assembly = assembly;
    }
    if (this.#assembly === undefined) this.#pending.push(Buffer.from(bytes));
    else this.#assembly.set(bytes, this.#length);
    this.#length = length;
  }

  /**
   * `chunk` (returned by the last `push`) in memory of its own: itself unless it aliases
   * `input`, else a copy, in a pooled buffer when it is big. The caller then owns the copy.
   */
  detach(chunk: Chunk, input: Uint8Array): Chunk {
    if (chunk.pool !== undefined || chunk.bytes.buffer !== input.buffer) return chunk;
    if (chunk.bytes.length <= chunkerPendingCopyBytesMax) {
      return { id: chunk.id, bytes: Buffer.from(chunk.bytes) };
    }
    const buffer = this.#pool.take(this.#maxBytes);
    buffer.set(chunk.bytes);
    return { id: chunk.id, bytes: buffer.subarray(0, chunk.bytes.length), pool: this.#pool };
  }

  /** Completes the unfinished chunk with `tail` and resets the rolling state. */
  #cut(tail: Uint8Array): Chunk {
    const length = this.#length + tail.length;
    assert(length > 0 && length <= this.#maxBytes, () =>
      `chunk of ${length} bytes outside [1, ${this.#maxBytes}]`);
    const assembly = this.#assembly;
    let chunk: Chunk;
    if (assembly === undefined) {
      const pieces = this.#pending;
      const bytes = pieces.length === 0 ? tail : Buffer.concat([...pieces, tail]);
      chunk = { id: sha256Hex(bytes), bytes };
    } else {
      assembly.set(tail, this.#length);
      const bytes = assembly.subarray(0, length);
      chunk = { id: sha256Hex(bytes), bytes, pool: this.#pool };
    }
    this.#pending = [];
    this.#assembly = undefined;
    this.#length = 0;
    this.#hash = 0;
    return chunk;
  }
}
