/**
 * Writes a manifest as a stream: entries arrive in strictly increasing path order and are
 * packed into blocks written as they fill, so memory stays at one block plus the index rows
 * whatever the entry count. `commit()` writes the index and footer, fsyncs the file, renames
 * it over its final name and fsyncs the directory: the manifest appears whole or not at all.
 * Until then everything lives in a temporary file beside it, which `abort()` (or any failed
 * `add`) removes. The byte layout is deterministic: the same entries give the same file.
 */
import { crc32 } from "node:zlib";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { PfsError, assert } from "../../common/index.js";
import type { FileEntry } from "../model.js";
import { syncDir, temporaryPath } from "../durable-fs.js";
import { encodedEntryBytes, writeEntry } from "./entry-codec.js";
import {
  type BlockRow, encodeFooter, encodeHeader, encodeIndex, manifestHeaderBytes,
} from "./manifest-format.js";
import { manifestBlockBytesTarget } from "./limits.js";
import { checkFileEntry, comparePaths } from "./path-order.js";

/** What a written manifest holds. */
export interface ManifestSummary {
  readonly entryCount: number;
  /** The sum of its files' sizes. */
  readonly totalSizeBytes: number;
}

/** A manifest being written. Owned by its creator: call `commit()` or `abort()` exactly once. */
export class ManifestWriter {
  readonly #file: string;
  readonly #temporary: string;
  readonly #handle: fs.FileHandle;
  readonly #header = encodeHeader();
  readonly #rows: BlockRow[] = [];
  #block: Buffer = Buffer.allocUnsafe(manifestBlockBytesTarget * 2);
  #blockBytes = 0;
  #blockEntries = 0;
  #blockFirstPath = "";
  #offset = manifestHeaderBytes;
  #lastPath: string | null = null;
  #entryCount = 0;
  #totalSizeBytes = 0;
  #state: "writing" | "done" = "writing";

  private constructor(file: string, temporary: string, handle: fs.FileHandle) {
    this.#file = file;
    this.#temporary = temporary;
    this.#handle = handle;
  }

  /** Starts a manifest that `commit()` will publish as `file` (replacing any file there). */
  static async create(file: string): Promise<ManifestWriter> {
    const temporary = temporaryPath(file);
    const handle = await fs.open(temporary, "wx");
    const writer = new ManifestWriter(file, temporary, handle);
    try {
      await handle.write(writer.#header, 0, manifestHeaderBytes, 0);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  /**
   * Adds the next entry. Errors (the writer is aborted, nothing is published): INVALID_ARGUMENT
   * for a malformed entry or a path not strictly after the previous one.
   */
  async add(entry: FileEntry): Promise<void> {
    assert(this.#state === "writing", () => `add to a ${this.#state} manifest ${this.#file}`);
    const problem = this.#check(entry);
    if (problem !== null) {
      await this.abort();
      throw problem;
    }
    const bytes = encodedEntryBytes(Buffer.byteLength(entry.path, "utf8"), entry.chunks.length);
    if (this.#blockBytes + bytes > this.#block.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#block.length * 2, this.#blockBytes + bytes));
      this.#block.copy(grown, 0, 0, this.#blockBytes);
      this.#block = grown;
    }
    if (this.#blockEntries === 0) this.#blockFirstPath = entry.path;
    this.#blockBytes = writeEntry(this.#block, entry, this.#blockBytes);
    this.#blockEntries += 1;
    this.#entryCount += 1;
    this.#totalSizeBytes += entry.size;
    this.#lastPath = entry.path;
    if (this.#blockBytes >= manifestBlockBytesTarget) await this.#guard(() => this.#flushBlock());
  }

  #check(entry: FileEntry): PfsError | null {
    const problem = checkFileEntry(entry);
    if (problem !== null) return problem;
    if (this.#lastPath !== null && comparePaths(this.#lastPath, entry.path) >= 0) {
      return new PfsError(
        "INVALID_ARGUMENT",
        `manifest entry "${entry.path}" does not sort after "${this.#lastPath}"`,
      );
    }
    return null;
  }

  async #guard(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async #flushBlock(): Promise<void> {
    if (this.#blockEntries === 0) return;
    const block = this.#block.subarray(0, this.#blockBytes);
    this.#rows.push({
      offset: this.#offset, length: block.length, crc: crc32(block),
      entryCount: this.#blockEntries, firstPath: this.#blockFirstPath,
    });
    await this.#handle.write(block, 0, block.length, this.#offset);
    this.#offset += block.length;
    this.#blockBytes = 0;
    this.#blockEntries = 0;
  }

  /** Writes index and footer, fsyncs, and publishes the manifest durably under its name. */
  async commit(): Promise<ManifestSummary> {
    assert(this.#state === "writing", () => `commit of a ${this.#state} manifest ${this.#file}`);
    await this.#guard(async () => {
      await this.#flushBlock();
      const index = encodeIndex(this.#rows);
      const footer = encodeFooter(this.#header, {
        indexOffset: this.#offset, indexLength: index.length, indexCrc: crc32(index),
        blockCount: this.#rows.length, entryCount: this.#entryCount,
        totalSizeBytes: this.#totalSizeBytes,
      });
      await this.#handle.write(Buffer.concat([index, footer]), 0, index.length + footer.length,
        this.#offset);
      await this.#handle.sync();
      this.#state = "done";
      await this.#handle.close();
      await fs.rename(this.#temporary, this.#file);
      await syncDir(path.dirname(this.#file));
    });
    return { entryCount: this.#entryCount, totalSizeBytes: this.#totalSizeBytes };
  }

  /** Drops the manifest: closes and removes the temporary file. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.#state === "writing") {
      this.#state = "done";
      await this.#handle.close();
    }
    await fs.rm(this.#temporary, { force: true });
  }
}

/**
 * Writes `entries` (strictly increasing paths) as the manifest `file`, atomically and durably.
 * On any error nothing is published and the temporary file is removed.
 */
export async function writeManifest(
  file: string,
  entries: Iterable<FileEntry> | AsyncIterable<FileEntry>,
): Promise<ManifestSummary> {
  const writer = await ManifestWriter.create(file);
  try {
    for await (const entry of entries) await writer.add(entry);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.commit();
}
