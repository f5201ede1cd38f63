/**
 * What keeps the garbage collector from deleting a chunk someone is writing: the in-memory
 * state a chunk store shares between its writers and its collector (one process owns a store
 * directory).
 *
 * - a lock per chunk id: putting a chunk (checking whether it exists, renaming it into place,
 *   fsyncing its directory) and the collector's check-then-delete of the same id never
 *   interleave;
 * - pins: an id added to a write session is pinned until the session ends, so a collection
 *   that starts while the session is open spares it;
 * - marks: every id put (written, or found already present: a dedup hit) while a collection
 *   runs is recorded in that collection's mark set, so it is spared even when it is not yet in
 *   the references the collection was given.
 *
 * - holds: an id pushed for a file recorded in a later call (a cross-shard copy: `putChunks`,
 *   then `putEntry`), or found present by `ChunkStore.hasAndHold` for the same purpose, is held
 *   for `chunkHoldMs` (at most `chunkHoldsMax` ids, the oldest dropped first). Ordinary puts
 *   record their file right after their session, inside the shard's GC gate, and take no hold,
 *   so garbage they leave is freed by the next collection.
 *
 * Invariant: the collector deletes id X only while holding X's lock and after seeing X
 * neither pinned, marked nor held; a writer pins and marks (or holds) X while holding X's
 * lock before it looks at the disk. So a put that returns has its chunk on disk, and no
 * collection removes it unless X is unreferenced, the collection began after the put's
 * session ended, and any hold on X ran out.
 */
import { assert } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import { KeyedLock } from "./keyed-lock.js";
import { chunkHoldMs, chunkHoldsMax } from "./limits.js";

/** The ids put while one collection runs. */
export type GarbageMarks = Set<Sha256Hex>;

export class ChunkGuard {
  readonly lock = new KeyedLock();
  /** Open write sessions holding each id (a count: several sessions may add the same id). */
  readonly #pins = new Map<Sha256Hex, number>();
  /** The mark sets of the collections running now. */
  readonly #marks = new Set<GarbageMarks>();

  /** Ids held, each with when its hold ends (monotonic ms), oldest first. */
  readonly #holds = new Map<Sha256Hex, number>();
  readonly #nowMs: () => number;

  /** `nowMs` is a monotonic clock (tests pass their own). */
  constructor(nowMs: () => number = () => performance.now()) {
    this.#nowMs = nowMs;
  }

  /** Pins `id` and marks it in every running collection. Call while holding `id`'s lock. */
  pinAndMark(id: Sha256Hex): void {
    this.#pins.set(id, (this.#pins.get(id) ?? 0) + 1);
    for (const marks of this.#marks) marks.add(id);
  }

  /** Holds `id` for `chunkHoldMs` from now (module comment). Call holding `id`'s lock. */
  hold(id: Sha256Hex): void {
    const now = this.#nowMs();
    this.#holds.delete(id);
    this.#holds.set(id, now + chunkHoldMs);
    for (const [oldest, endsMs] of this.#holds) {
      if (endsMs > now && this.#holds.size <= chunkHoldsMax) break;
      this.#holds.delete(oldest);
    }
  }

  /** Ids held now (some may have run out since the last hold), for tests. */
  get heldCount(): number {
    return this.#holds.size;
  }

  /** Drops one pin of `id` (its session ended). */
  unpin(id: Sha256Hex): void {
    const count = this.#pins.get(id) ?? 0;
    assert(count > 0, () => `unpin of ${id} which is not pinned`);
    if (count === 1) this.#pins.delete(id);
    else this.#pins.set(id, count - 1);
  }

  /** Ids pinned now, for tests and leak checks. */
  get pinnedCount(): number {
    return this.#pins.size;
  }

  /** Starts recording puts for a new collection. End it with `endMarks`. */
  beginMarks(): GarbageMarks {
    const marks: GarbageMarks = new Set();
    this.#marks.add(marks);
    return marks;
  }

  /** Stops recording puts into `marks`. */
  endMarks(marks: GarbageMarks): void {
    assert(this.#marks.delete(marks), "endMarks of marks that are not running");
  }

  /** True when the collection owning `marks` must spare `id`. Call while holding `id`'s lock. */
  isProtected(id: Sha256Hex, marks: GarbageMarks): boolean {
    const holdEndsMs = this.#holds.get(id);
    return this.#pins.has(id) || marks.has(id) ||
      (holdEndsMs !== undefined && holdEndsMs > this.#nowMs());
  }
}
