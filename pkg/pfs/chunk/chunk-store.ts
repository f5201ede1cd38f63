/**
 * The content-addressed chunk store of one shard replica (DESIGN.md §3): every chunk once,
 * in a file named by its id, whatever files and commits refer to it.
 *
 * Layout under the store directory: `<id[0..2]>/<id[2..64]>` holds a chunk's bytes exactly
 * (256 fan-out directories, created at open, keep directories small); `tmp/` holds files being
 * written, and whatever is left there from a crash is removed at open.
 *
 * Invariants: a file under a fan-out directory got there by rename after its bytes were
 * fsynced, and its directory was fsynced before the put that wrote it resolved; its bytes hash
 * to its name unless the disk damaged them, which `get` detects (DATA_CORRUPTED). A chunk that
 * exists is never rewritten by a put (dedup). One process owns a store directory: the locks,
 * pins and marks that make puts and garbage collection safe together live in its memory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import * as path from "node:path";
import { PfsError, type Logger, silentLogger } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import { checkChunkId, chunkPath, fanOutDirName, isChunkId, sha256Hex } from "./chunk-id.js";
import { BufferPool } from "./buffer-pool.js";
import { ChunkGuard } from "./chunk-guard.js";
import { ChunkWriteSession, type PutResult } from "./chunk-write-session.js";
import { isNotFound, makeDirDurable, syncDir } from "../durable-fs.js";
import { GarbageCollection } from "./garbage-collection.js";
import { chunkBytesMaxLimit, chunkFanOutDirs } from "./limits.js";

/** Options of `ChunkStore.open`. */
export interface ChunkStoreOptions {
  /** The store's directory; created (durably) when missing. */
  readonly dir: string;
  readonly logger?: Logger;
}

const tempDirName = "tmp";

function fanOutNames(): string[] {
  const names: string[] = [];
  for (let i = 0; i < chunkFanOutDirs; i += 1) names.push(i.toString(16).padStart(2, "0"));
  return names;
}

export class ChunkStore {
  /** The store's directory. */
  readonly dir: string;
  readonly #tempDir: string;
  readonly #guard = new ChunkGuard();
  /** Buffers big chunks are assembled in on their way into this store (buffer-pool.ts). */
  readonly #bufferPool = new BufferPool();
  readonly #logger: Logger;

  private constructor(dir: string, logger: Logger) {
    this.dir = dir;
    this.#tempDir = path.join(dir, tempDirName);
    this.#logger = logger;
  }

  /**
   * Opens (creating if needed) the store in `options.dir`: makes the fan-out and temp
   * directories durably and removes temp files a crash left behind.
   */
  static async open(options: ChunkStoreOptions): Promise<ChunkStore> {
    const store = new ChunkStore(path.resolve(options.dir), options.logger ?? silentLogger);
    await store.#prepare();
    return store;
  }

  async #prepare(): Promise<void> {
    await makeDirDurable(this.dir);
    const existing = new Set(await readdir(this.dir));
    let created = 0;
    for (const name of [...fanOutNames(), tempDirName]) {
      if (existing.has(name)) continue;
      await mkdir(path.join(this.dir, name));
      created += 1;
    }
    if (created > 0) await syncDir(this.dir);
    const leftovers = await readdir(this.#tempDir);
    for (const name of leftovers) {
      await rm(path.join(this.#tempDir, name), { recursive: true, force: true });
    }
    if (leftovers.length > 0) {
      await syncDir(this.#tempDir);
      this.#logger.info("removed temp files left by a crash", { dir: this.dir, count: leftovers.length });
    }
  }

  /** Starts a write session (see chunk-write-session.ts): many puts, one round of fsyncs. */
  openSession(): ChunkWriteSession {
    return new ChunkWriteSession({ dir: this.dir, tempDir: this.#tempDir }, this.#guard,
      this.#bufferPool);
  }

  /** Stores one chunk durably; resolves once it is. A chunk already stored is not rewritten. */
  async put(bytes: Uint8Array): Promise<PutResult> {
    const [result] = await this.putMany([bytes]);
    if (result === undefined) throw new PfsError("INTERNAL", "putMany returned no result");
    return result;
  }

  /** Stores several chunks durably with one round of fsyncs; results are in input order. */
  async putMany(chunks: Iterable<Uint8Array>): Promise<PutResult[]> {
    const session = this.openSession();
    let results: PutResult[];
    try {
      results = await Promise.all([...chunks].map((bytes) => session.add(bytes)));
    } catch (error) {
      await session.abort();
      throw error;
    }
    await session.commit();
    return results;
  }

  /**
   * The bytes of chunk `id`, verified against the id. NOT_FOUND when the store lacks it,
   * DATA_CORRUPTED (naming the chunk) when its bytes do not hash to its id.
   */
  async get(id: Sha256Hex): Promise<Uint8Array> {
    checkChunkId(id);
    const bytes = await this.#readRaw(id);
    const actual = sha256Hex(bytes);
    if (actual !== id) {
      throw new PfsError("DATA_CORRUPTED", `chunk ${id} is corrupted: its ${bytes.length} bytes ` +
        `hash to ${actual}`, { chunk: id, dir: this.dir });
    }
    return bytes;
  }

  /**
   * Replaces the stored copy of chunk `id` with `bytes` (which must hash to `id`:
   * INVALID_ARGUMENT otherwise, and nothing changes): for a copy found damaged, repaired from
   * another replica. Durable when it resolves: the bytes go to a temp file that is fsynced,
   * renamed over the chunk's file under its lock, and the fan-out directory is fsynced. A
   * reader sees the old file or the new one whole. The chunk is held from collection
   * (`chunkHoldMs`), as for a pushed chunk. Works whether or not a copy is there now.
   */
  async replace(id: Sha256Hex, bytes: Uint8Array): Promise<void> {
    checkChunkId(id);
    const actual = sha256Hex(bytes);
    if (actual !== id || bytes.length > chunkBytesMaxLimit) {
      throw new PfsError("INVALID_ARGUMENT", `replacement for chunk ${id} hashes to ${actual} ` +
        `(${bytes.length} bytes)`, { chunk: id });
    }
    const tempPath = path.join(this.#tempDir, `${id}.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(tempPath, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tempPath, { force: true });
      throw error;
    }
    await handle.close();
    const release = await this.#guard.lock.acquire(id);
    try {
      this.#guard.hold(id);
      await rename(tempPath, chunkPath(this.dir, id));
      await syncDir(path.join(this.dir, fanOutDirName(id)));
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    } finally {
      release();
    }
  }

  async #readRaw(id: Sha256Hex): Promise<Uint8Array> {
    let handle;
    try {
      handle = await open(chunkPath(this.dir, id), "r");
    } catch (error) {
      if (isNotFound(error)) throw chunkNotFound(id);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size > chunkBytesMaxLimit) {
        throw new PfsError("DATA_CORRUPTED", `chunk ${id} is corrupted: ${size} bytes is more ` +
          `than any chunk (${chunkBytesMaxLimit})`, { chunk: id, dir: this.dir });
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  /** True when the store has chunk `id` (its bytes are not verified). */
  async has(id: Sha256Hex): Promise<boolean> {
    try {
      await this.size(id);
      return true;
    } catch (error) {
      if (error instanceof PfsError && error.code === "NOT_FOUND") return false;
      throw error;
    }
  }

  /**
   * Holds `id` from collection for `chunkHoldMs` (chunk-guard.ts), then says whether the store
   * has it: for a caller that will push it if absent and record a file naming it in a later
   * call. Held first, under its lock, so no collection deletes it after the answer.
   */
  async hasAndHold(id: Sha256Hex): Promise<boolean> {
    const release = await this.#guard.lock.acquire(id);
    try {
      this.#guard.hold(id);
      return await this.has(id);
    } finally {
      release();
    }
  }

  /** Holds each of `ids` from collection for `chunkHoldMs` (chunk-guard.ts), under its lock. */
  async hold(ids: Iterable<Sha256Hex>): Promise<void> {
    for (const id of ids) {
      const release = await this.#guard.lock.acquire(id);
      this.#guard.hold(id);
      release();
    }
  }

  /** The size in bytes of chunk `id`; NOT_FOUND when missing. */
  async size(id: Sha256Hex): Promise<number> {
    checkChunkId(id);
    try {
      return (await stat(chunkPath(this.dir, id))).size;
    } catch (error) {
      if (isNotFound(error)) throw chunkNotFound(id);
      throw error;
    }
  }

  /** Every stored chunk id, in ascending order, one fan-out directory read at a time. */
  async *list(): AsyncGenerator<Sha256Hex> {
    for (const fanOut of fanOutNames()) {
      const names = await readdir(path.join(this.dir, fanOut));
      names.sort();
      for (const name of names) {
        const id = fanOut + name;
        if (isChunkId(id)) yield id;
      }
    }
  }

  /**
   * Removes chunk `id` durably; false when it was not there. Unconditional: it does not look at
   * references, pins or marks (that is what `collectGarbage` is for).
   */
  async delete(id: Sha256Hex): Promise<boolean> {
    checkChunkId(id);
    const release = await this.#guard.lock.acquire(id);
    try {
      await unlink(chunkPath(this.dir, id));
      await syncDir(path.join(this.dir, fanOutDirName(id)));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    } finally {
      release();
    }
  }

  /**
   * Starts a garbage collection: from now on, every chunk put is spared by it. Compute the
   * references after this returns, then `sweep` them (see garbage-collection.ts).
   */
  beginGarbageCollection(): GarbageCollection {
    return new GarbageCollection(this, this.#guard, this.#logger);
  }

  /** Ids pinned by open write sessions (for tests: zero once every session has ended). */
  get pinnedCount(): number {
    return this.#guard.pinnedCount;
  }
}

function chunkNotFound(id: Sha256Hex): PfsError {
  return new PfsError("NOT_FOUND", `chunk ${id} not found`, { chunk: id });
}
