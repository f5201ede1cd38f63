/**
 * Reading a manifest (format in manifest-format.ts). `openManifest` checks the header, footer
 * and index against their CRCs and against each other (blocks contiguous, counts adding up,
 * first paths increasing) and keeps only the index in memory. Blocks are read on demand and
 * checked against their CRC before any entry in them is used, so a corrupted byte is reported
 * as DATA_CORRUPTED (naming the file and block) and never served; `verify()` checks every
 * block at once (for a scrub, or before sending a manifest to another replica).
 *
 * Order: every walk yields entries in strictly increasing bytewise path order. A `Manifest`
 * is read-only and safe for concurrent reads; its owner calls `close()` once.
 */
import { crc32 } from "node:zlib";
import type * as fs from "node:fs/promises";
import { MalformedPayloadError, PfsError, assert } from "../../common/index.js";
import type { FileEntry } from "../model.js";
import { openExisting } from "../durable-fs.js";
import { FieldCursor, readEntry } from "./entry-codec.js";
import {
  type BlockRow, type ManifestFooter, decodeFooter, decodeIndex, manifestFooterBytes,
  manifestHeaderBytes,
} from "./manifest-format.js";
import {
  chunkRefBytes, filePathBytesMax, manifestBlockCacheBlocks, manifestIndexBytesMax,
} from "./limits.js";
import { comparePaths, directoryPrefix } from "./path-order.js";

/** A direct child of a directory: a file, or an implicit directory with the bytes below it. */
export interface DirectoryChild {
  /** The last path segment. */
  readonly name: string;
  /** The child's full path. */
  readonly path: string;
  readonly kind: "file" | "directory";
  /** A file's size, or the total size of every file below a directory. */
  readonly sizeBytes: number;
  /** Files below a directory (1 for a file). */
  readonly fileCount: number;
  /** The file's entry; absent for a directory. */
  readonly entry?: FileEntry;
}

/** What every manifest-like source offers: walks in path order and exact lookups. */
export interface EntrySource {
  /** The entry at exactly `path`, or undefined. */
  get(path: string): Promise<FileEntry | undefined>;
  /** Entries whose path starts with `prefix` (all when ""), in increasing path order. */
  entries(prefix?: string): AsyncIterable<FileEntry>;
}

/** DATA_CORRUPTED naming the manifest `file` and what is wrong with it. */
export function corrupted(file: string, message: string, details: Record<string, number> = {}):
  PfsError {
  return new PfsError("DATA_CORRUPTED", `manifest ${file}: ${message}`, { file, ...details });
}

/** An open manifest. */
export class Manifest implements EntrySource {
  /** The file it was read from. */
  readonly file: string;
  /** Number of entries (files). */
  readonly entryCount: number;
  /** The sum of every file's size. */
  readonly totalSizeBytes: number;
  readonly #handle: fs.FileHandle | null;
  readonly #rows: readonly BlockRow[];
  /** Checked block bytes by block number, least recently used first. */
  readonly #cache = new Map<number, Buffer>();
  #closed = false;

  /** @internal Use `openManifest` (or `emptyManifest`). */
  constructor(file: string, handle: fs.FileHandle | null, footer: ManifestFooter,
    rows: readonly BlockRow[]) {
    this.file = file;
    this.#handle = handle;
    this.entryCount = footer.entryCount;
    this.totalSizeBytes = footer.totalSizeBytes;
    this.#rows = rows;
  }

  /** The entry at exactly `path`, or undefined (one block read at most, one entry decoded). */
  async get(path: string): Promise<FileEntry | undefined> {
    const blockNumber = this.#blockAtOrBefore(path);
    if (blockNumber < 0) return undefined;
    const block = await this.#block(blockNumber);
    const found = seek(block, Buffer.from(path, "utf8"));
    return found.exact ? this.#decode(block, found.offset, blockNumber).entry : undefined;
  }

  /** Entries whose path starts with `prefix` ("" for all), in increasing path order. */
  async *entries(prefix = ""): AsyncGenerator<FileEntry> {
    const first = Math.max(0, this.#blockAtOrBefore(prefix));
    for (let number = first; number < this.#rows.length; number += 1) {
      const row = this.#rows[number];
      assert(row !== undefined, () => `no block row ${number}`);
      if (comparePaths(row.firstPath, prefix) > 0 && !row.firstPath.startsWith(prefix)) return;
      const block = await this.#block(number);
      let offset = number === first ? seek(block, Buffer.from(prefix, "utf8")).offset : 0;
      while (offset < block.length) {
        const { entry, end } = this.#decode(block, offset, number);
        if (!entry.path.startsWith(prefix)) return;
        yield entry;
        offset = end;
      }
    }
  }

  /** Every file at or below directory `dir` ("/" for all), in increasing path order. */
  async *under(dir: string): AsyncGenerator<FileEntry> {
    if (dir !== "/") {
      const file = await this.get(dir);
      if (file !== undefined) yield file;
    }
    yield* this.entries(directoryPrefix(dir));
  }

  /**
   * The files at or below `dir` ("/" for all) whose path satisfies `predicate` (a compiled
   * glob, e.g. from pkg/pfs/path), in increasing path order.
   */
  async *glob(predicate: (path: string) => boolean, dir = "/"): AsyncGenerator<FileEntry> {
    for await (const entry of this.under(dir)) if (predicate(entry.path)) yield entry;
  }

  /** The direct children of `dir`; see `listChildren`. */
  children(dir: string): AsyncGenerator<DirectoryChild> {
    return listChildren(this, dir);
  }

  /**
   * Reads every block and checks its CRC and entry framing; throws DATA_CORRUPTED at the first
   * bad one.
   */
  async verify(): Promise<void> {
    for (let number = 0; number < this.#rows.length; number += 1) await this.#readBlock(number);
  }

  /** Closes the file. Later reads fail an assertion. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    await this.#handle?.close();
  }

  /** The last block whose first path is <= `path`, or -1. */
  #blockAtOrBefore(path: string): number {
    let low = 0;
    let high = this.#rows.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const row = this.#rows[middle];
      assert(row !== undefined, () => `no block row ${middle}`);
      if (comparePaths(row.firstPath, path) <= 0) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** The checked bytes of block `number`, from the cache or the file. */
  async #block(number: number): Promise<Buffer> {
    const cached = this.#cache.get(number);
    if (cached !== undefined) {
      this.#cache.delete(number);
      this.#cache.set(number, cached);
      return cached;
    }
    const block = await this.#readBlock(number);
    this.#cache.set(number, block);
    if (this.#cache.size > manifestBlockCacheBlocks) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    return block;
  }

  /** Decodes the entry at `offset` of a checked block. */
  #decode(block: Buffer, offset: number, number: number): { entry: FileEntry; end: number } {
    try {
      const cursor = new FieldCursor(block, offset);
      const entry = readEntry(cursor);
      return { entry, end: cursor.offset };
    } catch (error) {
      if (!(error instanceof MalformedPayloadError)) throw error;
      throw corrupted(this.file, `block ${number}: ${error.message}`, { block: number });
    }
  }

  async #readBlock(number: number): Promise<Buffer> {
    assert(!this.#closed, () => `read of closed manifest ${this.file}`);
    const row = this.#rows[number];
    assert(row !== undefined && this.#handle !== null, () => `no block ${number} in ${this.file}`);
    const bytes = Buffer.allocUnsafe(row.length);
    const { bytesRead } = await this.#handle.read(bytes, 0, row.length, row.offset);
    if (bytesRead !== row.length) {
      throw corrupted(this.file, `block ${number} is cut short`, { block: number });
    }
    checkBlock(this.file, bytes, row, number);
    return bytes;
  }
}

/**
 * Checks block `number` (its bytes, read whole) against its index row: CRC, then entry
 * framing. Throws DATA_CORRUPTED naming `file` and the block.
 */
export function checkBlock(file: string, bytes: Buffer, row: BlockRow, number: number): void {
  const actual = crc32(bytes);
  if (actual !== row.crc) {
    throw corrupted(file, `block ${number} checksum ${actual} != ${row.crc}`,
      { block: number, offset: row.offset });
  }
  const problem = checkBlockFraming(bytes, row);
  if (problem !== null) throw corrupted(file, `block ${number}: ${problem}`, { block: number });
}

/** Offset of an entry's chunk count from the end of its path: size u64 + hash. */
const chunkCountAfterPath = 8 + 32;

/**
 * Checks the entry framing of a block whose CRC matched: every entry lies inside it, the
 * paths increase strictly (bytewise), the count and first path match the index row. After
 * this, `seek` may walk the block without bounds checks. Returns a problem or null.
 */
function checkBlockFraming(block: Buffer, row: BlockRow): string | null {
  const first = Buffer.from(row.firstPath, "utf8");
  let at = 0;
  let previousStart = -1;
  let previousEnd = -1;
  let count = 0;
  while (at < block.length) {
    if (at + 4 > block.length) return `entry header at ${at} runs past the block`;
    const pathEnd = at + 4 + block.readUInt32BE(at);
    if (pathEnd > block.length - chunkCountAfterPath - 4 ||
      pathEnd - at - 4 > filePathBytesMax) return `entry path at ${at} runs past the block`;
    const end = pathEnd + chunkCountAfterPath + 4 +
      block.readUInt32BE(pathEnd + chunkCountAfterPath) * chunkRefBytes;
    if (end > block.length) return `entry at ${at} runs past the block`;
    if (count === 0 && block.compare(first, 0, first.length, at + 4, pathEnd) !== 0) {
      return "first path differs from the index";
    }
    if (count > 0 && block.compare(block, previousStart, previousEnd, at + 4, pathEnd) <= 0) {
      return `entry at ${at} is out of order`;
    }
    previousStart = at + 4;
    previousEnd = pathEnd;
    count += 1;
    at = end;
  }
  return count === row.entryCount ? null : `${count} entries, index says ${row.entryCount}`;
}

/**
 * The offset of the first entry of a checked block whose path is >= `target` (UTF-8 bytes),
 * the block's length if none, and whether that entry's path equals `target`. Compares bytes
 * in place: no entry is decoded.
 */
function seek(block: Buffer, target: Buffer): { offset: number; exact: boolean } {
  let at = 0;
  while (at < block.length) {
    const pathEnd = at + 4 + block.readUInt32BE(at);
    const order = block.compare(target, 0, target.length, at + 4, pathEnd);
    if (order >= 0) return { offset: at, exact: order === 0 };
    at = pathEnd + chunkCountAfterPath + 4 +
      block.readUInt32BE(pathEnd + chunkCountAfterPath) * chunkRefBytes;
  }
  return { offset: at, exact: false };
}

/** Checks the index rows against the footer and the file layout. */
function checkRows(footer: ManifestFooter, rows: readonly BlockRow[]): void {
  let offset = manifestHeaderBytes;
  let entries = 0;
  let previous: string | null = null;
  for (const row of rows) {
    if (row.offset !== offset || row.entryCount === 0) {
      throw new MalformedPayloadError(`block at ${row.offset} is not at ${offset} or is empty`);
    }
    if (previous !== null && comparePaths(previous, row.firstPath) >= 0) {
      throw new MalformedPayloadError(`block first path "${row.firstPath}" is out of order`);
    }
    previous = row.firstPath;
    offset += row.length;
    entries += row.entryCount;
  }
  if (offset !== footer.indexOffset || entries !== footer.entryCount) {
    throw new MalformedPayloadError(
      `blocks end at ${offset} with ${entries} entries; footer says ${footer.indexOffset}, ` +
      `${footer.entryCount}`,
    );
  }
}

async function readExactly(handle: fs.FileHandle, length: number, position: number):
  Promise<Buffer> {
  const bytes = Buffer.alloc(length);
  const { bytesRead } = await handle.read(bytes, 0, length, position);
  if (bytesRead !== length) throw new MalformedPayloadError(`read ${bytesRead} of ${length} B`);
  return bytes;
}

/**
 * The footer of a manifest of `size` bytes from its first and last bytes, checked against its
 * CRC and the file's size. Throws `MalformedPayloadError`.
 */
export function checkedFooter(size: number, header: Buffer, footerBytes: Buffer): ManifestFooter {
  const footer = decodeFooter(header, footerBytes);
  if (footer.indexLength > manifestIndexBytesMax ||
    footer.indexOffset + footer.indexLength + manifestFooterBytes !== size) {
    throw new MalformedPayloadError(`index of ${footer.indexLength} B at ${footer.indexOffset} ` +
      `does not fit a file of ${size} B`);
  }
  return footer;
}

/** The index rows, checked against the index CRC and the footer. Throws `MalformedPayloadError`. */
export function checkedRows(footer: ManifestFooter, index: Buffer): BlockRow[] {
  const actual = crc32(index);
  if (actual !== footer.indexCrc) {
    throw new MalformedPayloadError(`index checksum ${actual} != ${footer.indexCrc}`);
  }
  const rows = decodeIndex(index, footer.blockCount);
  checkRows(footer, rows);
  return rows;
}

/** Throws `MalformedPayloadError` when `size` bytes cannot hold a manifest's header and footer. */
export function checkManifestSize(size: number): void {
  if (size < manifestHeaderBytes + manifestFooterBytes) {
    throw new MalformedPayloadError(`file of ${size} B is too short`);
  }
}

async function readLayout(handle: fs.FileHandle):
  Promise<{ footer: ManifestFooter; rows: BlockRow[] }> {
  const { size } = await handle.stat();
  checkManifestSize(size);
  const header = await readExactly(handle, manifestHeaderBytes, 0);
  const footerBytes = await readExactly(handle, manifestFooterBytes, size - manifestFooterBytes);
  const footer = checkedFooter(size, header, footerBytes);
  const index = await readExactly(handle, footer.indexLength, footer.indexOffset);
  return { footer, rows: checkedRows(footer, index) };
}

/** Options of `openManifest`. */
export interface OpenManifestOptions {
  /** Also read and check every block now (`verify()`), not only when each is first read. */
  readonly verifyBlocks?: boolean;
}

/**
 * Opens the manifest `file`. Errors: NOT_FOUND if it does not exist; DATA_CORRUPTED if its
 * header, footer or index (or, with `verifyBlocks`, any block) fails its checksum or layout.
 */
export async function openManifest(file: string, options: OpenManifestOptions = {}):
  Promise<Manifest> {
  const handle = await openExisting(file, "r", "manifest");
  try {
    const { footer, rows } = await readLayout(handle);
    const manifest = new Manifest(file, handle, footer, rows);
    if (options.verifyBlocks === true) await manifest.verify();
    return manifest;
  } catch (error) {
    await handle.close();
    if (error instanceof MalformedPayloadError) throw corrupted(file, error.message);
    throw error;
  }
}

/** A manifest with no entries (the parent of a repo's first commit); needs no file. */
export function emptyManifest(): Manifest {
  return new Manifest("(empty)", null, {
    indexOffset: manifestHeaderBytes, indexLength: 0, indexCrc: 0, blockCount: 0,
    entryCount: 0, totalSizeBytes: 0,
  }, []);
}

/** The direct child of `prefix` that `path` (which starts with it) lies in or is. */
function childOf(path: string, prefix: string): { name: string; isFile: boolean } {
  const slash = path.indexOf("/", prefix.length);
  if (slash < 0) return { name: path.slice(prefix.length), isFile: true };
  return { name: path.slice(prefix.length, slash), isFile: false };
}

/**
 * The direct children of directory `dir` in `source`: files, and implicit directories with the
 * total size and count of the files below them. Streams (one pass over the entries below
 * `dir`), yielding children in manifest order: by name for files and name + "/" for
 * directories, bytewise. Nothing is yielded for a `dir` with no files below it.
 */
export async function* listChildren(source: EntrySource, dir: string):
  AsyncGenerator<DirectoryChild> {
  const prefix = directoryPrefix(dir);
  let open: { name: string; sizeBytes: number; fileCount: number } | null = null;
  for await (const entry of source.entries(prefix)) {
    const child = childOf(entry.path, prefix);
    if (open !== null && (child.isFile || child.name !== open.name)) {
      yield { ...open, path: prefix + open.name, kind: "directory" };
      open = null;
    }
    if (child.isFile) {
      yield { name: child.name, path: entry.path, kind: "file", sizeBytes: entry.size,
        fileCount: 1, entry };
    } else if (open === null) {
      open = { name: child.name, sizeBytes: entry.size, fileCount: 1 };
    } else {
      open.sizeBytes += entry.size;
      open.fileCount += 1;
    }
  }
  if (open !== null) yield { ...open, path: prefix + open.name, kind: "directory" };
}
