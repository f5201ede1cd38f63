/**
 * The Raft log as the core sees it: the stable part in Storage followed by the unstable part
 * in memory (etcd-io/raft log.go). Invariant: applied <= committed <= lastIndex.
 */
import { type LogIndex, type Result, type Term, assert, err, ok } from "../common/index.js";
import { type Entry, type Snapshot, type Storage, StorageError } from "./types.js";
import { Unstable } from "./unstable.js";

/** Sums the payload bytes of entries (the unit of every byte limit in the core). */
export function payloadBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.length;
  return bytes;
}

/** Keeps a prefix of `entries` within `maxBytes` of payload, but always at least one entry. */
function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i += 1) {
    bytes += entries[i]?.data.length ?? 0;
    if (i > 0 && bytes > maxBytes) return entries.slice(0, i);
  }
  return entries;
}

/** The log: stable entries in Storage, then unstable entries. */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known committed. Invariant: applied <= committed <= lastIndex(). */
  committed: LogIndex;
  /** Highest index the driver has applied (reported through advance). */
  applied: LogIndex;

  constructor(storage: Storage, applied: LogIndex) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable((last + 1) as LogIndex);
    this.committed = (first - 1) as LogIndex;
    this.applied = (first - 1) as LogIndex;
    const commit = storage.initialState().hardState.commit;
    if (commit > this.committed) this.commitTo(commit);
    if (applied > this.applied) this.appliedTo(applied);
  }

  firstIndex(): LogIndex {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The last index the driver has persisted (the leader counts only these toward commit). */
  persistedLastIndex(): LogIndex {
    return (this.unstable.offset - 1) as LogIndex;
  }

  /** The term of `index`, valid in [firstIndex() - 1, lastIndex()]. */
  term(index: LogIndex): Result<Term, StorageError> {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex) return err(StorageError.Compacted);
    if (index > this.lastIndex()) return err(StorageError.Unavailable);
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return ok(unstableTerm);
    return this.storage.term(index);
  }

  /** The term of `index`, or 0 when it is compacted or beyond the log. */
  termOrZero(index: LogIndex): Term {
    const result = this.term(index);
    return result.ok ? result.value : (0 as Term);
  }

  lastTerm(): Term {
    const result = this.term(this.lastIndex());
    assert(result.ok, () => `no term for last index ${this.lastIndex()}`);
    return result.value;
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    const result = this.term(index);
    return result.ok && result.value === term;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The index of the first entry that conflicts with the log (same index, different term) or
   * is new (beyond the log); 0 when every entry is already present. Never a stale match.
   */
  findConflict(entries: readonly Entry[]): LogIndex {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0 as LogIndex;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, and that term (fast log back-off:
   * the leader's log cannot match ours above it). Bounded by the log's length.
   */
  findConflictByTerm(index: LogIndex, term: Term): { index: LogIndex; term: Term } {
    let at: number = index;
    for (;;) {
      const result = this.term(at as LogIndex);
      if (!result.ok) return { index: at as LogIndex, term: 0 as Term };
      if (result.value <= term) return { index: at as LogIndex, term: result.value };
      at -= 1;
    }
  }

  /**
   * Follower append (§5.3): if the entry at `index` has term `logTerm`, appends `entries`
   * after it, truncating only from the first real conflict (a stale or duplicate message
   * never truncates), commits min(`commit`, last new index) and returns the last new index.
   * Returns undefined when the consistency check fails.
   */
  maybeAppend(
    index: LogIndex,
    logTerm: Term,
    commit: LogIndex,
    entries: readonly Entry[],
  ): LogIndex | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = (index + entries.length) as LogIndex;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        () => `entry ${conflict} conflicts with committed entry (committed ${this.committed})`,
      );
      this.append(entries.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(commit, lastNew) as LogIndex);
    return lastNew;
  }

  /** Appends entries (truncating the unstable tail at their first index); returns lastIndex. */
  append(entries: readonly Entry[]): LogIndex {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(
      first.index - 1 >= this.committed,
      () => `append after ${first.index - 1} is below committed ${this.committed}`,
    );
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** Entries in [lo, hi) with at most `maxBytes` of payload (always at least one). */
  slice(lo: LogIndex, hi: LogIndex, maxBytes: number): Result<Entry[], StorageError> {
    if (lo < this.firstIndex()) return err(StorageError.Compacted);
    assert(hi <= this.lastIndex() + 1, () => `slice hi ${hi} > last ${this.lastIndex()} + 1`);
    if (lo >= hi) return ok([]);
    let out: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stored = this.storage.entries(lo, Math.min(hi, offset) as LogIndex, maxBytes);
      if (!stored.ok) return stored;
      out = stored.value.slice();
      if (out.length < Math.min(hi, offset) - lo) return ok(out); // Byte limit reached.
    }
    if (hi > offset) {
      out = out.concat(this.unstable.slice(Math.max(lo, offset) as LogIndex, hi));
    }
    return ok(limitBytes(out, maxBytes));
  }

  /** Up to `maxCount` entries from `from` with at most `maxBytes` of payload, for sending. */
  entriesFrom(from: LogIndex, maxBytes: number, maxCount: number): Result<Entry[], StorageError> {
    const last = this.lastIndex();
    if (from > last) return ok([]);
    return this.slice(from, Math.min(last + 1, from + maxCount) as LogIndex, maxBytes);
  }

  /** Committed entries not yet applied (none while a snapshot is pending). */
  nextCommittedEntries(): Entry[] {
    if (this.unstable.snapshot !== undefined) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex()) as LogIndex;
    const hi = (this.committed + 1) as LogIndex;
    if (lo >= hi) return [];
    const result = this.slice(lo, hi, Number.MAX_SAFE_INTEGER);
    assert(result.ok, () => `committed entries [${lo}, ${hi}) unavailable`);
    return result.value;
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** The snapshot to send or persist: the pending incoming one, else Storage's. */
  snapshot(): Result<Snapshot, StorageError> {
    const pending = this.unstable.snapshot;
    return pending !== undefined ? ok(pending) : this.storage.snapshot();
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) return;
    assert(
      index <= this.lastIndex(),
      () => `commit ${index} is beyond last index ${this.lastIndex()} (log lost or corrupt?)`,
    );
    this.committed = index;
  }

  appliedTo(index: LogIndex): void {
    if (index === 0) return;
    assert(
      index <= this.committed && index >= this.applied,
      () => `applied ${index} outside [applied ${this.applied}, committed ${this.committed}]`,
    );
    this.applied = index;
  }

  /** Commits `maxIndex` if it is above the commit index and has term `term` (§5.4.2). */
  maybeCommit(maxIndex: LogIndex, term: Term): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }
}
