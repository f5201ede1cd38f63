/**
 * `MemoryStorage`: the Storage interface over arrays in memory (etcd-io/raft storage.go), plus
 * the write side a driver uses after each Ready. Used by tests and the simulator, and as the
 * in-memory cache of the durable storage.
 */
import {
  type LogIndex,
  type NodeId,
  type Result,
  type Term,
  assert,
  err,
  ok,
} from "../common/index.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Snapshot,
  type Storage,
  StorageError,
} from "./types.js";

const emptyHardState: HardState = { term: 0 as Term, vote: 0n as NodeId, commit: 0 as LogIndex };

/** An in-memory stable log. Single-owner; not safe for concurrent mutation during reads. */
export class MemoryStorage implements Storage {
  #hardState: HardState = emptyHardState;
  #snapshot: Snapshot;
  /**
   * `#entries[0]` is a dummy standing for the snapshot's last entry (its index and term);
   * `#entries[i]` has index `#entries[0].index + i`.
   */
  #entries: Entry[];

  /** An empty log, or the initial membership `confState` at index 0 (a fresh cluster). */
  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.#snapshot = {
      metadata: { index: 0 as LogIndex, term: 0 as Term, confState },
      data: new Uint8Array(0),
    };
    this.#entries = [dummy(0 as LogIndex, 0 as Term)];
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  /** The persisted hard state (for tests and restarts). */
  hardState(): HardState {
    return this.#hardState;
  }

  #offset(): number {
    return this.#first().index;
  }

  #first(): Entry {
    const first = this.#entries[0];
    assert(first !== undefined, "memory storage lost its dummy entry");
    return first;
  }

  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Result<readonly Entry[], StorageError> {
    const offset = this.#offset();
    if (lo <= offset) return err(StorageError.Compacted);
    if (hi > this.lastIndex() + 1) return err(StorageError.Unavailable);
    assert(lo <= hi, () => `entries range [${lo}, ${hi}) is inverted`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i: number = lo; i < hi; i += 1) {
      const entry = this.#entries[i - offset];
      assert(entry !== undefined, () => `memory storage hole at ${i}`);
      bytes += entry.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return ok(out);
  }

  term(index: LogIndex): Result<Term, StorageError> {
    const offset = this.#offset();
    if (index < offset) return err(StorageError.Compacted);
    const entry = this.#entries[index - offset];
    if (entry === undefined) return err(StorageError.Unavailable);
    return ok(entry.term);
  }

  firstIndex(): LogIndex {
    return (this.#offset() + 1) as LogIndex;
  }

  lastIndex(): LogIndex {
    return (this.#offset() + this.#entries.length - 1) as LogIndex;
  }

  snapshot(): Result<Snapshot, StorageError> {
    return ok(this.#snapshot);
  }

  /** Persists the hard state. */
  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  /**
   * Appends entries, which must be contiguous and start at most one past the last index.
   * Stored entries at or after `entries[0].index` are replaced (a leader overwrote them).
   * Entries at or below the snapshot index are ignored (already compacted).
   */
  append(entries: readonly Entry[]): void {
    const firstNew = entries[0];
    if (firstNew === undefined) return;
    const offset = this.#offset();
    const tail = entries.filter((entry) => entry.index > offset);
    const first = tail[0];
    if (first === undefined) return;
    assert(
      first.index <= this.lastIndex() + 1,
      () => `append at ${first.index} leaves a gap after last index ${this.lastIndex()}`,
    );
    // In place: appends are the hot path, and copying the whole log each time is quadratic.
    this.#entries.length = first.index - offset;
    for (const entry of tail) this.#entries.push(entry);
    assertContiguous(this.#entries, first.index - offset);
  }

  /**
   * Replaces the whole log with a snapshot received from the leader. Refuses (err) a snapshot
   * older than the one held.
   */
  applySnapshot(snapshot: Snapshot): Result<void, StorageError> {
    if (snapshot.metadata.index < this.#snapshot.metadata.index) {
      return err(StorageError.Compacted);
    }
    this.#snapshot = snapshot;
    this.#entries = [dummy(snapshot.metadata.index, snapshot.metadata.term)];
    return ok(undefined);
  }

  /**
   * Records a snapshot of the state machine at `index` (which must be applied, hence in the
   * log) and returns it. Does not compact: call `compact` separately.
   */
  createSnapshot(
    index: LogIndex,
    confState: ConfState,
    data: Uint8Array,
  ): Result<Snapshot, StorageError> {
    if (index <= this.#snapshot.metadata.index) return err(StorageError.Compacted);
    assert(index <= this.lastIndex(), () => `snapshot ${index} > last index ${this.lastIndex()}`);
    const termResult = this.term(index);
    assert(termResult.ok, () => `snapshot index ${index} has no term`);
    this.#snapshot = { metadata: { index, term: termResult.value, confState }, data };
    return ok(this.#snapshot);
  }

  /** Drops the entries before `compactIndex`, which becomes the dummy (it must be in the log). */
  compact(compactIndex: LogIndex): Result<void, StorageError> {
    const offset = this.#offset();
    if (compactIndex <= offset) return err(StorageError.Compacted);
    assert(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} > last ${this.lastIndex()}`);
    const at = this.#entries[compactIndex - offset];
    assert(at !== undefined, () => `compact index ${compactIndex} missing`);
    this.#entries = [dummy(at.index, at.term), ...this.#entries.slice(compactIndex - offset + 1)];
    return ok(undefined);
  }
}

function dummy(index: LogIndex, term: Term): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array(0) };
}

/** Asserts `entries[from - 1 ..]` have consecutive indexes (the junction and the new tail). */
function assertContiguous(entries: readonly Entry[], from: number): void {
  for (let i = Math.max(1, from); i < entries.length; i += 1) {
    const previous = entries[i - 1];
    const current = entries[i];
    assert(
      previous !== undefined && current !== undefined && current.index === previous.index + 1,
      () => `memory storage not contiguous at position ${i}`,
    );
  }
}
