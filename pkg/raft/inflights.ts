/**
 * The window of appendEntries messages in flight to one follower (etcd-io/raft
 * tracker/inflights.go): bounded both in messages and in payload bytes.
 */
import { type LogIndex, assert } from "../common/index.js";

interface Inflight {
  /** The last entry index the message carried. */
  readonly index: LogIndex;
  /** The payload bytes it carried. */
  readonly bytes: number;
}

/** A FIFO of in-flight appends, ordered by increasing last index. */
export class Inflights {
  readonly #capacity: number;
  readonly #bytesMax: number;
  #items: Inflight[] = [];
  #bytes = 0;

  /** `capacity` messages; `bytesMax` payload bytes (0 = unlimited). */
  constructor(capacity: number, bytesMax: number) {
    assert(capacity > 0, () => `inflights capacity ${capacity} <= 0`);
    this.#capacity = capacity;
    this.#bytesMax = bytesMax;
  }

  /** Records a sent message whose last index is `index`; the window must not be full. */
  add(index: LogIndex, bytes: number): void {
    assert(!this.full(), () => `inflights full (${this.#items.length}, ${this.#bytes} B)`);
    const last = this.#items[this.#items.length - 1];
    assert(last === undefined || last.index < index, () => `inflight ${index} not increasing`);
    this.#items.push({ index, bytes });
    this.#bytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: LogIndex): void {
    let freed = 0;
    while (freed < this.#items.length && (this.#items[freed]?.index ?? Infinity) <= index) {
      this.#bytes -= this.#items[freed]?.bytes ?? 0;
      freed += 1;
    }
    if (freed > 0) this.#items = this.#items.slice(freed);
  }

  /** Frees the oldest message (a heartbeat response proves the follower is alive). */
  freeFirstOne(): void {
    const first = this.#items[0];
    if (first === undefined) return;
    this.freeLE(first.index);
  }

  full(): boolean {
    if (this.#items.length >= this.#capacity) return true;
    return this.#bytesMax > 0 && this.#bytes >= this.#bytesMax;
  }

  count(): number {
    return this.#items.length;
  }

  reset(): void {
    this.#items = [];
    this.#bytes = 0;
  }
}
