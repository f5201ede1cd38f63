/**
 * The staging log of one open commit on one shard replica: an append-only file of records
 * (staging-record.ts). A write resolves only once its record is durable (written and
 * fdatasync'ed); writes that arrive while a write + fsync is in flight wait together and share
 * the next one (group commit), so ingesting many small files costs few fsyncs.
 *
 * Invariants: records are written in the order their writes were called; the file holds the
 * header, then whole records up to `#durableBytes`, then possibly the bytes of the batch in
 * flight. After an I/O error the log is failed: that batch and every later write reject, and
 * its commit must fail (the tail is cut off at the next open).
 *
 * Recovery (`openStagingLog`), as etcd's WAL: replay reads records up to the first bad one
 * (cut short, a length out of range, a failed checksum or decoding) and then decides whether
 * the bytes from there on are a **torn tail** — what a crash leaves of the one batch whose
 * fsync never completed — or damage to data that was acknowledged:
 *
 * - torn, cut off durably: the bad record is cut short by the end of the file (a kill -9 in
 *   the middle of a write: the file is always a prefix of what was written); or it is whole
 *   and ends exactly at the end of the file (a failed checksum with nothing after it); or
 *   every byte from it to the end is zero (a file extended but not written); or it contains a
 *   zero-filled 512-byte sector (a page that a power loss did not write, as etcd's
 *   `isTornEntry`) and everything after it fits in one write batch.
 * - anything else — a bad record followed by more bytes — is DATA_CORRUPTED naming the file
 *   and the record's offset, and the open fails: cutting there would silently drop later,
 *   acknowledged writes. Only that commit is affected (a log is opened per open commit).
 *
 * Known limit (as etcd's): a damaged length field that makes a middle record reach past the
 * end of the file looks like a torn tail. A log whose header is wrong is DATA_CORRUPTED.
 */
import * as fs from "node:fs/promises";
import {
  type Logger, MalformedPayloadError, PfsError, assert, silentLogger,
} from "../../common/index.js";
import type { ChunkRef, FileEntry, Sha256Hex } from "../model.js";
import { openExisting, publishTemporary, writeTemporary } from "../durable-fs.js";
import {
  stagingBatchBytesMax, stagingPendingBytesMax, stagingReadBufferBytes, stagingRecordBytesMax,
} from "./limits.js";
import {
  type StagingOp, checkStagingOp, decodeStagingRecord, encodeStagingHeader,
  encodeStagingRecord, recordCrc, recordFrameBytes, stagingHeaderBytes, stagingMagic,
  stagingVersion,
} from "./staging-record.js";

/** A record found by a scan, and the file offset just after it. */
interface ScannedRecord {
  readonly op: StagingOp;
  readonly end: number;
}

/** Reads `length` bytes at `position`, or fewer at the end of the file. */
async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(bytes, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}

/** Where and why a scan stopped before `endBytes`: the first bad record. */
interface ScanStop {
  /** Offset of the first byte not replayed; `endBytes` when every record was intact. */
  offset: number;
  /** Whether the bad record runs past `endBytes` (its frame, or its body by its length). */
  cutShort: boolean;
  /** The bad record's length field when it is in range (1..stagingRecordBytesMax), else 0. */
  length: number;
}

/**
 * Yields the whole, intact records in [stagingHeaderBytes, endBytes) in order, and stops at the
 * first record that is cut short, fails its CRC or does not decode; `stop` then says where and
 * why (`stop.offset === endBytes` when nothing was bad).
 */
async function* scanRecords(handle: fs.FileHandle, endBytes: number, stop: ScanStop):
  AsyncGenerator<ScannedRecord> {
  let buffer: Buffer = Buffer.alloc(0);
  let bufferStart = stagingHeaderBytes;
  let position = stagingHeaderBytes;
  const have = async (count: number): Promise<boolean> => {
    if (position + count <= bufferStart + buffer.length) return true;
    if (position + count > endBytes) return false;
    const length = Math.min(Math.max(count, stagingReadBufferBytes), endBytes - position);
    buffer = await readAt(handle, position, length);
    bufferStart = position;
    return buffer.length >= count;
  };
  const halt = (cutShort: boolean, length: number): void => {
    stop.offset = position;
    stop.cutShort = cutShort;
    stop.length = length;
  };
  halt(false, 0);
  while (position < endBytes) {
    if (!(await have(recordFrameBytes))) { halt(true, 0); return; }
    const at = position - bufferStart;
    const length = buffer.readUInt32BE(at);
    if (length < 1 || length > stagingRecordBytesMax) { halt(false, 0); return; }
    if (!(await have(recordFrameBytes + length))) { halt(true, length); return; }
    const start = position - bufferStart;
    const lengthField = buffer.subarray(start, start + 4);
    const body = buffer.subarray(start + recordFrameBytes, start + recordFrameBytes + length);
    if (recordCrc(lengthField, body) !== buffer.readUInt32BE(start + 4)) {
      halt(false, length);
      return;
    }
    let op: StagingOp;
    try {
      op = decodeStagingRecord(body);
    } catch (error) {
      if (error instanceof MalformedPayloadError) { halt(false, length); return; }
      throw error;
    }
    position += recordFrameBytes + length;
    yield { op, end: position };
    halt(false, 0);
  }
}

/** Bytes of a disk sector: the unit a power loss may leave unwritten (zeros), as in etcd. */
const sectorBytes = 512;

/**
 * True when some whole `sectorBytes`-aligned sector within [start, end) of the file is all
 * zeros. Reads the range in `stagingReadBufferBytes` pieces.
 */
async function hasZeroSector(handle: fs.FileHandle, start: number, end: number):
  Promise<boolean> {
  let sector = Math.ceil(start / sectorBytes) * sectorBytes;
  while (sector + sectorBytes <= end) {
    const length = Math.min(stagingReadBufferBytes, end - sector);
    const bytes = await readAt(handle, sector, length - (length % sectorBytes));
    for (let at = 0; at + sectorBytes <= bytes.length; at += sectorBytes) {
      if (isAllZero(bytes.subarray(at, at + sectorBytes))) return true;
    }
    sector += bytes.length;
    if (bytes.length === 0) break;
  }
  return false;
}

/** True when every byte of [start, end) of the file is zero. */
async function isZeroRange(handle: fs.FileHandle, start: number, end: number):
  Promise<boolean> {
  for (let position = start; position < end;) {
    const bytes = await readAt(handle, position, Math.min(stagingReadBufferBytes, end - position));
    if (bytes.length === 0 || !isAllZero(bytes)) return bytes.length === 0;
    position += bytes.length;
  }
  return true;
}

function isAllZero(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Whether the bytes [stop.offset, size) after the last intact record are a torn tail (see the
 * module comment); throws DATA_CORRUPTED, naming the file and the offset, when they are not.
 */
async function checkTornTail(file: string, handle: fs.FileHandle, stop: ScanStop,
  size: number): Promise<void> {
  assert(stop.offset < size, () => `tail check at ${stop.offset} of ${size} bytes`);
  if (stop.cutShort) return;
  const recordEnd = stop.length === 0 ? -1 : stop.offset + recordFrameBytes + stop.length;
  if (recordEnd === size) return;
  if (await isZeroRange(handle, stop.offset, size)) return;
  if (recordEnd > 0 && size - stop.offset <= stagingBatchBytesMax &&
    await hasZeroSector(handle, stop.offset, recordEnd)) return;
  throw new PfsError("DATA_CORRUPTED", `staging log ${file}: the record at offset ` +
    `${stop.offset} is damaged and ${size - stop.offset} bytes follow it, so it is not a torn ` +
    "tail; refusing to drop acknowledged writes after it", { file, offset: stop.offset });
}

/** A write waiting for its batch's write + fsync. */
interface PendingWrite {
  readonly record: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** What `openStagingLog` found. */
export interface StagingRecovery {
  readonly log: StagingLog;
  /** Whole records kept. */
  readonly recordCount: number;
  /** Bytes of torn or corrupt tail cut off (0 after a clean shutdown). */
  readonly truncatedBytes: number;
}

/** An open staging log. Owned by whoever opened it (the CommitStore); `close()` once. */
export class StagingLog {
  /** The log's file. */
  readonly file: string;
  readonly #handle: fs.FileHandle;
  /** The end of the records known durable; the next batch is written here. */
  #durableBytes: number;
  #recordCount: number;
  #syncCount = 0;
  #pending: PendingWrite[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> | null = null;
  #state: "open" | "sealed" | "failed" | "closed" = "open";
  #failure: unknown = null;

  /** @internal Use `createStagingLog` or `openStagingLog`. */
  constructor(file: string, handle: fs.FileHandle, durableBytes: number, recordCount: number) {
    this.file = file;
    this.#handle = handle;
    this.#durableBytes = durableBytes;
    this.#recordCount = recordCount;
  }

  /** Durable records so far. */
  get recordCount(): number {
    return this.#recordCount;
  }

  /** fdatasync calls made so far (each covers one batch of writes). */
  get syncCount(): number {
    return this.#syncCount;
  }

  /** Bytes of the file that are durable (header and whole records). */
  get durableBytes(): number {
    return this.#durableBytes;
  }

  /** Creates or overwrites the file `entry.path`; resolves once durable. */
  put(entry: FileEntry): Promise<void> {
    return this.write({ kind: "put", entry });
  }

  /** Adds `chunks` to the end of `path` (created if absent); `hash` is its new content's sha256. */
  append(path: string, chunks: readonly ChunkRef[], hash: Sha256Hex): Promise<void> {
    return this.write({ kind: "append", path, chunks, hash });
  }

  /** Removes the file `path` and everything below it ("/" for all); resolves once durable. */
  delete(path: string): Promise<void> {
    return this.write({ kind: "delete", path });
  }

  /** Makes `to` a copy of the file `from` (an entry of any commit); resolves once durable. */
  copy(to: string, from: FileEntry): Promise<void> {
    return this.write({ kind: "copy", to, from });
  }

  /**
   * Appends `op` and resolves once it is durable. Errors, with nothing written:
   * INVALID_ARGUMENT for a malformed op; FAILED_PRECONDITION once the log is sealed, closed or
   * failed; LIMIT_EXCEEDED past `stagingPendingBytesMax` waiting bytes. An I/O error rejects
   * the write (and fails the log).
   */
  write(op: StagingOp): Promise<void> {
    const problem = checkStagingOp(op);
    if (problem !== null) return Promise.reject(problem);
    if (this.#state !== "open") return Promise.reject(this.#notOpen());
    const record = encodeStagingRecord(op);
    if (this.#pendingBytes + record.length > stagingPendingBytesMax) {
      return Promise.reject(new PfsError("LIMIT_EXCEEDED",
        `staging log ${this.file} has ${this.#pendingBytes} B waiting for fsync`));
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ record, resolve, reject });
      this.#pendingBytes += record.length;
      this.#flushing ??= this.#flushLoop();
    });
  }

  #notOpen(): PfsError {
    const reason = this.#state === "failed" ? `failed: ${String(this.#failure)}` : this.#state;
    return new PfsError("FAILED_PRECONDITION", `staging log ${this.file} is ${reason}`,
      { file: this.file });
  }

  /** Writes and fsyncs batches until nothing waits. Never rejects: failures go to writers. */
  async #flushLoop(): Promise<void> {
    await Promise.resolve(); // Writes made in the same tick join the first batch.
    while (this.#pending.length > 0) {
      const batch = this.#takeBatch();
      const bytes = Buffer.concat(batch.map((write) => write.record));
      try {
        let written = 0;
        while (written < bytes.length) {
          const result = await this.#handle.write(bytes, written, bytes.length - written,
            this.#durableBytes + written);
          written += result.bytesWritten;
        }
        await this.#handle.datasync();
        this.#syncCount += 1;
      } catch (error) {
        this.#fail(error, batch);
        break;
      }
      this.#durableBytes += bytes.length;
      this.#recordCount += batch.length;
      for (const write of batch) write.resolve();
    }
    this.#flushing = null;
  }

  #takeBatch(): PendingWrite[] {
    let bytes = 0;
    let count = 0;
    for (const write of this.#pending) {
      if (count > 0 && bytes + write.record.length > stagingBatchBytesMax) break;
      bytes += write.record.length;
      count += 1;
    }
    this.#pendingBytes -= bytes;
    return this.#pending.splice(0, count);
  }

  #fail(error: unknown, batch: readonly PendingWrite[]): void {
    this.#state = "failed";
    this.#failure = error;
    for (const write of batch) write.reject(error);
    const waiting = this.#pending.splice(0);
    this.#pendingBytes = 0;
    for (const write of waiting) write.reject(this.#notOpen());
  }

  /**
   * Stops accepting writes and waits until every accepted write is durable (or failed).
   * Errors: the log's I/O failure if it failed.
   */
  async seal(): Promise<void> {
    if (this.#state === "open") this.#state = "sealed";
    await this.#flushing;
    if (this.#state === "failed") throw this.#notOpen();
  }

  /** The durable records in write order (a fresh read of the file; checks every CRC). */
  async *ops(): AsyncGenerator<StagingOp> {
    assert(this.#state !== "closed", () => `read of closed staging log ${this.file}`);
    const end = this.#durableBytes;
    const stop: ScanStop = { offset: stagingHeaderBytes, cutShort: false, length: 0 };
    let last = stagingHeaderBytes;
    for await (const record of scanRecords(this.#handle, end, stop)) {
      last = record.end;
      yield record.op;
    }
    if (last !== end) {
      throw new PfsError("DATA_CORRUPTED",
        `staging log ${this.file}: record at ${last} is damaged (durable end ${end})`,
        { file: this.file, offset: last });
    }
  }

  /** Seals (waiting for accepted writes) and closes the file. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    try {
      await this.seal();
    } finally {
      this.#state = "closed";
      await this.#handle.close();
    }
  }
}

/**
 * Creates a new, empty staging log at `file` (which must not exist): header written to a
 * temporary file, fsynced, renamed into place, directory fsynced.
 */
export async function createStagingLog(file: string): Promise<StagingLog> {
  await publishTemporary(await writeTemporary(file, encodeStagingHeader()), file);
  return new StagingLog(file, await fs.open(file, "r+"), stagingHeaderBytes, 0);
}

/**
 * Opens an existing staging log, replays it, and cuts off a torn tail durably (module comment).
 * Errors: NOT_FOUND if missing; DATA_CORRUPTED if the header is not a staging log header or a
 * damaged record has data after it (details: `file`, `offset`); the file is then unchanged.
 */
export async function openStagingLog(file: string, logger: Logger = silentLogger):
  Promise<StagingRecovery> {
  const handle = await openExisting(file, "r+", "staging log");
  try {
    const { size } = await handle.stat();
    const header = await readAt(handle, 0, stagingHeaderBytes);
    if (header.length !== stagingHeaderBytes || header.readUInt32BE(0) !== stagingMagic ||
      header.readUInt32BE(4) !== stagingVersion) {
      throw new PfsError("DATA_CORRUPTED", `staging log ${file} has a bad header`, { file });
    }
    let end = stagingHeaderBytes;
    let count = 0;
    const stop: ScanStop = { offset: stagingHeaderBytes, cutShort: false, length: 0 };
    for await (const record of scanRecords(handle, size, stop)) {
      end = record.end;
      count += 1;
    }
    if (end < size) {
      await checkTornTail(file, handle, stop, size);
      logger.warn("staging log tail cut off", { file, keptBytes: end, cutBytes: size - end });
      await handle.truncate(end);
      await handle.sync();
    }
    return { log: new StagingLog(file, handle, end, count), recordCount: count,
      truncatedBytes: size - end };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
