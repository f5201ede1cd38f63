/**
 * An in-memory readers-writer lock, and a family of them keyed by name (one per open commit).
 *
 * Invariants: while a holder is exclusive, nobody else holds; shared holders may be many.
 * Waiters are admitted strictly in arrival order (a waiting exclusive holder blocks later
 * shared ones), so neither kind starves. Deadlock freedom is the callers' duty: whoever takes
 * two locks takes them in one fixed order (local-shard.ts: a commit's lock, then the GC gate).
 */
import { assert } from "../../common/index.js";

/** Gives a held lock back. Call exactly once. */
export type Release = () => void;

interface Waiter {
  readonly exclusive: boolean;
  readonly admit: () => void;
}

export class ReadWriteLock {
  #sharedHolders = 0;
  #exclusiveHeld = false;
  readonly #waiting: Waiter[] = [];

  /** True when nobody holds or waits (a keyed family drops idle locks). */
  get idle(): boolean {
    return this.#sharedHolders === 0 && !this.#exclusiveHeld && this.#waiting.length === 0;
  }

  /** Waits until no exclusive holder is in or ahead, then holds shared. */
  acquireShared(): Promise<Release> {
    return this.#acquire(false);
  }

  /** Waits until nobody holds or is ahead, then holds alone. */
  acquireExclusive(): Promise<Release> {
    return this.#acquire(true);
  }

  async #acquire(exclusive: boolean): Promise<Release> {
    if (this.#waiting.length === 0 && this.#admissible(exclusive)) {
      this.#enter(exclusive);
    } else {
      await new Promise<void>((resolve) => {
        this.#waiting.push({ exclusive, admit: resolve });
      });
    }
    let released = false;
    return () => {
      assert(!released, "read-write lock released twice");
      released = true;
      if (exclusive) {
        assert(this.#exclusiveHeld, "exclusive release without a holder");
        this.#exclusiveHeld = false;
      } else {
        assert(this.#sharedHolders > 0, () => `shared release with ${this.#sharedHolders} holders`);
        this.#sharedHolders -= 1;
      }
      this.#admitWaiting();
    };
  }

  #admissible(exclusive: boolean): boolean {
    return exclusive ? !this.#exclusiveHeld && this.#sharedHolders === 0 : !this.#exclusiveHeld;
  }

  #enter(exclusive: boolean): void {
    if (exclusive) this.#exclusiveHeld = true;
    else this.#sharedHolders += 1;
  }

  /** Admits waiters from the front while the first one can enter. */
  #admitWaiting(): void {
    for (let next = this.#waiting[0]; next !== undefined && this.#admissible(next.exclusive);
      next = this.#waiting[0]) {
      this.#waiting.shift();
      this.#enter(next.exclusive);
      next.admit();
    }
  }
}

/** One `ReadWriteLock` per key, created on first use and dropped once idle. */
export class KeyedReadWriteLock {
  readonly #locks = new Map<string, { lock: ReadWriteLock; users: number }>();

  /** Keys with a lock in use (held or awaited), for leak checks in tests. */
  get busyKeys(): number {
    return this.#locks.size;
  }

  /** Holds `key` shared. */
  acquireShared(key: string): Promise<Release> {
    return this.#acquire(key, false);
  }

  /** Holds `key` exclusively. */
  acquireExclusive(key: string): Promise<Release> {
    return this.#acquire(key, true);
  }

  async #acquire(key: string, exclusive: boolean): Promise<Release> {
    let slot = this.#locks.get(key);
    if (slot === undefined) {
      slot = { lock: new ReadWriteLock(), users: 0 };
      this.#locks.set(key, slot);
    }
    slot.users += 1;
    const held = slot;
    const release = exclusive
      ? await held.lock.acquireExclusive()
      : await held.lock.acquireShared();
    return () => {
      release();
      held.users -= 1;
      if (held.users === 0 && this.#locks.get(key) === held) this.#locks.delete(key);
    };
  }

  /** Runs `step` holding `key` (shared or exclusive), releasing whatever happens. */
  async with<T>(key: string, exclusive: boolean, step: () => Promise<T>): Promise<T> {
    const release = await this.#acquire(key, exclusive);
    try {
      return await step();
    } finally {
      release();
    }
  }
}
