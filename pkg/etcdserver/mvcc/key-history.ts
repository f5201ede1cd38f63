/**
 * The history of one key: every retained write, in (main, sub) revision order.
 */
import { assert } from "../../common/index.js";
import type { KeyValue } from "./key-value.js";

/** One write to a key. `kv` null is a tombstone (the key was deleted at this revision). */
export interface HistoryEntry {
  readonly main: number;
  readonly sub: number;
  readonly kv: KeyValue | null;
}

/**
 * Bytes of one entry in the store's snapshot format (store-state.ts): main i64, sub u32, live
 * u8, and for a live version create revision, version and lease (i64 each), value length u32
 * and the value. Kept per history as entries come and go, so sizing a snapshot is O(keys).
 */
export function encodedEntryBytes(entry: HistoryEntry): number {
  return 8 + 4 + 1 + (entry.kv === null ? 0 : 8 + 8 + 8 + 4 + entry.kv.value.length);
}

/** True when `a` comes before `b` in (main, sub) revision order. */
export function revisionBefore(a: HistoryEntry, b: HistoryEntry): boolean {
  return a.main < b.main || (a.main === b.main && a.sub < b.sub);
}

/** A key and its retained writes. Invariant: entries strictly increase in (main, sub). */
export class KeyHistory {
  readonly key: Uint8Array;
  readonly entries: HistoryEntry[] = [];
  #entryBytes = 0;

  constructor(key: Uint8Array) {
    assert(key.length > 0, "a key history needs a non-empty key");
    this.key = key;
  }

  /** Appends a write; asserts it comes after every retained one. */
  append(entry: HistoryEntry): void {
    const last = this.entries.at(-1);
    assert(
      last === undefined || revisionBefore(last, entry),
      () => `history append (${entry.main}, ${entry.sub}) after (${last?.main}, ${last?.sub})`,
    );
    this.entries.push(entry);
    this.#entryBytes += encodedEntryBytes(entry);
  }

  /** The sum of `encodedEntryBytes` over the retained entries. */
  get entryBytes(): number {
    return this.#entryBytes;
  }

  /** The index of the last entry with main <= revision, or -1. O(log entries). */
  indexAt(revision: number): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const entry = this.entries[middle];
      assert(entry !== undefined, "history search out of bounds");
      if (entry.main <= revision) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  /** The live version of the key as of `revision`, or undefined when absent then. */
  kvAt(revision: number): KeyValue | undefined {
    return this.entries[this.indexAt(revision)]?.kv ?? undefined;
  }

  /** The newest version of the key, or undefined when it is deleted or never written. */
  latest(): KeyValue | undefined {
    return this.entries.at(-1)?.kv ?? undefined;
  }

  /**
   * Drops every entry with main <= revision except the newest of them, which is kept only
   * when it is a live version (etcd keyIndex.compact). Returns true when nothing is left.
   */
  compact(revision: number): boolean {
    const index = this.indexAt(revision);
    if (index < 0) return this.entries.length === 0;
    const kept = this.entries[index];
    const dropCount = kept?.kv === null ? index + 1 : index;
    for (const dropped of this.entries.splice(0, dropCount)) {
      this.#entryBytes -= encodedEntryBytes(dropped);
    }
    return this.entries.length === 0;
  }
}
