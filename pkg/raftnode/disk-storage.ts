/**
 * `DiskStorage`: the Raft core's read-only `Storage` (pkg/raft/types.ts), served from an
 * in-memory copy of the stable log that `openDiskStorage` rebuilds from the WAL and the newest
 * snapshot. The driver mutates it only after the matching WAL save (or snapshot save) is
 * durable, so the core never reads an entry that a crash could take back.
 *
 * Layout invariant: the log holds `entries[i].index === offsetIndex + 1 + i`; `offsetIndex`
 * and `offsetTerm` describe the entry just before the first one (the snapshot's, or a
 * compaction point at or below it).
 */
import type {
  ConfState, Entry, HardState, Snapshot, Storage,
} from "../raft/index.js";
import { StorageError } from "../raft/index.js";
import {
  type LogIndex, type Result, type Term, assert, err, logIndex, nodeId, ok, term,
} from "../common/index.js";

/** An `applySnapshot`/`createSnapshot` at or below the current snapshot's index. */
export const snapshotOutOfDate = "snapshot-out-of-date";
export type SnapshotOutOfDate = typeof snapshotOutOfDate;

/** The snapshot of a log that never had one: index 0, term 0, no members, no data. */
export function emptySnapshot(): Snapshot {
  return {
    metadata: { index: logIndex(0), term: term(0), confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
}

/** The hard state of a node that never voted: term 0, no vote, commit 0. */
export function emptyHardState(): HardState {
  return { term: term(0), vote: nodeId(0n), commit: logIndex(0) };
}

/** What `DiskStorage` starts from. `entries` follow the snapshot contiguously. */
export interface DiskStorageState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly entries: readonly Entry[];
}

function checkContiguous(entries: readonly Entry[], what: string): void {
  for (let i = 1; i < entries.length; i += 1) {
    const previous = entries[i - 1]?.index ?? 0;
    const current = entries[i]?.index ?? 0;
    assert(current === previous + 1, () => `${what}: index ${current} follows ${previous}`);
  }
}

/** The durable log as the Raft core reads it; the driver's mutators keep it in step. */
export class DiskStorage implements Storage {
  #hardState: HardState;
  #snapshot: Snapshot;
  #offsetIndex: LogIndex;
  #offsetTerm: Term;
  #entries: Entry[];

  constructor(state: DiskStorageState) {
    checkContiguous(state.entries, "initial entries");
    const first = state.entries[0];
    const snapshotIndex = state.snapshot.metadata.index;
    assert(first === undefined || first.index === snapshotIndex + 1, () =>
      `first entry ${first?.index} does not follow snapshot ${snapshotIndex}`);
    this.#hardState = state.hardState;
    this.#snapshot = state.snapshot;
    this.#offsetIndex = snapshotIndex;
    this.#offsetTerm = state.snapshot.metadata.term;
    this.#entries = [...state.entries];
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Result<readonly Entry[], StorageError> {
    assert(lo <= hi, () => `entries range [${lo}, ${hi}) is inverted`);
    if (lo <= this.#offsetIndex) return err(StorageError.Compacted);
    if (hi > this.lastIndex() + 1) return err(StorageError.Unavailable);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index: number = lo; index < hi; index += 1) {
      const entry = this.#entries[index - this.#offsetIndex - 1];
      assert(entry?.index === index, () => `log has no entry ${index} inside its bounds`);
      bytes += entry.data.length;
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return ok(result);
  }

  term(index: LogIndex): Result<Term, StorageError> {
    if (index < this.#offsetIndex) return err(StorageError.Compacted);
    if (index > this.lastIndex()) return err(StorageError.Unavailable);
    if (index === this.#offsetIndex) return ok(this.#offsetTerm);
    const entry = this.#entries[index - this.#offsetIndex - 1];
    assert(entry?.index === index, () => `log has no entry ${index} inside its bounds`);
    return ok(entry.term);
  }

  firstIndex(): LogIndex {
    return logIndex(this.#offsetIndex + 1);
  }

  lastIndex(): LogIndex {
    return logIndex(this.#offsetIndex + this.#entries.length);
  }

  snapshot(): Result<Snapshot, StorageError> {
    return ok(this.#snapshot);
  }

  /** The current hard state (what `setHardState` last stored). */
  hardState(): HardState {
    return this.#hardState;
  }

  /** Records the hard state the driver has just persisted. */
  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.#hardState.term, () =>
      `hard state term went back from ${this.#hardState.term} to ${hardState.term}`);
    this.#hardState = hardState;
  }

  /**
   * Appends entries the driver has just persisted. Entries at or below the last index first
   * truncate the log there (a conflict overwrite); entries at or below the compaction point
   * are ignored. The first entry must not leave a gap after the last index.
   */
  append(entries: readonly Entry[]): void {
    checkContiguous(entries, "appended entries");
    const kept = entries.filter((entry) => entry.index > this.#offsetIndex);
    const first = kept[0];
    if (first === undefined) return;
    const last = this.lastIndex();
    assert(first.index <= last + 1, () => `append at ${first.index} leaves a gap after ${last}`);
    assert(first.index > last || first.index > this.#hardState.commit, () =>
      `append at ${first.index} would truncate committed entries (commit ${this.#hardState.commit})`);
    this.#entries.length = first.index - this.#offsetIndex - 1;
    for (const entry of kept) this.#entries.push(entry); // No spread: batches may be huge.
    assert(this.lastIndex() === kept.at(-1)?.index, "append lost contiguity");
  }

  /**
   * Replaces the whole log with `snapshot` (received from the leader and already durable).
   * Fails with SnapshotOutOfDate when it is not newer than the current snapshot.
   */
  applySnapshot(snapshot: Snapshot): Result<void, SnapshotOutOfDate> {
    if (snapshot.metadata.index <= this.#snapshot.metadata.index) return err(snapshotOutOfDate);
    this.#snapshot = snapshot;
    this.#offsetIndex = snapshot.metadata.index;
    this.#offsetTerm = snapshot.metadata.term;
    this.#entries = [];
    return ok(undefined);
  }

  /**
   * Makes the snapshot of the applied state at `index` (≤ the commit index) current, without
   * dropping entries (call `compact` for that). Save it to the SnapshotStore and the WAL
   * marker. Fails with SnapshotOutOfDate when `index` is not above the current snapshot.
   */
  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array,
  ): Result<Snapshot, SnapshotOutOfDate> {
    if (index <= this.#snapshot.metadata.index) return err(snapshotOutOfDate);
    assert(index <= this.#hardState.commit, () =>
      `snapshot at ${index} above commit ${this.#hardState.commit}`);
    const snapshotTerm = this.term(index);
    assert(snapshotTerm.ok, () => `snapshot at ${index} outside the log`);
    this.#snapshot = { metadata: { index, term: snapshotTerm.value, confState }, data };
    return ok(this.#snapshot);
  }

  /**
   * Drops entries at or below `index` from memory; `index` must be at or below the current
   * snapshot's index (the WAL replays from the snapshot). Fails with Compacted when `index`
   * is at or below the current compaction point.
   */
  compact(index: LogIndex): Result<void, StorageError> {
    if (index <= this.#offsetIndex) return err(StorageError.Compacted);
    assert(index <= this.#snapshot.metadata.index, () =>
      `compact to ${index} beyond snapshot ${this.#snapshot.metadata.index}`);
    const offsetTerm = this.term(index);
    assert(offsetTerm.ok, () => `compact to ${index} outside the log`);
    this.#entries = this.#entries.slice(index - this.#offsetIndex);
    this.#offsetIndex = index;
    this.#offsetTerm = offsetTerm.value;
    return ok(undefined);
  }
}
