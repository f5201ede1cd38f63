/**
 * Whole files over a chunk store: `writeFile` chunks a byte stream into a store and returns
 * what a `FileEntry` records (size, sha256, chunk list); `readFile` streams a byte range of a
 * chunk list back, reading only the chunks the range overlaps.
 *
 * Memory: `writeFile` holds at most one chunk's bytes besides the piece the source yields (and
 * 72 bytes or so per chunk reference); `readFile` holds one chunk at a time.
 */
import { LimitError, PfsError, assert } from "../../common/index.js";
import type { ChunkRef, Sha256Hex } from "../model.js";
import type { ChunkStore } from "./chunk-store.js";
import { ChunkWriteSession } from "./chunk-write-session.js";
import { type Chunk, Chunker, type ChunkingOptions, defaultChunking } from "./chunker.js";
import { chunkBytesMaxLimit } from "./limits.js";

/** A written file's content: what a `FileEntry` records besides its path. */
export interface WrittenFile {
  readonly size: number;
  readonly hash: Sha256Hex;
  readonly chunks: readonly ChunkRef[];
}

/** Options of `writeFile`. */
export interface WriteFileOptions {
  readonly chunking?: ChunkingOptions;
}

/**
 * Chunks `source` into `target`. With a store, the chunks are durable when this resolves (one
 * write session, committed at the end; aborted on error). With a session, this resolves once
 * every chunk's write is under way, and they are durable only once the caller commits the
 * session (which also reports write failures): that is how many small files share the disk's
 * fsync batching. The source may reuse a piece's memory after yielding the next one.
 */
export async function writeFile(
  target: ChunkStore | ChunkWriteSession,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: WriteFileOptions = {},
): Promise<WrittenFile> {
  const ownSession = !(target instanceof ChunkWriteSession);
  const session = target instanceof ChunkWriteSession ? target : target.openSession();
  let written: WrittenFile;
  try {
    written = await chunkInto(session, source, options.chunking ?? defaultChunking);
  } catch (error) {
    if (ownSession) await session.abort();
    throw error;
  }
  if (ownSession) await session.commit();
  return written;
}

async function chunkInto(
  session: ChunkWriteSession,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  chunking: ChunkingOptions,
): Promise<WrittenFile> {
  const chunker = new Chunker(chunking, session.bufferPool);
  const chunks: ChunkRef[] = [];
  const store = async (list: readonly Chunk[], piece: Uint8Array | undefined): Promise<void> => {
    for (const chunk of list) {
      chunks.push({ id: chunk.id, size: chunk.bytes.length });
      // The session writes in the background and the source may reuse its piece: a chunk
      // that aliases the piece is copied. The session owns the chunk from here.
      await session.write(piece === undefined ? chunk : chunker.detach(chunk, piece));
    }
  };
  for await (const piece of source) await store(chunker.push(piece), piece);
  const end = chunker.finish();
  await store(end.chunks, undefined);
  const total = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  assert(total === end.sizeBytes, () => `chunks hold ${total} bytes, stream had ${end.sizeBytes}`);
  return { size: end.sizeBytes, hash: end.hash, chunks };
}

/**
 * Where `readFile` gets a chunk's verified bytes: a `ChunkStore`, or a reader over one that
 * does more on a failure (a shard replica repairing a damaged chunk from another replica).
 */
export interface ChunkSource {
  /** The bytes of chunk `id`, hashing to `id`; NOT_FOUND or DATA_CORRUPTED otherwise. */
  get(id: Sha256Hex): Promise<Uint8Array>;
}

/** A byte range `[start, end)` of a file; `start` defaults to 0, `end` to the file's size. */
export interface ByteRange {
  readonly start?: number;
  readonly end?: number;
}

/**
 * Streams bytes `[start, end)` of the file made of `chunks`, in order, reading only the
 * chunks the range overlaps, each verified (DATA_CORRUPTED if a chunk's bytes do not hash to
 * its id or its size differs from the reference). INVALID_ARGUMENT for a range outside
 * `[0, size]` or with end < start, before anything is read.
 */
export async function* readFile(
  store: ChunkSource,
  chunks: readonly ChunkRef[],
  range: ByteRange = {},
): AsyncGenerator<Uint8Array> {
  const size = totalSize(chunks);
  const start = range.start ?? 0;
  const end = range.end ?? size;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start ||
    end > size) {
    throw new PfsError("INVALID_ARGUMENT", `byte range [${start}, ${end}) is not within the ` +
      `file's ${size} bytes`, { start, end, size });
  }
  let offset = 0;
  for (const ref of chunks) {
    const chunkEnd = offset + ref.size;
    if (chunkEnd > start && offset < end) {
      const bytes = await store.get(ref.id);
      if (bytes.length !== ref.size) {
        throw new PfsError("DATA_CORRUPTED", `chunk ${ref.id} has ${bytes.length} bytes; the ` +
          `file's reference says ${ref.size}`, { chunk: ref.id });
      }
      yield bytes.subarray(Math.max(start - offset, 0), Math.min(end, chunkEnd) - offset);
    }
    if (chunkEnd >= end) return;
    offset = chunkEnd;
  }
}

/** The sum of the chunk sizes, checking each is a size a chunk can have. */
function totalSize(chunks: readonly ChunkRef[]): number {
  let size = 0;
  for (const ref of chunks) {
    if (!Number.isSafeInteger(ref.size) || ref.size < 0 || ref.size > chunkBytesMaxLimit) {
      throw new PfsError("INVALID_ARGUMENT", `chunk ${ref.id} has an impossible size ${ref.size}`);
    }
    size += ref.size;
  }
  if (!Number.isSafeInteger(size)) throw new LimitError("file size", Number.MAX_SAFE_INTEGER, size);
  return size;
}
