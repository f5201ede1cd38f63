/**
 * `DiskNodeStorage`: the driver's durable `NodeStorage` over the WAL, the snapshot files and
 * the in-memory `DiskStorage` index (wal.ts, snapshot-store-file.ts, disk-storage.ts).
 *
 * Bootstrap: a member that never took a snapshot reports the initial cluster (`initialVoters`,
 * etcd's --initial-cluster) as its membership at index 0; conf-change entries in the log and
 * later snapshots carry every change after that, so every member agrees on it.
 *
 * Write order per Ready (wal.ts, snapshot-store.ts): a received snapshot's file is durable
 * before the WAL records its marker; the WAL batch (marker, entries, hard state) is one write
 * and at most one fsync; only then is the in-memory log updated, entries before the hard
 * state so a commit index never points past the log.
 */
import {
  assert, type LogIndex, type Logger, type NodeId, logIndex,
} from "../common/index.js";
import type { ConfState, Storage } from "../raft/index.js";
import { openDiskStorage } from "./disk-storage-open.js";
import type { DiskStorage } from "./disk-storage.js";
import type { FileIo } from "./file-io.js";
import type { NodeStorage, PersistUpdate } from "./raft-node-storage.js";
import type { FileSnapshotStore } from "./snapshot-store-file.js";
import type { Wal } from "./wal.js";

/** Options of `DiskNodeStorage.open`. */
export interface DiskNodeStorageOptions {
  readonly walDir: string;
  readonly snapshotDir: string;
  readonly io: FileIo;
  readonly logger: Logger;
  /** The initial cluster's voters (used until the first snapshot). */
  readonly initialVoters: readonly NodeId[];
  /** WAL segment size for tests; limits.walSegmentBytes otherwise. */
  readonly segmentBytes?: number;
}

/** A node's durable Raft state. */
export class DiskNodeStorage implements NodeStorage {
  readonly #storage: DiskStorage;
  readonly #wal: Wal;
  readonly #snapshots: FileSnapshotStore;
  readonly #initialVoters: readonly NodeId[];

  private constructor(storage: DiskStorage, wal: Wal, snapshots: FileSnapshotStore,
    initialVoters: readonly NodeId[]) {
    this.#storage = storage;
    this.#wal = wal;
    this.#snapshots = snapshots;
    this.#initialVoters = initialVoters;
  }

  /** Opens (or creates) the state in the two directories; see openDiskStorage for errors. */
  static async open(options: DiskNodeStorageOptions): Promise<DiskNodeStorage> {
    assert(options.initialVoters.length > 0, "a cluster needs at least one initial voter");
    const opened = await openDiskStorage({
      walDir: options.walDir, snapshotDir: options.snapshotDir, io: options.io,
      logger: options.logger,
      ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
    });
    return new DiskNodeStorage(opened.storage, opened.wal, opened.snapshots,
      [...options.initialVoters]);
  }

  initialState(): ReturnType<Storage["initialState"]> {
    const state = this.#storage.initialState();
    const snapshot = this.#storage.snapshot();
    if (snapshot.ok && snapshot.value.metadata.index > 0) return state;
    const confState: ConfState = { voters: this.#initialVoters, learners: [] };
    return { hardState: state.hardState, confState };
  }

  entries(...args: Parameters<Storage["entries"]>): ReturnType<Storage["entries"]> {
    return this.#storage.entries(...args);
  }

  term(index: LogIndex): ReturnType<Storage["term"]> { return this.#storage.term(index); }
  firstIndex(): LogIndex { return this.#storage.firstIndex(); }
  lastIndex(): LogIndex { return this.#storage.lastIndex(); }

  snapshot(): ReturnType<Storage["snapshot"]> {
    const snapshot = this.#storage.snapshot();
    if (!snapshot.ok || snapshot.value.metadata.index > 0) return snapshot;
    // The empty snapshot stands for the initial cluster (see the module comment).
    const metadata = {
      ...snapshot.value.metadata, confState: { voters: this.#initialVoters, learners: [] },
    };
    return { ok: true, value: { metadata, data: snapshot.value.data } };
  }

  async persist(update: PersistUpdate, mustSync: boolean): Promise<void> {
    const snapshot = update.snapshot;
    if (snapshot !== undefined) await this.#snapshots.save(snapshot);
    await this.#wal.save({
      ...(update.hardState === undefined ? {} : { hardState: update.hardState }),
      entries: update.entries,
      ...(snapshot === undefined ? {} : {
        snapshotMarker: { index: snapshot.metadata.index, term: snapshot.metadata.term },
      }),
    }, mustSync || snapshot !== undefined);
    if (snapshot !== undefined) {
      const applied = this.#storage.applySnapshot(snapshot);
      assert(applied.ok, () => `received snapshot ${snapshot.metadata.index} is out of date`);
    }
    this.#storage.append(update.entries);
    if (update.hardState !== undefined) this.#storage.setHardState(update.hardState);
  }

  async saveSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array,
    compactIndex: LogIndex): Promise<void> {
    assert(compactIndex <= index, () => `compact ${compactIndex} above snapshot ${index}`);
    const created = this.#storage.createSnapshot(index, confState, data);
    if (!created.ok) return;
    const metadata = created.value.metadata;
    await this.#snapshots.save(created.value);
    await this.#wal.save({
      entries: [], snapshotMarker: { index: metadata.index, term: metadata.term },
    }, true);
    if (compactIndex > 0) {
      this.#storage.compact(logIndex(compactIndex));
      await this.#wal.releaseTo(compactIndex);
    }
    await this.#snapshots.purge();
  }

  async close(): Promise<void> {
    await this.#wal.close();
  }
}
