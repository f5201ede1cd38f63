/**
 * The durable log as the driver sees it: the core's read-only `Storage` plus the writes the
 * driver makes after each Ready. `MemoryNodeStorage` (here) keeps everything in memory for
 * tests and the simulator; `DiskNodeStorage` (raft-node-disk-storage.ts) puts the WAL and
 * snapshot files underneath.
 */
import type { ConfState, Entry, HardState, Snapshot, Storage } from "../raft/index.js";
import { MemoryStorage } from "../raft/index.js";
import { assert, type LogIndex } from "../common/index.js";

/** Step 1 of a Ready: what must be durable before its messages are sent. */
export interface PersistUpdate {
  readonly snapshot?: Snapshot;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
}

/** The driver's storage. Calls never overlap: the driver awaits each one. */
export interface NodeStorage extends Storage {
  /**
   * Persists `update` (snapshot, then hard state, then entries, truncating conflicting
   * stored entries) and, when `mustSync`, makes it durable before resolving. The Storage
   * reads reflect it when this resolves. Rejects on an I/O failure: the node must stop.
   */
  persist(update: PersistUpdate, mustSync: boolean): Promise<void>;
  /**
   * Records the state machine's `data` as the snapshot at `index` (applied, in the stable
   * log) with membership `confState`, makes it durable, then drops log entries before
   * `compactIndex` (≤ index). A snapshot not newer than the stored one is ignored.
   */
  saveSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array,
    compactIndex: LogIndex): Promise<void>;
  /** Releases files; nothing may be called after it. */
  close(): Promise<void>;
}

/** A `NodeStorage` in memory: "durable" means "in this object". Counts syncs for tests. */
export class MemoryNodeStorage implements NodeStorage {
  readonly #inner: MemoryStorage;
  #syncCount = 0;

  /** A fresh log whose membership is `confState` (the initial cluster). */
  constructor(confState: ConfState) {
    this.#inner = new MemoryStorage(confState);
  }

  /** How many persists were synced. */
  get syncCount(): number {
    return this.#syncCount;
  }

  initialState(): ReturnType<Storage["initialState"]> { return this.#inner.initialState(); }
  entries(...args: Parameters<Storage["entries"]>): ReturnType<Storage["entries"]> {
    return this.#inner.entries(...args);
  }
  term(index: LogIndex): ReturnType<Storage["term"]> { return this.#inner.term(index); }
  firstIndex(): LogIndex { return this.#inner.firstIndex(); }
  lastIndex(): LogIndex { return this.#inner.lastIndex(); }
  snapshot(): ReturnType<Storage["snapshot"]> { return this.#inner.snapshot(); }

  persist(update: PersistUpdate, mustSync: boolean): Promise<void> {
    if (update.snapshot !== undefined) {
      const applied = this.#inner.applySnapshot(update.snapshot);
      assert(applied.ok, () => `stale snapshot at ${update.snapshot?.metadata.index}`);
    }
    if (update.hardState !== undefined) this.#inner.setHardState(update.hardState);
    this.#inner.append(update.entries);
    if (mustSync) this.#syncCount += 1;
    return Promise.resolve();
  }

  saveSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array,
    compactIndex: LogIndex): Promise<void> {
    assert(compactIndex <= index, () => `compact ${compactIndex} above snapshot ${index}`);
    const created = this.#inner.createSnapshot(index, confState, data);
    if (created.ok && compactIndex > this.#inner.firstIndex()) {
      this.#inner.compact(compactIndex);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
