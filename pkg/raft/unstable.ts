/**
 * The unstable part of the log: entries (and possibly a snapshot) the core has accepted but the
 * driver has not yet reported persisted (etcd-io/raft log_unstable.go).
 */
import { type LogIndex, type Term, assert } from "../common/index.js";
import type { Entry, Snapshot } from "./types.js";

/** Entries at indexes [offset, offset + entries.length), plus an optional incoming snapshot. */
export class Unstable {
  /** A snapshot not yet persisted; when set, offset === snapshot index + 1. */
  snapshot: Snapshot | undefined = undefined;
  /** Entries not yet persisted; entries[i].index === offset + i. */
  entries: Entry[] = [];
  /** The index of entries[0]; everything below it is in Storage (or the snapshot). */
  offset: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
  }

  /** The index of the first entry if only a snapshot is here, else undefined. */
  maybeFirstIndex(): LogIndex | undefined {
    if (this.snapshot === undefined) return undefined;
    return (this.snapshot.metadata.index + 1) as LogIndex;
  }

  /** The last index held here (entries, then snapshot), else undefined. */
  maybeLastIndex(): LogIndex | undefined {
    if (this.entries.length > 0) return (this.offset + this.entries.length - 1) as LogIndex;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  /** The term of `index` if this part knows it, else undefined. */
  maybeTerm(index: LogIndex): Term | undefined {
    if (index < this.offset) {
      const snapshot = this.snapshot;
      return snapshot?.metadata.index === index ? snapshot.metadata.term : undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /**
   * The driver persisted entries up to `index`, whose term was `term`. Ignored when the entry
   * at `index` has since been replaced (a different term: the async-append ABA case) or is
   * already stable.
   */
  stableTo(index: LogIndex, term: Term): void {
    if (index < this.offset) return;
    const entry = this.entries[index - this.offset];
    if (entry?.term !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = (index + 1) as LogIndex;
  }

  /** The driver persisted the snapshot at `index`. */
  stableSnapshotTo(index: LogIndex): void {
    if (this.snapshot?.metadata.index === index) this.snapshot = undefined;
  }

  /** Replaces everything with an incoming snapshot. */
  restore(snapshot: Snapshot): void {
    this.offset = (snapshot.metadata.index + 1) as LogIndex;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends entries, truncating any held at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(entries);
    } else if (after <= this.offset) {
      // Replaces everything here; Storage truncates its own tail when these are persisted.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
    assert(
      this.entries[0]?.index === this.offset,
      () => `unstable entries start at ${this.entries[0]?.index}, offset ${this.offset}`,
    );
  }

  /** Entries in [lo, hi), which must lie within [offset, offset + length]. */
  slice(lo: LogIndex, hi: LogIndex): Entry[] {
    const upper = this.offset + this.entries.length;
    assert(
      this.offset <= lo && lo <= hi && hi <= upper,
      () => `unstable slice [${lo}, ${hi}) outside [${this.offset}, ${upper}]`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
