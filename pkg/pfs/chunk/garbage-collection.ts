/**
 * Garbage collection of a chunk store: mark and sweep that deletes exactly the chunks nothing
 * references, safe against puts running at the same time.
 *
 * The caller marks (computes the set of referenced ids from manifests and staging logs); the
 * sweep deletes every stored chunk outside it that is not protected. Protection closes the
 * race between computing references and writing new data (see chunk-guard.ts): a chunk put
 * after the collection began (written, or found present: a dedup hit refreshes the mark) and
 * a chunk added to a write session still open are spared, even when absent from the
 * references. So the safe order is: `store.beginGarbageCollection()`, then compute the
 * references from what is recorded, then `sweep`. A chunk written before the collection began
 * whose session has ended must appear in the references (its file entry must be recorded in
 * a staging log or manifest by then), or it is collected.
 *
 * Invariant: an id is deleted only under its lock, after `isProtected` was false under that
 * same lock hold. Deleted names are made durable by one fsync per touched fan-out directory at
 * the end (a name that comes back after a crash is only garbage for the next collection).
 */
import { stat, unlink } from "node:fs/promises";
import * as path from "node:path";
import { assert, type Logger } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import { chunkPath, fanOutDirName } from "./chunk-id.js";
import type { ChunkGuard, GarbageMarks } from "./chunk-guard.js";
import { forEachBounded, isNotFound, syncDir } from "../durable-fs.js";
import { chunkFsyncConcurrencyMax } from "./limits.js";

/** The referenced chunk ids: a set, or a predicate (called once per stored chunk). */
export type ChunkReferences = ReadonlySet<Sha256Hex> | ((id: Sha256Hex) => boolean);

/** Options of a sweep. */
export interface GarbageCollectionOptions {
  /** Count what would be freed without deleting anything. */
  readonly dryRun?: boolean;
}

/** What a sweep did. Kept = referenced or protected; bytes are the chunks' sizes. */
export interface GarbageCollectionResult {
  readonly chunksFreed: number;
  readonly bytesFreed: number;
  readonly chunksKept: number;
  readonly bytesKept: number;
}

/** The part of a chunk store a collection reads. */
export interface CollectableStore {
  readonly dir: string;
  list(): AsyncIterable<Sha256Hex>;
}

interface Tally {
  chunksFreed: number;
  bytesFreed: number;
  chunksKept: number;
  bytesKept: number;
}

/** One collection: begun at construction (puts from then on are marked), swept once. */
export class GarbageCollection {
  readonly #store: CollectableStore;
  readonly #guard: ChunkGuard;
  readonly #logger: Logger;
  readonly #marks: GarbageMarks;
  #ended = false;

  constructor(store: CollectableStore, guard: ChunkGuard, logger: Logger) {
    this.#store = store;
    this.#guard = guard;
    this.#logger = logger;
    this.#marks = guard.beginMarks();
  }

  /** Deletes every stored, unreferenced, unprotected chunk; ends the collection. */
  async sweep(
    referenced: ChunkReferences,
    options: GarbageCollectionOptions = {},
  ): Promise<GarbageCollectionResult> {
    assert(!this.#ended, "sweep of a garbage collection that has ended");
    const isReferenced = typeof referenced === "function"
      ? referenced
      : (id: Sha256Hex): boolean => referenced.has(id);
    const tally: Tally = { chunksFreed: 0, bytesFreed: 0, chunksKept: 0, bytesKept: 0 };
    const touchedDirs = new Set<string>();
    try {
      for await (const id of this.#store.list()) {
        if (isReferenced(id)) {
          const size = await sizeOrMissing(chunkPath(this.#store.dir, id));
          if (size >= 0) {
            tally.chunksKept += 1;
            tally.bytesKept += size;
          }
        } else if (await this.#sweepOne(id, options.dryRun === true, tally)) {
          touchedDirs.add(path.join(this.#store.dir, fanOutDirName(id)));
        }
      }
      await forEachBounded([...touchedDirs], chunkFsyncConcurrencyMax, syncDir);
    } finally {
      this.cancel();
    }
    this.#logger.info("chunk garbage collected", { dir: this.#store.dir, ...tally });
    return tally;
  }

  /** Deletes `id` unless protected; true when a file was removed. */
  async #sweepOne(id: Sha256Hex, dryRun: boolean, tally: Tally): Promise<boolean> {
    const file = chunkPath(this.#store.dir, id);
    const release = await this.#guard.lock.acquire(id);
    try {
      const size = await sizeOrMissing(file);
      if (size < 0) return false;
      if (this.#guard.isProtected(id, this.#marks)) {
        tally.chunksKept += 1;
        tally.bytesKept += size;
        return false;
      }
      tally.chunksFreed += 1;
      tally.bytesFreed += size;
      if (dryRun) return false;
      await unlink(file);
      return true;
    } finally {
      release();
    }
  }

  /** Ends the collection without sweeping (stops marking puts). Idempotent. */
  cancel(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#guard.endMarks(this.#marks);
  }
}

/** The size of `file`, or -1 when it does not exist (deleted since it was listed). */
async function sizeOrMissing(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isNotFound(error)) return -1;
    throw error;
  }
}

/**
 * Collects the garbage of `store`: begins a collection and sweeps with `referenced`. Chunks
 * put during the call are spared; see the module comment for what `referenced` must hold.
 */
export async function collectGarbage(
  store: { beginGarbageCollection(): GarbageCollection },
  referenced: ChunkReferences,
  options: GarbageCollectionOptions = {},
): Promise<GarbageCollectionResult> {
  return store.beginGarbageCollection().sweep(referenced, options);
}
