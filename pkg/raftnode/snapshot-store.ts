/**
 * The snapshot store seam (STYLE rule 4): where the driver keeps Raft snapshots (metadata and
 * the state machine's data). `FileSnapshotStore` (snapshot-store-file.ts) is the durable one;
 * `MemorySnapshotStore` here is for tests and the simulator.
 *
 * Ordering duty of the driver: a snapshot is saved (and durable) before the WAL records its
 * marker, and the WAL is purged only after both.
 */
import type { Snapshot } from "../raft/index.js";
import { assert, assertSafeInteger, limits } from "../common/index.js";

/** Stores snapshots. Implementations serialize nothing: the driver calls one at a time. */
export interface SnapshotStore {
  /**
   * Stores `snapshot` durably (written, fsynced and visible under its final name when the
   * promise resolves). Saving the same index and term again replaces the stored one.
   */
  save(snapshot: Snapshot): Promise<void>;
  /**
   * The newest stored snapshot that verifies, or undefined when none is stored. A newest one
   * that fails its checksum is logged and skipped for an older valid one. Rejects with a
   * DATA_CORRUPTED PfsError naming each file when snapshots exist but none verifies.
   */
  loadNewest(): Promise<Snapshot | undefined>;
  /** Removes all but the newest `keep` (≥ 1) snapshots; resolves with the number removed. */
  purge(keep?: number): Promise<number>;
}

/** Snapshots in memory, newest last. Stores references: callers must not mutate them. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly #snapshots: Snapshot[] = [];

  save(snapshot: Snapshot): Promise<void> {
    const at = this.#snapshots.findIndex((stored) =>
      stored.metadata.index === snapshot.metadata.index &&
      stored.metadata.term === snapshot.metadata.term);
    if (at >= 0) this.#snapshots.splice(at, 1);
    this.#snapshots.push(snapshot);
    this.#snapshots.sort((a, b) => a.metadata.index - b.metadata.index);
    return Promise.resolve();
  }

  loadNewest(): Promise<Snapshot | undefined> {
    return Promise.resolve(this.#snapshots.at(-1));
  }

  purge(keep: number = limits.snapshotFilesKept): Promise<number> {
    assertSafeInteger(keep, "snapshots kept", 1);
    const removed = Math.max(0, this.#snapshots.length - keep);
    this.#snapshots.splice(0, removed);
    assert(this.#snapshots.length <= keep, "purge kept too many snapshots");
    return Promise.resolve(removed);
  }
}
