/**
 * A write session of a chunk store: the batch-friendly way to store many chunks with few
 * waits on the disk, which is what makes ingest of many small files fast.
 *
 * Each added chunk becomes a background write: under the chunk's lock it is pinned and
 * marked (see chunk-guard.ts) and looked up; unless the store has it, its bytes go to a temp
 * file that is fsynced and closed. Up to `chunkSessionWritesInFlightMax` writes (and
 * `chunkSessionBytesInFlightMax` bytes) run at once, so the file system groups their fsyncs;
 * adding past that waits. `commit` waits for the writes, renames each temp file into its
 * fan-out directory under the chunks' locks, fsyncs each touched directory once, and unpins.
 * Nothing a session adds is durable, or visible under its id, before `commit` resolves; after
 * it, all of it is. A chunk in a pooled buffer (buffer-pool.ts) is the session's from `write`
 * on: its buffer goes back to the pool as soon as its temp file is fsynced (or it turns out
 * not to be needed), before `commit`, since renaming needs only the file. A failed write
 * fails `commit`, which then removes the session's temp files.
 *
 * Invariants: `add`/`write` calls may overlap; none after `commit` or `abort` started. Locks of
 * a commit are taken in ascending id order, the only multi-key locking in the store, so it
 * cannot deadlock with anything holding one key.
 */
import { randomBytes } from "node:crypto";
import { access, open, rename, unlink } from "node:fs/promises";
import * as path from "node:path";
import { LimitError, PfsError, assert } from "../../common/index.js";
import type { ChunkRef, Sha256Hex } from "../model.js";
import { chunkPath, fanOutDirName, sha256Hex } from "./chunk-id.js";
import type { BufferPool } from "./buffer-pool.js";
import type { ChunkGuard } from "./chunk-guard.js";
import type { Chunk } from "./chunker.js";
import { forEachBounded, isNotFound, syncDir } from "../durable-fs.js";
import {
  chunkBytesMaxLimit, chunkFsyncConcurrencyMax, chunkSessionBytesInFlightMax,
  chunkSessionWritesInFlightMax,
} from "./limits.js";

/** What storing a chunk did. `stored` is false when the store or session already had it. */
export interface PutResult extends ChunkRef {
  readonly stored: boolean;
}

/** Where a session keeps its files: the store's directory and its temp directory. */
export interface SessionPaths {
  readonly dir: string;
  readonly tempDir: string;
}

/** A chunk's write: its promise, and whether this add started it (false: an earlier one did). */
interface StartedWrite {
  readonly write: Promise<string>;
  readonly first: boolean;
}

type SessionState = "open" | "committing" | "committed" | "aborted";

export class ChunkWriteSession {
  readonly #paths: SessionPaths;
  readonly #guard: ChunkGuard;
  /** The store's pool: chunkers writing into this session assemble big chunks in it. */
  readonly bufferPool: BufferPool;
  /** Per id added: its write, resolving to its temp file ("" when the store already had it). */
  readonly #writes = new Map<Sha256Hex, Promise<string>>();
  /** Ids pinned by this session (a write pins its id before it touches the disk). */
  readonly #pinned: Sha256Hex[] = [];
  #inFlightWrites = 0;
  #inFlightBytes = 0;
  /** Adds waiting for room in the in-flight bounds, woken in order. */
  readonly #waiting: (() => void)[] = [];
  #state: SessionState = "open";
  /** Ends this session's use of the buffer pool (its free buffers go when no session is open). */
  readonly #poolUse: () => void;

  constructor(paths: SessionPaths, guard: ChunkGuard, bufferPool: BufferPool) {
    this.#paths = paths;
    this.#guard = guard;
    this.bufferPool = bufferPool;
    this.#poolUse = bufferPool.use();
  }

  /** Chunks added so far (distinct ids). */
  get chunkCount(): number {
    return this.#writes.size;
  }

  /**
   * Adds a chunk given by its bytes (hashed here); resolves when its write is done. With
   * `expected` (a chunk pushed by a replica or a client, named by the sender), bytes whose
   * sha256 or size differ are refused with INVALID_ARGUMENT and nothing is written.
   */
  async add(bytes: Uint8Array, expected?: ChunkRef): Promise<PutResult> {
    const id = sha256Hex(bytes);
    if (expected !== undefined && (expected.id !== id || expected.size !== bytes.length)) {
      throw new PfsError("INVALID_ARGUMENT", `chunk named ${expected.id} (${expected.size} ` +
        `bytes) has ${bytes.length} bytes hashing to ${id}`, { chunk: expected.id });
    }
    const { write, first } = await this.#start(id, bytes);
    const tempPath = await write;
    return { id, size: bytes.length, stored: first && tempPath !== "" };
  }

  /**
   * Starts writing a chunk a `Chunker` of this process cut (its id is trusted, not
   * recomputed); resolves as soon as the write is under way, without waiting for it. `bytes`
   * must not change until the write is done. A failure of the write surfaces at `commit`.
   * Never pass ids from outside the process here (a replica's pushed chunk goes to `add`).
   * The session takes the chunk: a pooled chunk's buffer goes back to its pool once the write
   * is done (its temp file fsynced, or found not needed), or at once if it starts no write.
   */
  async write(chunk: Chunk): Promise<void> {
    const giveBack = (): void => chunk.pool?.give(chunk.bytes);
    // A pooled chunk holds all of its buffer, whatever part of it the chunk fills.
    const weight = chunk.pool === undefined ? chunk.bytes.length : chunk.bytes.buffer.byteLength;
    try {
      const { first } = await this.#start(chunk.id, chunk.bytes, weight, giveBack);
      if (!first) giveBack();
    } catch (error) {
      giveBack();
      throw error;
    }
  }

  /**
   * Starts the write of chunk `id` unless this session has one; `done` runs once the write it
   * starts settles. `weight` is the memory the write holds, counted against the in-flight
   * bytes. Resolves once the write is admitted to the in-flight bounds.
   */
  async #start(id: Sha256Hex, bytes: Uint8Array, weight: number = bytes.length,
    done: () => void = () => undefined): Promise<StartedWrite> {
    assert(this.#state === "open", () => `add to a session that is ${this.#state}`);
    if (bytes.length > chunkBytesMaxLimit) {
      throw new LimitError("chunkBytesMaxLimit", chunkBytesMaxLimit, bytes.length);
    }
    const existing = this.#writes.get(id);
    if (existing !== undefined) return { write: existing, first: false };
    let admitted: () => void = () => undefined;
    const admission = new Promise<void>((resolve) => {
      admitted = resolve;
    });
    const write = this.#admitThenWrite(id, bytes, weight, admitted).finally(done);
    this.#writes.set(id, write);
    write.catch(() => undefined); // Reported by `add` or `commit`, not as unhandled.
    await admission;
    return { write, first: true };
  }

  async #admitThenWrite(id: Sha256Hex, bytes: Uint8Array, weight: number, admitted: () => void):
    Promise<string> {
    const full = (): boolean => this.#inFlightWrites >= chunkSessionWritesInFlightMax ||
      (this.#inFlightWrites > 0 &&
        this.#inFlightBytes + weight > chunkSessionBytesInFlightMax);
    while (full()) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#inFlightWrites += 1;
    this.#inFlightBytes += weight;
    admitted();
    try {
      return await this.#writeOne(id, bytes);
    } finally {
      this.#inFlightWrites -= 1;
      this.#inFlightBytes -= weight;
      this.#waiting.shift()?.();
    }
  }

  /** Pins the id, and unless the store has the chunk writes it to a fsynced temp file. */
  async #writeOne(id: Sha256Hex, bytes: Uint8Array): Promise<string> {
    let present: boolean;
    const release = await this.#guard.lock.acquire(id);
    try {
      this.#guard.pinAndMark(id);
      this.#pinned.push(id);
      present = await fileExists(chunkPath(this.#paths.dir, id));
    } finally {
      release();
    }
    if (present) return "";
    const tempPath = path.join(this.#paths.tempDir, `${id}.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(tempPath, "wx");
    try {
      let written = 0;
      while (written < bytes.length) {
        const result = await handle.write(bytes, written, bytes.length - written);
        assert(result.bytesWritten > 0, "a chunk write made no progress");
        written += result.bytesWritten;
      }
      await handle.datasync();
    } catch (error) {
      await handle.close();
      await unlink(tempPath).catch(ignoreNotFound);
      throw error;
    }
    await handle.close();
    return tempPath;
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
      const temps = await Promise.all(this.#writes.values());
      await this.#renameAll([...this.#writes.keys()], temps);
    } catch (error) {
      await this.#discard();
      throw error;
    }
    this.#unpinAll();
    this.#state = "committed";
    this.#poolUse();
  }

  /** Renames the temp files into place under their locks; fsyncs each touched directory once. */
  async #renameAll(ids: readonly Sha256Hex[], temps: readonly string[]): Promise<void> {
    const renames: { id: Sha256Hex; tempPath: string }[] = [];
    ids.forEach((id, index) => {
      const tempPath = temps[index] ?? "";
      if (tempPath !== "") renames.push({ id, tempPath });
    });
    if (renames.length === 0) return;
    const release = await this.#guard.lock.acquireAll(renames.map((entry) => entry.id));
    try {
      await forEachBounded(renames, chunkFsyncConcurrencyMax, async ({ id, tempPath }) => {
        await rename(tempPath, chunkPath(this.#paths.dir, id));
        this.#writes.set(id, Promise.resolve(""));
      });
      const dirs = new Set(renames.map(({ id }) => path.join(this.#paths.dir, fanOutDirName(id))));
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
    const outcomes = await Promise.allSettled(this.#writes.values());
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled" && outcome.value !== "") {
        await unlink(outcome.value).catch(ignoreNotFound);
      }
    }
    this.#unpinAll();
    this.#state = "aborted";
    this.#poolUse();
  }

  #unpinAll(): void {
    for (const id of this.#pinned) this.#guard.unpin(id);
    this.#pinned.length = 0;
    this.#writes.clear();
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

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
