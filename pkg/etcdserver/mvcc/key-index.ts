/**
 * The sorted key index: every key with retained history, in bytewise order, kept in a list of
 * sorted chunks (a two-level B-tree) of at most `chunkKeysMax` keys. Costs, for n keys: lookup
 * O(log n) compares; a new key O(log n + chunkKeysMax) (an insert into one chunk, a split when
 * full); a range scan O(log n + keys in range); `all()` O(n). Keys leave the index only when
 * compaction leaves them no history.
 */
import { assert } from "../../common/index.js";
import { KeyHistory } from "./key-history.js";
import { type KeyRange, compareBytes } from "./key-range.js";

/**
 * Keys per chunk before it splits: big enough that the chunk list stays short (n / 256), small
 * enough that an insert moves few pointers. A tuning constant, not an operating limit.
 */
const chunkKeysMax = 512;

/** A position: chunk index and offset inside it; chunk === chunks.length means the end. */
interface Position {
  readonly chunk: number;
  readonly offset: number;
}

/** A sorted index of key histories. Invariant: keys strictly increase; no chunk is empty. */
export class KeyIndex {
  #chunks: KeyHistory[][] = [];
  #size = 0;

  /** Number of keys with retained history (live or deleted). */
  get size(): number {
    return this.#size;
  }

  /** The position of the first key >= `key`. */
  #lowerBound(key: Uint8Array): Position {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const last = this.#chunks[middle]?.at(-1);
      assert(last !== undefined, () => `index chunk ${middle} is empty`);
      if (compareBytes(last.key, key) < 0) low = middle + 1;
      else high = middle;
    }
    const chunk = this.#chunks[low];
    if (chunk === undefined) return { chunk: low, offset: 0 };
    let first = 0;
    let past = chunk.length;
    while (first < past) {
      const middle = (first + past) >>> 1;
      const history = chunk[middle];
      assert(history !== undefined, "index search out of bounds");
      if (compareBytes(history.key, key) < 0) first = middle + 1;
      else past = middle;
    }
    return { chunk: low, offset: first };
  }

  #at(position: Position): KeyHistory | undefined {
    return this.#chunks[position.chunk]?.[position.offset];
  }

  /** The history of `key`, or undefined. */
  get(key: Uint8Array): KeyHistory | undefined {
    const history = this.#at(this.#lowerBound(key));
    return history !== undefined && compareBytes(history.key, key) === 0 ? history : undefined;
  }

  /** The history of `key`, created empty (with a private copy of the key) when missing. */
  getOrCreate(key: Uint8Array): KeyHistory {
    const position = this.#lowerBound(key);
    const found = this.#at(position);
    if (found !== undefined && compareBytes(found.key, key) === 0) return found;
    const created = new KeyHistory(Uint8Array.from(key));
    const chunkIndex = Math.min(position.chunk, this.#chunks.length - 1);
    const chunk = this.#chunks[chunkIndex];
    if (chunk === undefined) {
      this.#chunks.push([created]);
    } else {
      chunk.splice(position.chunk === chunkIndex ? position.offset : chunk.length, 0, created);
      if (chunk.length > chunkKeysMax) {
        this.#chunks.splice(chunkIndex + 1, 0, chunk.splice(chunk.length >>> 1));
      }
    }
    this.#size += 1;
    return created;
  }

  /** The histories whose keys lie in `range`, in key order. */
  inRange(range: KeyRange): KeyHistory[] {
    if (range.end === null) {
      const history = this.get(range.start);
      return history === undefined ? [] : [history];
    }
    const end = range.end;
    if (end !== "unbounded" && compareBytes(end, range.start) <= 0) return [];
    const found: KeyHistory[] = [];
    const start = this.#lowerBound(range.start);
    for (let chunk = start.chunk; chunk < this.#chunks.length; chunk += 1) {
      const histories = this.#chunks[chunk] ?? [];
      for (let i = chunk === start.chunk ? start.offset : 0; i < histories.length; i += 1) {
        const history = histories[i];
        assert(history !== undefined, "index scan out of bounds");
        if (end !== "unbounded" && compareBytes(history.key, end) >= 0) return found;
        found.push(history);
      }
    }
    return found;
  }

  /** Every history, in key order (a new array). */
  all(): KeyHistory[] {
    return this.#chunks.flat();
  }

  /** Keeps only the histories for which `keep` is true (used by compaction). */
  retain(keep: (history: KeyHistory) => boolean): void {
    this.#chunks = this.#chunks.map((chunk) => chunk.filter(keep))
      .filter((chunk) => chunk.length > 0);
    this.#size = this.#chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** Appends a history whose key sorts after every key held (snapshot restore). */
  appendSorted(history: KeyHistory): void {
    const lastChunk = this.#chunks.at(-1);
    const last = lastChunk?.at(-1);
    assert(last === undefined || compareBytes(last.key, history.key) < 0, "restore keys unsorted");
    if (lastChunk === undefined || lastChunk.length >= chunkKeysMax >>> 1) {
      this.#chunks.push([history]);
    } else {
      lastChunk.push(history);
    }
    this.#size += 1;
  }
}
