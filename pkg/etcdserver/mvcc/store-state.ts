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
  MalformedPayloadError,
  PfsError,
  type Result,
  assert,
  crc32Steps,
  runAtOnce,
  err,
  ok,
  openCrc32,
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

/** Fixed bytes of a history entry: main i64, sub u32, live u8. */
const entryFixedBytes = 8 + 4 + 1;
/** Fixed bytes a live entry adds: create revision, version and lease (i64 each), value length. */
const liveFixedBytes = 8 + 8 + 8 + 4;
/** Fixed bytes of the header: magic, version, current and compaction revision, key count. */
const headerBytes = magic.length + 4 + 8 + 8 + 4;
const twoTo32 = 2 ** 32;

/** A key's history as a snapshot captured it: the entries array is the capture's own copy. */
interface CapturedHistory {
  readonly key: Uint8Array;
  readonly entries: readonly HistoryEntry[];
}

/**
 * The store's state frozen at one revision, cheap to take (one array copy per key; entries
 * and values are immutable and shared), so the bytes can be encoded later, in slices, while
 * the store moves on. `bodyBytes` is the encoded size without the CRC trailer.
 */
export interface CapturedStoreState {
  readonly histories: readonly CapturedHistory[];
  readonly currentRevision: number;
  readonly compactRevision: number;
  readonly bodyBytes: number;
}

/**
 * Freezes `state` for a later encoding: O(keys) work plus one native array copy per key (the
 * histories keep their encoded sizes, so nothing walks every entry here).
 */
export function captureStoreState(state: StoreState): CapturedStoreState {
  let bodyBytes = headerBytes;
  const histories = state.index.all().map((history) => {
    bodyBytes += 4 + history.key.length + 4 + history.entryBytes;
    return { key: history.key, entries: history.entries.slice() };
  });
  return {
    histories, currentRevision: state.currentRevision,
    compactRevision: state.compactRevision, bodyBytes,
  };
}

/**
 * Writes a safe integer >= -1 as a big-endian int64 without a BigInt (snapshots of large
 * stores write millions of them; a BigInt per field was most of the encoding time).
 */
function setInt64(view: DataView, at: number, value: number): void {
  if (value < 0) {
    view.setInt32(at, -1);
    view.setInt32(at + 4, value);
    return;
  }
  view.setUint32(at, Math.floor(value / twoTo32));
  view.setUint32(at + 4, value % twoTo32);
}

/**
 * The encoding of a captured state: its exact size (CRC trailer included) and a writer that
 * fills `out` from `offset`, pausing (a `yield`) after about every `sliceBytes` of output,
 * CRC included. The caller owns the buffer, so a larger payload (the state machine's
 * snapshot) is written in place: on this kind of machine the first touch of fresh memory
 * costs milliseconds per megabyte, and a copy of a large snapshot would stall the thread.
 */
export interface StoreStateEncoder {
  readonly bytes: number;
  write(out: Uint8Array, offset: number, sliceBytes: number): Generator<void, void, void>;
}

/** Plans the encoding of `captured` (see StoreStateEncoder). */
export function storeStateEncoder(captured: CapturedStoreState): StoreStateEncoder {
  assert(captured.compactRevision >= -1, "compaction revision below -1");
  const bodyBytes = captured.bodyBytes;
  return { bytes: bodyBytes + 4, write: (out, offset, sliceBytes) =>
    encodeSteps(captured, bodyBytes, out, offset, sliceBytes) };
}

function* encodeSteps(captured: CapturedStoreState, bodyBytes: number, out: Uint8Array,
  offset: number, sliceBytes: number): Generator<void, void, void> {
  assert(out.length - offset >= bodyBytes + 4, "store snapshot buffer too small");
  const histories = captured.histories;
  const view = new DataView(out.buffer, out.byteOffset + offset, bodyBytes + 4);
  const body = out.subarray(offset, offset + bodyBytes);
  body.set(magic, 0);
  let at = magic.length;
  view.setUint32(at, formatVersion);
  setInt64(view, at + 4, captured.currentRevision);
  setInt64(view, at + 12, captured.compactRevision);
  view.setUint32(at + 20, histories.length);
  at += 24;
  let sliceEnd = at + sliceBytes;
  for (const history of histories) {
    view.setUint32(at, history.key.length);
    body.set(history.key, at + 4);
    at += 4 + history.key.length;
    view.setUint32(at, history.entries.length);
    at += 4;
    for (const entry of history.entries) {
      setInt64(view, at, entry.main);
      view.setUint32(at + 8, entry.sub);
      const kv = entry.kv;
      view.setUint8(at + 12, kv === null ? 0 : 1);
      at += entryFixedBytes;
      if (kv === null) continue;
      setInt64(view, at, kv.createRevision);
      setInt64(view, at + 8, kv.version);
      view.setBigInt64(at + 16, kv.lease);
      view.setUint32(at + 24, kv.value.length);
      body.set(kv.value, at + 28);
      at += liveFixedBytes + kv.value.length;
    }
    if (at >= sliceEnd) {
      yield;
      sliceEnd = at + sliceBytes;
    }
  }
  assert(at === bodyBytes, () => `store snapshot wrote ${at} of ${bodyBytes} bytes`);
  view.setUint32(bodyBytes, yield* crc32Steps(body, sliceBytes));
}

/** Serializes `state` at once; restoring the bytes gives an equal state. */
export function encodeStoreState(state: StoreState): Uint8Array {
  const encoder = storeStateEncoder(captureStoreState(state));
  const out = Buffer.allocUnsafe(encoder.bytes);
  runAtOnce(encoder.write(out, 0, Number.MAX_SAFE_INTEGER));
  return out;
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
