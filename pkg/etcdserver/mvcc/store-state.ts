/**
 * The store's state as snapshots and hashes see it, and its binary snapshot format.
 *
 * Format v1, all integers big-endian: magic "PFSMVCC1" (8 bytes), format version u32,
 * current revision i64, compaction revision i64 (-1 = never), key count u32; per key: key
 * length u32, key bytes, entry count u32; per entry: main i64, sub u32, live u8 (0 =
 * tombstone); a live entry adds create revision i64, version i64, lease i64, value length u32
 * and value bytes. A CRC-32 (u32) of everything before it ends the snapshot.
 */
import { crc32 } from "node:zlib";
import { PfsError, type Result, assert, err, ok, revision } from "../../common/index.js";
import { type HistoryEntry, KeyHistory } from "./key-history.js";
import { KeyIndex } from "./key-index.js";
import type { KeyValue } from "./key-value.js";

/** What a snapshot holds: the key index (with all retained history) and two revisions. */
export interface StoreState {
  readonly index: KeyIndex;
  readonly currentRevision: number;
  readonly compactRevision: number;
}

const magic = Buffer.from("PFSMVCC1", "latin1");
const formatVersion = 1;

/** A growable big-endian byte writer. */
class ByteWriter {
  #buffer = Buffer.alloc(1024);
  #length = 0;

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#length = this.#buffer.writeUInt8(value, this.#length);
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#length = this.#buffer.writeUInt32BE(value, this.#length);
  }

  i64(value: number | bigint): void {
    this.#reserve(8);
    this.#length = this.#buffer.writeBigInt64BE(BigInt(value), this.#length);
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
  }

  sized(value: Uint8Array): void {
    this.u32(value.length);
    this.bytes(value);
  }

  finish(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}

function writeEntry(writer: ByteWriter, entry: HistoryEntry): void {
  writer.i64(entry.main);
  writer.u32(entry.sub);
  writer.u8(entry.kv === null ? 0 : 1);
  if (entry.kv === null) return;
  writer.i64(entry.kv.createRevision);
  writer.i64(entry.kv.version);
  writer.i64(entry.kv.lease);
  writer.sized(entry.kv.value);
}

/** Serializes `state`; restoring the bytes gives an equal state. */
export function encodeStoreState(state: StoreState): Uint8Array {
  const writer = new ByteWriter();
  writer.bytes(magic);
  writer.u32(formatVersion);
  writer.i64(state.currentRevision);
  writer.i64(state.compactRevision);
  const histories = state.index.all();
  writer.u32(histories.length);
  for (const history of histories) {
    writer.sized(history.key);
    writer.u32(history.entries.length);
    for (const entry of history.entries) writeEntry(writer, entry);
  }
  const body = writer.finish();
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(body, 0));
  return Buffer.concat([body, trailer]);
}

/** A bounds-checked big-endian reader; a short read throws RangeError. */
class ByteReader {
  readonly #buffer: Buffer;
  #offset = 0;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  get done(): boolean {
    return this.#offset === this.#buffer.length;
  }

  u8(): number {
    const value = this.#buffer.readUInt8(this.#offset);
    this.#offset += 1;
    return value;
  }

  u32(): number {
    const value = this.#buffer.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  i64(): bigint {
    const value = this.#buffer.readBigInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }

  safe(what: string, min = 0): number {
    const value = this.i64();
    if (value < BigInt(min) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`${what} ${value} out of range`);
    }
    return Number(value);
  }

  bytes(length: number): Uint8Array {
    if (this.#offset + length > this.#buffer.length) throw new RangeError("snapshot truncated");
    const value = Uint8Array.from(this.#buffer.subarray(this.#offset, this.#offset + length));
    this.#offset += length;
    return value;
  }

  sized(): Uint8Array {
    return this.bytes(this.u32());
  }
}

function readEntry(reader: ByteReader, key: Uint8Array): HistoryEntry {
  const main = reader.safe("main revision", 1);
  const sub = reader.u32();
  if (reader.u8() === 0) return { main, sub, kv: null };
  const kv: KeyValue = {
    key,
    createRevision: revision(reader.safe("create revision", 1)),
    modRevision: revision(main),
    version: reader.safe("version", 1),
    lease: reader.i64() as KeyValue["lease"],
    value: reader.sized(),
  };
  return { main, sub, kv };
}

function decodeBody(reader: ByteReader): StoreState {
  const header = reader.bytes(magic.length);
  if (!magic.equals(header)) throw new RangeError("not an MVCC snapshot (bad magic)");
  const version = reader.u32();
  if (version !== formatVersion) throw new RangeError(`unknown snapshot format ${version}`);
  const currentRevision = reader.safe("current revision", 1);
  const compactRevision = reader.safe("compaction revision", -1);
  const index = new KeyIndex();
  const keyCount = reader.u32();
  for (let k = 0; k < keyCount; k += 1) {
    const history = new KeyHistory(reader.sized());
    const entryCount = reader.u32();
    for (let e = 0; e < entryCount; e += 1) history.append(readEntry(reader, history.key));
    index.appendSorted(history);
  }
  if (!reader.done) throw new RangeError("trailing bytes after the snapshot");
  return { index, currentRevision, compactRevision };
}

/**
 * Parses a snapshot made by encodeStoreState. Errors: a checksum mismatch, a bad magic or
 * version, a truncated or malformed body → DATA_CORRUPTED.
 */
export function decodeStoreState(bytes: Uint8Array): Result<StoreState, PfsError> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < magic.length + 4) return err(new PfsError("DATA_CORRUPTED", "snapshot too short"));
  const body = buffer.subarray(0, buffer.length - 4);
  const expected = buffer.readUInt32BE(buffer.length - 4);
  const actual = crc32(body, 0);
  if (expected !== actual) {
    return err(new PfsError("DATA_CORRUPTED", `snapshot checksum ${actual} != ${expected}`));
  }
  try {
    const state = decodeBody(new ByteReader(body));
    assert(state.currentRevision >= state.compactRevision, "restored compaction above current");
    return ok(state);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return err(new PfsError("DATA_CORRUPTED", `snapshot malformed: ${reason}`));
  }
}

/**
 * A CRC-32 over every retained version with main revision <= `at`, in key order then
 * revision order: deterministic across members that applied the same log.
 */
export function hashState(state: StoreState, at: number): number {
  const scratch = Buffer.alloc(8);
  let hash = 0;
  const mix64 = (value: number | bigint): void => {
    scratch.writeBigInt64BE(BigInt(value));
    hash = crc32(scratch, hash);
  };
  for (const history of state.index.all()) {
    for (const entry of history.entries) {
      if (entry.main > at) break;
      mix64(entry.main);
      mix64(entry.sub);
      hash = crc32(history.key, hash);
      if (entry.kv === null) continue;
      mix64(entry.kv.createRevision);
      mix64(entry.kv.version);
      mix64(entry.kv.lease);
      hash = crc32(entry.kv.value, hash);
    }
  }
  return hash;
}
