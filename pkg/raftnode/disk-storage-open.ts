/**
 * Opening a node's durable Raft state: load the newest valid snapshot, replay the WAL, and
 * rebuild `DiskStorage` from both. This is the one place the two are reconciled; see
 * wal-replay.ts for how snapshot markers and conflict overwrites replay.
 */
import {
  type Logger, PfsError, type LogIndex, logIndex,
} from "../common/index.js";
import type { FileIo } from "./file-io.js";
import { DiskStorage, emptyHardState, emptySnapshot } from "./disk-storage.js";
import { FileSnapshotStore } from "./snapshot-store-file.js";
import { Wal } from "./wal.js";
import { ReplayError } from "./wal-replay.js";

/** Options of `openDiskStorage`. */
export interface DiskStorageOptions {
  readonly walDir: string;
  readonly snapshotDir: string;
  readonly io: FileIo;
  readonly logger: Logger;
  /** WAL rollover size; limits.walSegmentBytes unless a test wants small segments. */
  readonly segmentBytes?: number;
}

/** The opened durable state: the core's Storage, and the WAL and store that persist it. */
export interface OpenedDiskStorage {
  readonly storage: DiskStorage;
  readonly wal: Wal;
  readonly snapshots: FileSnapshotStore;
}

function corruption(message: string, dir: string): PfsError {
  return new PfsError("DATA_CORRUPTED", message, { dir });
}

/**
 * Opens (or creates, when both directories are empty) a node's durable Raft state. Rejects
 * with DATA_CORRUPTED when the WAL or snapshots fail their checksums, when a snapshot exists
 * but the WAL does not (the vote would be lost), or when the WAL's entries do not reach back
 * to the snapshot. The hard state's commit is raised to the snapshot index when below it.
 * A snapshot newer than the WAL's last marker (a crash between the snapshot file and the WAL
 * save) gets its marker and hard state written now, with one fsync.
 */
export async function openDiskStorage(options: DiskStorageOptions): Promise<OpenedDiskStorage> {
  const { logger, walDir } = options;
  const snapshots = new FileSnapshotStore({ dir: options.snapshotDir, io: options.io, logger });
  const snapshot = (await snapshots.loadNewest()) ?? emptySnapshot();
  const { index, term } = snapshot.metadata;
  const walOptions = options.segmentBytes === undefined
    ? { dir: walDir, io: options.io, logger }
    : { dir: walDir, io: options.io, logger, segmentBytes: options.segmentBytes };
  const { wal, replay, created } = await Wal.open(walOptions);
  try {
    if (created && index > 0) {
      throw corruption(`snapshot at index ${index} exists but the WAL in ${walDir} is missing`,
        walDir);
    }
    let entries;
    try {
      entries = replay.entriesAfter({ index, term });
    } catch (error) {
      if (error instanceof ReplayError) throw corruption(`WAL in ${walDir}: ${error.message}`, walDir);
      throw error;
    }
    const stored = replay.hardState ?? emptyHardState();
    const lastIndex: LogIndex = logIndex(entries.at(-1)?.index ?? index);
    if (stored.commit > lastIndex) {
      throw corruption(`WAL in ${walDir}: hard state commit ${stored.commit} is beyond the ` +
        `last durable index ${lastIndex}`, walDir);
    }
    const commit = logIndex(Math.max(stored.commit, index));
    const hardState = { ...stored, commit };
    if (index > (replay.lastMarker?.index ?? 0)) {
      // The snapshot became durable but a crash kept its WAL marker (and hard state) from
      // being written. Record them now, before any new entry, or the next replay would set
      // the stale log it replaced against the entries appended after it.
      logger.warn("recording a snapshot the WAL does not know", { snapshotIndex: index });
      await wal.save({ hardState, entries: [], snapshotMarker: { index, term } }, true);
    }
    logger.info("raft storage opened", { snapshotIndex: index, lastIndex, commit });
    return { storage: new DiskStorage({ hardState, snapshot, entries }), wal, snapshots };
  } catch (error) {
    await wal.close();
    throw error;
  }
}
