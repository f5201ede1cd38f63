/**
 * The ordered log of every retained write, for watch replay: entries in (main, sub) order.
 * After compaction at revision C it holds the writes above C and, at C itself, the live
 * versions that compaction kept (what etcd's backend still holds at C).
 */
import { assert, revision } from "../../common/index.js";
import { type HistoryEntry, type KeyHistory, revisionBefore } from "./key-history.js";
import type { KeyValue, MvccEvent, RevisionEvents } from "./key-value.js";

/** One write: the entry appended to `history`. */
export interface LogEntry {
  readonly history: KeyHistory;
  readonly entry: HistoryEntry;
}

/** The KV a DELETE event carries: the key and the delete's revision, all else zero. */
export function tombstoneKv(key: Uint8Array, main: number): KeyValue {
  return {
    key, createRevision: revision(0), modRevision: revision(main), version: 0,
    value: new Uint8Array(0), lease: 0n as KeyValue["lease"],
  };
}

/**
 * The event of one log entry. With `withPrevKv`, `prevKv` is the key as of main - 1, left out
 * on a create, when the key was absent, or when main - 1 is below `compacted`.
 */
export function eventOf(logEntry: LogEntry, withPrevKv: boolean, compacted: number): MvccEvent {
  const { history, entry } = logEntry;
  const event: MvccEvent = entry.kv === null
    ? { type: "DELETE", kv: tombstoneKv(history.key, entry.main) }
    : { type: "PUT", kv: entry.kv };
  const isCreate = entry.kv !== null && entry.kv.version === 1;
  if (!withPrevKv || isCreate || entry.main - 1 < compacted) return event;
  const prevKv = history.kvAt(entry.main - 1);
  return prevKv === undefined ? event : { ...event, prevKv };
}

/** An append-only (but prefix-trimmed) log of writes. */
export class EventLog {
  #entries: LogEntry[] = [];

  get length(): number {
    return this.#entries.length;
  }

  /** Appends a write; asserts (main, sub) order. */
  append(logEntry: LogEntry): void {
    const last = this.#entries.at(-1)?.entry;
    const next = logEntry.entry;
    assert(
      last === undefined || revisionBefore(last, next),
      () => `log append (${next.main}, ${next.sub}) after (${last?.main}, ${last?.sub})`,
    );
    this.#entries.push(logEntry);
  }

  /** The first position whose main revision is >= `main`. */
  #lowerBound(main: number): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#entries[middle]?.entry.main ?? Infinity) < main) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * The writes of revisions in [fromMain, fromMain + revisionsMax), grouped by revision in
   * ascending order; a revision's events are never split.
   */
  revisions(
    fromMain: number,
    revisionsMax: number,
    withPrevKv: boolean,
    compacted: number,
  ): RevisionEvents[] {
    const groups: RevisionEvents[] = [];
    let current: { revision: number; events: MvccEvent[] } | undefined;
    for (let i = this.#lowerBound(fromMain); i < this.#entries.length; i += 1) {
      const logEntry = this.#entries[i];
      assert(logEntry !== undefined, "log scan out of bounds");
      if (current?.revision !== logEntry.entry.main) {
        if (groups.length === revisionsMax) break;
        current = { revision: logEntry.entry.main, events: [] };
        groups.push({ revision: revision(current.revision), events: current.events });
      }
      current.events.push(eventOf(logEntry, withPrevKv, compacted));
    }
    return groups;
  }

  /**
   * Compaction at `main`: drops writes below it, and at it keeps only the entries their
   * history still holds.
   */
  compact(main: number): void {
    this.#entries = this.#entries.slice(this.#lowerBound(main)).filter(
      ({ history, entry }) => entry.main > main || history.entries[0] === entry,
    );
  }
}
