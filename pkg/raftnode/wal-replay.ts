/**
 * The pure replay of WAL records into a log (no I/O): entry batches append and, when their
 * first index is at or below the last index, first truncate the log there (a conflict
 * overwrite); snapshot markers keep the log when it holds the marker's entry with the same
 * term and otherwise discard it (the snapshot replaced it); a batch that starts past the
 * end (a gap: older segments were purged) starts the log afresh with an unknown base term.
 * Replay errors are `ReplayError`s, which the WAL turns into DATA_CORRUPTED with a position.
 */
import type { Entry, HardState } from "../raft/index.js";
import { type LogIndex, type Term, assert, logIndex } from "../common/index.js";
import type { SnapshotMarker } from "./record.js";

/** The records do not form a valid log (non-contiguous batch, gap below the snapshot). */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
}

/** Replays records in order. Invariant: `entries[i].index === baseIndex + 1 + i`. */
export class WalReplay {
  /** The index just before the first entry. */
  baseIndex: LogIndex = logIndex(0);
  /** The term at `baseIndex`, or undefined when the log starts after a purge gap. */
  baseTerm: Term | undefined = 0 as Term;
  entries: Entry[] = [];
  /** The last hard state recorded, if any. */
  hardState: HardState | undefined = undefined;
  /** The last snapshot marker recorded, if any. */
  lastMarker: SnapshotMarker | undefined = undefined;

  /** The index of the last entry (the base when there is none). */
  lastIndex(): LogIndex {
    return logIndex(this.baseIndex + this.entries.length);
  }

  /** The term at `index` when the replayed log knows it. */
  termAt(index: LogIndex): Term | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  /** Appends a batch, truncating the log at its first index when that overwrites. */
  appendEntries(batch: readonly Entry[]): void {
    checkContiguous(batch);
    const first = batch[0];
    if (first === undefined) return;
    if (first.index > this.lastIndex() + 1) {
      this.baseIndex = logIndex(first.index - 1);
      this.baseTerm = undefined;
      this.entries = [...batch];
      return;
    }
    const kept = batch.filter((entry) => entry.index > this.baseIndex);
    const keptFirst = kept[0];
    if (keptFirst === undefined) return;
    this.entries.length = keptFirst.index - this.baseIndex - 1;
    for (const entry of kept) this.entries.push(entry); // No spread: batches may be huge.
    assert(this.entries.at(-1)?.index === this.lastIndex(), "replayed log lost contiguity");
  }

  /** Applies a snapshot marker with the Raft core's restore rule (keep if matching). */
  applyMarker(marker: SnapshotMarker): void {
    this.lastMarker = marker;
    this.#restore(marker);
  }

  #restore(marker: SnapshotMarker): void {
    if (marker.index < this.baseIndex) return; // The log already starts after it.
    const known = this.termAt(marker.index);
    if (known === marker.term || (known === undefined && marker.index === this.baseIndex)) {
      if (marker.index === this.baseIndex) this.baseTerm = marker.term;
      return;
    }
    this.baseIndex = marker.index;
    this.baseTerm = marker.term;
    this.entries = [];
  }

  /**
   * The entries after a snapshot at `snapshot` (index 0 term 0 when there is none), as the
   * log stands once that snapshot is restored. Throws `ReplayError` when the log starts after
   * the snapshot: the entries in between are missing.
   */
  entriesAfter(snapshot: SnapshotMarker): Entry[] {
    if (snapshot.index < this.baseIndex) {
      throw new ReplayError(
        `the WAL's entries start at index ${this.baseIndex + 1} but the snapshot is at ` +
          `index ${snapshot.index}: entries ${snapshot.index + 1}..${this.baseIndex} are missing`,
      );
    }
    this.#restore(snapshot);
    return this.entries.filter((entry) => entry.index > snapshot.index);
  }
}

function checkContiguous(batch: readonly Entry[]): void {
  for (let i = 1; i < batch.length; i += 1) {
    const previous = batch[i - 1];
    const current = batch[i];
    if (previous === undefined || current === undefined) continue;
    if (current.index !== previous.index + 1) {
      throw new ReplayError(`entry batch jumps from index ${previous.index} to ${current.index}`);
    }
  }
}
