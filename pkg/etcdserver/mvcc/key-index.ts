/**
 * The sorted key index: every key with retained history, in bytewise order, in one array
 * searched by binary search. Costs: lookup O(log n · key length); a new key O(n) (array
 * insert, a memmove of pointers); a range scan O(log n + keys in range). Keys leave the index
 * only when compaction leaves them no history.
 */
import { assert } from "../../common/index.js";
import { KeyHistory } from "./key-history.js";
import { type KeyRange, compareBytes } from "./key-range.js";

/** A sorted index of key histories. Invariant: keys strictly increase, no duplicates. */
export class KeyIndex {
  #histories: KeyHistory[] = [];

  /** Number of keys with retained history (live or deleted). */
  get size(): number {
    return this.#histories.length;
  }

  /** The first position whose key is >= `key`. */
  #lowerBound(key: Uint8Array): number {
    let low = 0;
    let high = this.#histories.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const history = this.#histories[middle];
      assert(history !== undefined, "index search out of bounds");
      if (compareBytes(history.key, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The history of `key`, or undefined. */
  get(key: Uint8Array): KeyHistory | undefined {
    const history = this.#histories[this.#lowerBound(key)];
    return history !== undefined && compareBytes(history.key, key) === 0 ? history : undefined;
  }

  /** The history of `key`, created empty (with a private copy of the key) when missing. */
  getOrCreate(key: Uint8Array): KeyHistory {
    const position = this.#lowerBound(key);
    const found = this.#histories[position];
    if (found !== undefined && compareBytes(found.key, key) === 0) return found;
    const created = new KeyHistory(Uint8Array.from(key));
    this.#histories.splice(position, 0, created);
    return created;
  }

  /** The histories whose keys lie in `range`, in key order. */
  inRange(range: KeyRange): KeyHistory[] {
    if (range.end === null) {
      const history = this.get(range.start);
      return history === undefined ? [] : [history];
    }
    const first = this.#lowerBound(range.start);
    if (range.end === "unbounded") return this.#histories.slice(first);
    if (compareBytes(range.end, range.start) <= 0) return [];
    return this.#histories.slice(first, this.#lowerBound(range.end));
  }

  /** Every history, in key order. The array is owned by the index: do not mutate. */
  all(): readonly KeyHistory[] {
    return this.#histories;
  }

  /** Keeps only the histories for which `keep` is true (used by compaction). */
  retain(keep: (history: KeyHistory) => boolean): void {
    this.#histories = this.#histories.filter(keep);
  }

  /** Appends a history whose key sorts after every key held (snapshot restore). */
  appendSorted(history: KeyHistory): void {
    const last = this.#histories.at(-1);
    assert(last === undefined || compareBytes(last.key, history.key) < 0, "restore keys unsorted");
    this.#histories.push(history);
  }
}
