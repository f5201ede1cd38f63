/**
 * A write session of a chunk store: the batch-friendly way to store many chunks with few
 * fsyncs, which is what makes ingest of many small files fast.
 *
 * `add` hashes a chunk, pins it (see chunk-guard.ts) and, unless the store already has it,
 * writes it to a temp file that stays open. `commit` fsyncs the temp files (many in flight at
 * once, so the file system groups them), renames each into its fan-out directory under the
 * chunk's lock, fsyncs each touched directory once, and then unpins. Nothing a session adds is
 * durable, or visible under its id, before `commit` resolves; after it, all of it is.
 *
 * Invariants: a session is used by one writer, `add` calls may overlap; after `commit` or
 * `abort` starts, no `add`. At most `chunkSessionOpenFilesMax` temp files are open: past that
 * the session fsyncs and closes them early (they are renamed at commit). Locks of a commit are
 * taken in ascending id order, the only multi-key locking in the store, so it cannot deadlock.
 */
import { randomBytes } from "node:crypto";
import { access, open, rename, unlink, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { LimitError, assert } from "../../common/index.js";
import type { ChunkRef, Sha256Hex } from "../model.js";
import { chunkPath, fanOutDirName, sha256Hex } from "./chunk-id.js";
import type { ChunkGuard } from "./chunk-guard.js";
import type { Chunk } from "./chunker.js";
import { forEachBounded, isNotFound, syncDir } from "./durable-fs.js";
import { chunkBytesMaxLimit, chunkFsyncConcurrencyMax, chunkSessionOpenFilesMax } from "./limits.js";

/** What storing a chunk did. `stored` is false when the store or session already had it. */
export interface PutResult extends ChunkRef {
  readonly stored: boolean;
}

/** Where a session keeps its files: the store's directory and its temp directory. */
export interface SessionPaths {
  readonly dir: string;
  readonly tempDir: string;
}

interface OpenTemp {
  readonly path: string;
  readonly handle: FileHandle;
}

type SessionState = "open" | "committing" | "committed" | "aborted";

export class ChunkWriteSession {
  readonly #paths: SessionPaths;
  readonly #guard: ChunkGuard;
  /** Every id added (pinned once each); the value is its temp file, or "" when already stored. */
  readonly #added = new Map<Sha256Hex, string>();
  /** Temp files written and not yet fsynced. */
  #openTemps: OpenTemp[] = [];
  /** `add` calls still running; `commit` and `abort` wait for them. */
  readonly #running = new Set<Promise<unknown>>();
  #state: SessionState = "open";

  constructor(paths: SessionPaths, guard: ChunkGuard) {
    this.#paths = paths;
    this.#guard = guard;
  }

  /** Chunks added so far (distinct ids). */
  get chunkCount(): number {
    return this.#added.size;
  }

  /** Adds a chunk given by its bytes (hashed here). Durable only once `commit` resolves. */
  add(bytes: Uint8Array): Promise<PutResult> {
    return this.#track(this.#add(sha256Hex(bytes), bytes));
  }

  /**
   * Adds a chunk a `Chunker` of this process cut: its id is trusted, not recomputed. Never pass
   * ids from outside the process here (a replica's pushed chunk goes through `add`).
   */
  addChunk(chunk: Chunk): Promise<PutResult> {
    return this.#track(this.#add(chunk.id, chunk.bytes));
  }

  #track(work: Promise<PutResult>): Promise<PutResult> {
    this.#running.add(work);
    const forget = (): void => {
      this.#running.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  async #add(id: Sha256Hex, bytes: Uint8Array): Promise<PutResult> {
    assert(this.#state === "open", () => `add to a session that is ${this.#state}`);
    if (bytes.length > chunkBytesMaxLimit) {
      throw new LimitError("chunkBytesMaxLimit", chunkBytesMaxLimit, bytes.length);
    }
    const size = bytes.length;
    if (this.#added.has(id)) return { id, size, stored: false };
    this.#added.set(id, "");
    const final = chunkPath(this.#paths.dir, id);
    let present: boolean;
    const release = await this.#guard.lock.acquire(id);
    try {
      this.#guard.pinAndMark(id);
      present = await fileExists(final);
    } finally {
      release();
    }
    if (present) return { id, size, stored: false };
    const tempPath = path.join(this.#paths.tempDir, `${id}.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(tempPath, "wx");
    this.#added.set(id, tempPath);
    this.#openTemps.push({ path: tempPath, handle });
    await writeAll(handle, bytes);
    if (this.#openTemps.length >= chunkSessionOpenFilesMax) await this.#syncOpenTemps();
    return { id, size, stored: true };
  }

  /** fsyncs and closes every open temp file. */
  async #syncOpenTemps(): Promise<void> {
    const temps = this.#openTemps;
    this.#openTemps = [];
    const failures: unknown[] = [];
    await forEachBounded(temps, chunkFsyncConcurrencyMax, async (temp) => {
      try {
        if (failures.length === 0) await temp.handle.datasync();
      } catch (error) {
        failures.push(error);
      } finally {
        await temp.handle.close();
      }
    });
    if (failures.length > 0) throw asError(failures[0]);
  }

  /**
   * Makes every added chunk durable under its id, then ends the session. On an I/O error the
   * session is aborted (its temp files removed) and the error rethrown: then none of its new
   * chunks may be assumed stored.
   */
  async commit(): Promise<void> {
    assert(this.#state === "open", () => `commit of a session that is ${this.#state}`);
    this.#state = "committing";
    try {
      await Promise.all(this.#running);
      await this.#syncOpenTemps();
      await this.#renameAll();
    } catch (error) {
      await this.#discard();
      throw error;
    }
    this.#unpinAll();
    this.#state = "committed";
  }

  /** Renames every temp file into place under the locks, and fsyncs each touched directory. */
  async #renameAll(): Promise<void> {
    const written = [...this.#added].filter(([, tempPath]) => tempPath !== "");
    if (written.length === 0) return;
    const release = await this.#guard.lock.acquireAll(written.map(([id]) => id));
    try {
      const dirs = new Set<string>();
      for (const [id, tempPath] of written) {
        await rename(tempPath, chunkPath(this.#paths.dir, id));
        this.#added.set(id, "");
        dirs.add(path.join(this.#paths.dir, fanOutDirName(id)));
      }
      await forEachBounded([...dirs], chunkFsyncConcurrencyMax, syncDir);
    } finally {
      release();
    }
  }

  /** Ends the session storing nothing more: removes its temp files and unpins its ids. */
  async abort(): Promise<void> {
    assert(this.#state === "open", () => `abort of a session that is ${this.#state}`);
    this.#state = "committing";
    await this.#discard();
  }

  async #discard(): Promise<void> {
    await Promise.allSettled(this.#running);
    const temps = this.#openTemps;
    this.#openTemps = [];
    await Promise.allSettled(temps.map((temp) => temp.handle.close()));
    for (const tempPath of this.#added.values()) {
      if (tempPath !== "") await unlink(tempPath).catch(ignoreNotFound);
    }
    this.#unpinAll();
    this.#state = "aborted";
  }

  #unpinAll(): void {
    for (const id of this.#added.keys()) this.#guard.unpin(id);
    this.#added.clear();
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const result = await handle.write(bytes, written, bytes.length - written);
    assert(result.bytesWritten > 0, "a chunk write made no progress");
    written += result.bytesWritten;
  }
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
