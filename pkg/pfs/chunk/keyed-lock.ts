/**
 * A mutual-exclusion lock per key (a chunk id), in memory, for one process.
 *
 * Invariants: at most one holder per key at a time; waiters get the lock in arrival order; an
 * idle key holds no memory. Deadlock freedom is the caller's duty: whoever holds several keys
 * at once must acquire them in ascending order (`acquireAll` does), and nobody may wait for a
 * key while holding one out of that order.
 */
import { assert } from "../../common/index.js";

/** Gives a held key back. Call exactly once. */
export type Release = () => void;

export class KeyedLock {
  /** Per key, the promise the next waiter must await: it resolves when the last holder releases. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Number of keys held or awaited, for tests and leak checks. */
  get busyKeys(): number {
    return this.#tails.size;
  }

  /** Waits until `key` is free and takes it. */
  async acquire(key: string): Promise<Release> {
    const previous = this.#tails.get(key);
    let resolveOwn: () => void = () => undefined;
    const own = new Promise<void>((resolve) => {
      resolveOwn = resolve;
    });
    const tail = previous === undefined ? own : previous.then(() => own);
    this.#tails.set(key, tail);
    if (previous !== undefined) await previous;
    let released = false;
    return () => {
      assert(!released, () => `lock on ${key} released twice`);
      released = true;
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
      resolveOwn();
    };
  }

  /** Takes every key of `keys` (duplicates allowed), in ascending order; returns one release. */
  async acquireAll(keys: Iterable<string>): Promise<Release> {
    const sorted = [...new Set(keys)].sort();
    const releases: Release[] = [];
    for (const key of sorted) releases.push(await this.acquire(key));
    return () => {
      for (const release of releases) release();
    };
  }
}
