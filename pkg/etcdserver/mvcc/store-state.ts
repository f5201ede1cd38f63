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
import {
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
  PfsError,
  type Result,
  assert,
  err,
  ok,
  openCrc32,
  sealCrc32,
  revision,
} from "../../common/index.js";
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

function writeEntry(writer: ByteWriter, entry: HistoryEntry): void {
  writer.int64(BigInt(entry.main)).uint32(entry.sub).uint8(entry.kv === null ? 0 : 1);
  if (entry.kv === null) return;
  writer.int64(BigInt(entry.kv.createRevision)).int64(BigInt(entry.kv.version));
  writer.int64(entry.kv.lease).bytes(entry.kv.value);
}

/** Serializes `state`; restoring the bytes gives an equal state. */
export function encodeStoreState(state: StoreState): Uint8Array {
  const writer = new ByteWriter(1024);
  writer.raw(magic).uint32(formatVersion);
  writer.int64(BigInt(state.currentRevision)).int64(BigInt(state.compactRevision));
  const histories = state.index.all();
  writer.uint32(histories.length);
  for (const history of histories) {
    writer.bytes(history.key).uint32(history.entries.length);
    for (const entry of history.entries) writeEntry(writer, entry);
  }
  const body = writer.finish();
  return sealCrc32(body);
}

/** Reads an int64 that must be a safe integer of at least `min`. */
function readSafe(reader: ByteReader, what: string, min = 0): number {
  const value = reader.int64();
  if (value < BigInt(min) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedPayloadError(`${what} ${value} out of range`);
  }
  return Number(value);
}

function readEntry(reader: ByteReader, key: Uint8Array): HistoryEntry {
  const main = readSafe(reader, "main revision", 1);
  const sub = reader.uint32();
  if (reader.uint8() === 0) return { main, sub, kv: null };
  const kv: KeyValue = {
    key,
    createRevision: revision(readSafe(reader, "create revision", 1)),
    modRevision: revision(main),
    version: readSafe(reader, "version", 1),
    lease: reader.int64() as KeyValue["lease"],
    value: reader.bytes(),
  };
  return { main, sub, kv };
}

function decodeBody(reader: ByteReader): StoreState {
  const header = reader.raw(magic.length);
  if (!magic.equals(header)) throw new MalformedPayloadError("not an MVCC snapshot (bad magic)");
  const version = reader.uint32();
  if (version !== formatVersion) {
    throw new MalformedPayloadError(`unknown snapshot format ${version}`);
  }
  const currentRevision = readSafe(reader, "current revision", 1);
  const compactRevision = readSafe(reader, "compaction revision", -1);
  const index = new KeyIndex();
  const keyCount = reader.uint32();
  for (let k = 0; k < keyCount; k += 1) {
    const history = new KeyHistory(reader.bytes());
    const entryCount = reader.uint32();
    for (let e = 0; e < entryCount; e += 1) history.append(readEntry(reader, history.key));
    index.appendSorted(history);
  }
  reader.end();
  return { index, currentRevision, compactRevision };
}

/**
 * Parses a snapshot made by encodeStoreState. Errors: a checksum mismatch, a bad magic or
 * version, a truncated or malformed body → DATA_CORRUPTED.
 */
export function decodeStoreState(bytes: Uint8Array): Result<StoreState, PfsError> {
  const body = openCrc32(bytes, "store snapshot", magic.length);
  if (!body.ok) return body;
  try {
    const state = decodeBody(new ByteReader(body.value));
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
