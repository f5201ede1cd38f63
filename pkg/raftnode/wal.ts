/**
 * The write-ahead log: an append-only sequence of segment files holding Raft's hard state,
 * entries and snapshot markers (record.ts), replayed on open (wal-replay.ts).
 *
 * Durability duties (STYLE rule 3): the driver calls `save()` once per Ready with everything
 * that Ready persists, and sends no message that depends on it before the promise resolves.
 * A save writes all its records with one write and, when `mustSync`, makes them durable with
 * exactly one fsync (group commit). A save that fails leaves the WAL unusable: every later
 * call rejects with the same error, and the process must restart and replay (after a failed
 * fsync the kernel may have dropped the dirty pages, so retrying would lie).
 */
import type { Entry, HardState } from "../raft/index.js";
import { type LogIndex, type Logger, assert, limits, logIndex } from "../common/index.js";
import * as path from "node:path";
import type { AppendFile, FileIo } from "./file-io.js";
import { RecordType, type SnapshotMarker, type WalRecord, encodeRecord } from "./record.js";
import { openSegments } from "./wal-open.js";
import type { WalReplay } from "./wal-replay.js";
import { segmentFileName, temporarySuffix } from "./wal-segment-name.js";
import type { SegmentName } from "./wal-segment-name.js";

/** What one Ready persists. Records are written marker first, then entries, then hard state. */
export interface WalBatch {
  /** Written when present (the driver passes it when the Ready's hard state changed). */
  readonly hardState?: HardState;
  /** Contiguous entries; the first may be at or below the last index (a conflict overwrite). */
  readonly entries: readonly Entry[];
  /** Present when the batch persists a snapshot (whose file is already durable). */
  readonly snapshotMarker?: SnapshotMarker;
}

/** What `Wal.open` returns. */
export interface WalOpened {
  readonly wal: Wal;
  /** The replayed log, hard state and last snapshot marker. */
  readonly replay: WalReplay;
  /** True when the directory held no segment and a first one was created. */
  readonly created: boolean;
}

/** Options of `Wal.open`. */
export interface WalOptions {
  readonly dir: string;
  readonly io: FileIo;
  readonly logger: Logger;
  /** Rollover size; limits.walSegmentBytes unless a test wants small segments. */
  readonly segmentBytes?: number;
}

/** Bytes of entry data per WAL record: the record limit minus framing headroom. */
const recordDataBytesMax = limits.walRecordBytesMax - 64 * 1024;
/** Fixed bytes per encoded entry besides its data: term, index, type, data length. */
const entryOverheadBytes = 8 + 8 + 1 + 4;

/** Splits entries into records of at most recordDataBytesMax bytes each. */
function entryRecords(entries: readonly Entry[]): WalRecord[] {
  const records: WalRecord[] = [];
  let chunk: Entry[] = [];
  let chunkBytes = 0;
  for (const entry of entries) {
    const bytes = entryOverheadBytes + entry.data.length;
    assert(bytes <= recordDataBytesMax, () => `entry ${entry.index} of ${bytes} B exceeds a record`);
    if (chunkBytes + bytes > recordDataBytesMax) {
      records.push({ type: RecordType.Entries, entries: chunk });
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(entry);
    chunkBytes += bytes;
  }
  if (chunk.length > 0) records.push({ type: RecordType.Entries, entries: chunk });
  return records;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

/** An open WAL. Owns its directory's files; one `Wal` per directory at a time. */
export class Wal {
  readonly #dir: string;
  readonly #io: FileIo;
  readonly #logger: Logger;
  readonly #segmentBytes: number;
  /** Segments on disk, oldest first; the last is `#file`. */
  readonly #segments: SegmentName[];
  #file: AppendFile | undefined;
  /** An upper bound on the log's last index (exact except after a marker below it). */
  #lastIndex: LogIndex;
  #hardState: HardState | undefined;
  /** True while the current file holds appended bytes not yet fsynced. */
  #unsynced = false;
  /** Tail of the operation queue: saves and purges run one at a time, in call order. */
  #queue: Promise<void> = Promise.resolve();
  #busy = false;
  /** Set by the first failed write or sync; every later operation rejects with it. */
  #failure: Error | undefined = undefined;

  private constructor(options: WalOptions, segments: SegmentName[], file: AppendFile,
    replay: WalReplay) {
    this.#dir = options.dir;
    this.#io = options.io;
    this.#logger = options.logger;
    this.#segmentBytes = options.segmentBytes ?? limits.walSegmentBytes;
    this.#segments = segments;
    this.#file = file;
    this.#lastIndex = replay.lastIndex();
    this.#hardState = replay.hardState;
  }

  /**
   * Opens the WAL in `dir` (creating it, with a first segment, when empty), replays every
   * segment and returns the replayed log. A torn tail of the last segment is cut off and
   * logged. Rejects with a DATA_CORRUPTED PfsError naming the file and byte offset for any
   * other damage, and for a missing segment in the sequence.
   */
  static async open(options: WalOptions): Promise<WalOpened> {
    const segmentBytes = options.segmentBytes ?? limits.walSegmentBytes;
    assert(segmentBytes > 0 && segmentBytes <= limits.walSegmentBytes, () =>
      `segment bytes ${segmentBytes} outside (0, ${limits.walSegmentBytes}]`);
    const opened = await openSegments(options.dir, options.io, options.logger);
    let segments = opened.segments;
    const created = segments.length === 0;
    if (created) {
      const first = await createSegment(options, 0, logIndex(1), undefined);
      segments = [first];
    }
    const last = segments.at(-1);
    assert(last !== undefined, "an open WAL has a segment");
    const file = await options.io.openAppend(path.join(options.dir, last.name));
    const wal = new Wal(options, segments, file, opened.replay);
    return { wal, replay: opened.replay, created };
  }

  /** The segment file names, oldest first (for tests and diagnostics). */
  segmentNames(): string[] {
    return this.#segments.map((segment) => segment.name);
  }

  /**
   * Appends one Ready's records with a single write and, when `mustSync`, a single fsync.
   * Calls are serialized in call order. Resolves once the records are written (and durable
   * when `mustSync`). Rolls over to a new segment first when the current one is full.
   */
  save(batch: WalBatch, mustSync: boolean): Promise<void> {
    return this.#enqueue(() => this.#save(batch, mustSync));
  }

  /**
   * Removes whole segments holding only entries at or below `index` (the snapshot index the
   * driver compacted to), never the current one. Resolves with the number removed.
   */
  releaseTo(index: LogIndex): Promise<number> {
    let removed = 0;
    return this.#enqueue(async () => {
      removed = await this.#releaseTo(index);
    }).then(() => removed);
  }

  /** Waits for queued operations and closes the current segment. Does not sync. */
  close(): Promise<void> {
    return this.#enqueue(async () => {
      const file = this.#file;
      this.#file = undefined;
      if (file !== undefined) await file.close();
    });
  }

  #enqueue(operation: () => Promise<void>): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.#failure !== undefined) throw this.#failure;
      assert(!this.#busy, "WAL operations overlapped");
      this.#busy = true;
      try {
        await operation();
      } catch (error) {
        this.#failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        this.#busy = false;
      }
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Asserts that a batch continues the log: contiguous, no gap after the last index. */
  #checkBatch(batch: WalBatch): void {
    const marker = batch.snapshotMarker;
    const last = marker === undefined ? this.#lastIndex : Math.max(this.#lastIndex, marker.index);
    const first = batch.entries[0];
    assert(first === undefined || first.index <= last + 1, () =>
      `WAL save at index ${first?.index} leaves a gap after ${last}`);
    batch.entries.forEach((entry, at) => {
      assert(entry.index === (first?.index ?? 0) + at, () =>
        `WAL save has index ${entry.index} at position ${at} after ${first?.index}`);
    });
  }

  async #save(batch: WalBatch, mustSync: boolean): Promise<void> {
    this.#checkBatch(batch);
    const records: WalRecord[] = [];
    if (batch.snapshotMarker !== undefined) {
      records.push({ type: RecordType.SnapshotMarker, marker: batch.snapshotMarker });
    }
    records.push(...entryRecords(batch.entries));
    if (batch.hardState !== undefined) {
      records.push({ type: RecordType.HardState, hardState: batch.hardState });
    }
    if (records.length === 0 && !(mustSync && this.#unsynced)) return;
    let file = this.#current();
    if (file.sizeBytes >= this.#segmentBytes) file = await this.#rollover();
    if (records.length > 0) {
      await file.append(concat(records.map(encodeRecord)));
      this.#unsynced = true;
    }
    if (mustSync) {
      await file.sync();
      this.#unsynced = false;
    }
    this.#track(batch);
  }

  #track(batch: WalBatch): void {
    const marker = batch.snapshotMarker;
    if (marker !== undefined && marker.index > this.#lastIndex) this.#lastIndex = marker.index;
    const last = batch.entries.at(-1);
    if (last !== undefined) this.#lastIndex = last.index;
    if (batch.hardState !== undefined) this.#hardState = batch.hardState;
  }

  #current(): AppendFile {
    assert(this.#file !== undefined, "WAL used after close");
    return this.#file;
  }

  async #rollover(): Promise<AppendFile> {
    const old = this.#current();
    if (this.#unsynced) await old.sync();
    this.#unsynced = false;
    this.#file = undefined;
    await old.close();
    const previous = this.#segments.at(-1);
    assert(previous !== undefined, "rollover without a segment");
    const next = await createSegment(
      { dir: this.#dir, io: this.#io, logger: this.#logger },
      previous.sequence + 1,
      logIndex(this.#lastIndex + 1),
      this.#hardState,
    );
    this.#segments.push(next);
    this.#file = await this.#io.openAppend(path.join(this.#dir, next.name));
    this.#logger.info("WAL segment rolled over", { segment: next.name });
    return this.#file;
  }

  async #releaseTo(index: LogIndex): Promise<number> {
    let keepFrom = 0;
    for (let k = 1; k < this.#segments.length; k += 1) {
      const segment = this.#segments[k];
      if (segment !== undefined && segment.firstIndex <= index + 1) keepFrom = k;
    }
    const removed = this.#segments.splice(0, keepFrom);
    for (const segment of removed) {
      // Oldest first, each removal durable before the next: a crash mid-purge leaves a whole
      // sequence (a later prefix removed), never a hole that open would call corruption.
      await this.#io.remove(path.join(this.#dir, segment.name));
      await this.#io.syncDir(this.#dir);
    }
    if (removed.length > 0) {
      this.#logger.info("WAL segments purged", { releasedTo: index, removed: removed.length });
    }
    assert(this.#segments.length > 0, "purge removed the current segment");
    return removed.length;
  }
}

/**
 * Creates segment `sequence` durably: header (and the current hard state, so purging older
 * segments never loses it) written to a temporary name, fsynced, renamed, directory fsynced.
 */
async function createSegment(options: Pick<WalOptions, "dir" | "io" | "logger">,
  sequence: number, firstIndex: LogIndex, hardState: HardState | undefined,
): Promise<SegmentName> {
  const name = segmentFileName(sequence, firstIndex);
  const finalPath = path.join(options.dir, name);
  const temporaryPath = finalPath + temporarySuffix;
  const records: WalRecord[] = [
    { type: RecordType.SegmentHeader, header: { sequence, firstIndex } },
  ];
  if (hardState !== undefined) records.push({ type: RecordType.HardState, hardState });
  const file = await options.io.createFile(temporaryPath);
  try {
    await file.append(concat(records.map(encodeRecord)));
    await file.sync();
  } finally {
    await file.close();
  }
  await options.io.rename(temporaryPath, finalPath);
  await options.io.syncDir(options.dir);
  return { name, sequence, firstIndex };
}
