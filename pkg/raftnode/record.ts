/**
 * WAL record framing and payloads. A record on disk is
 *
 *     length u32 | type u8 | payloadCrc u32 | headerCrc u32 | payload (length bytes)
 *
 * big-endian, where `payloadCrc` is CRC-32 (zlib's, IEEE) of the payload and `headerCrc` is
 * CRC-32 of the nine bytes before it, so that a flipped bit in a length is never mistaken for
 * a record cut short by a crash. A reader tells two failures apart: a **torn tail** (the end
 * of the last segment holds a partial frame header, a record whose valid header promises more
 * bytes than the file has, a payload that fails its CRC while ending exactly at the end of
 * the file, or only zeros: a crash mid-append) which recovery cuts off, and **corruption**
 * (anything else, such as a bad header CRC) which refuses to start with a `DATA_CORRUPTED`
 * error naming the file and byte offset.
 */
import { crc32 } from "node:zlib";
import {
  type Entry,
  EntryType,
  type HardState,
} from "../raft/index.js";
import {
  type LogIndex,
  PfsError,
  type Term,
  assert,
  assertNever,
  limits,
  logIndex,
  nodeId,
  term,
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
} from "../common/index.js";

/** Record kinds. Numbers are stable: they are on disk. */
export enum RecordType {
  SegmentHeader = 1,
  Entries = 2,
  HardState = 3,
  SnapshotMarker = 4,
}

/** Bytes of framing before each payload: length, type, payload CRC, header CRC. */
export const recordFrameBytes = 13;
/** Offset of the type byte in a frame. */
export const recordTypeOffset = 4;
/** Offset of the payload CRC in a frame. */
export const recordPayloadCrcOffset = 5;
/** Offset of the header CRC (over the bytes before it) in a frame. */
export const recordHeaderCrcOffset = 9;
/** "pfsw": the first four payload bytes of every segment header. */
export const segmentMagic = 0x7066_7377;
/** The segment format version this code writes and reads. */
export const segmentVersion = 1;

/**
 * A snapshot was persisted at `index` (whose entry has `term`). On replay it keeps the log if
 * the log holds that entry with that term, and otherwise discards the whole log (the snapshot
 * replaced it), as the Raft core's snapshot restore does.
 */
export interface SnapshotMarker {
  readonly index: LogIndex;
  readonly term: Term;
}

/** The first record of every segment. `firstIndex` is the log's last index + 1 at creation. */
export interface SegmentHeader {
  readonly sequence: number;
  readonly firstIndex: LogIndex;
}

/** A decoded record. */
export type WalRecord =
  | { readonly type: RecordType.SegmentHeader; readonly header: SegmentHeader }
  | { readonly type: RecordType.Entries; readonly entries: readonly Entry[] }
  | { readonly type: RecordType.HardState; readonly hardState: HardState }
  | { readonly type: RecordType.SnapshotMarker; readonly marker: SnapshotMarker };

/** The operating error for a WAL that is not what was written: names the file and offset. */
export function walCorruption(file: string, offsetBytes: number, reason: string): PfsError {
  return new PfsError(
    "DATA_CORRUPTED",
    `WAL file ${file} is corrupt at byte offset ${offsetBytes}: ${reason}`,
    { file, offsetBytes },
  );
}

function encodePayload(record: WalRecord): Uint8Array {
  const writer = new ByteWriter();
  switch (record.type) {
    case RecordType.SegmentHeader:
      writer.uint32(segmentMagic).uint32(segmentVersion);
      writer.uint64Number(record.header.sequence).uint64Number(record.header.firstIndex);
      break;
    case RecordType.Entries:
      writer.uint32(record.entries.length);
      for (const entry of record.entries) {
        writer.uint64Number(entry.term).uint64Number(entry.index).uint8(entry.type);
        writer.bytes(entry.data);
      }
      break;
    case RecordType.HardState:
      writer.uint64Number(record.hardState.term).uint64(record.hardState.vote);
      writer.uint64Number(record.hardState.commit);
      break;
    case RecordType.SnapshotMarker:
      writer.uint64Number(record.marker.index).uint64Number(record.marker.term);
      break;
    default:
      assertNever(record, "WAL record");
  }
  return writer.finish();
}

/** Frames one record: length, type, payload CRC, header CRC, payload. */
export function encodeRecord(record: WalRecord): Uint8Array {
  const payload = encodePayload(record);
  assert(payload.length <= limits.walRecordBytesMax, () =>
    `WAL record of ${payload.length} B above walRecordBytesMax ${limits.walRecordBytesMax} B`);
  const frame = new Uint8Array(recordFrameBytes + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(recordTypeOffset, record.type);
  view.setUint32(recordPayloadCrcOffset, crc32(payload));
  view.setUint32(recordHeaderCrcOffset, crc32(frame.subarray(0, recordHeaderCrcOffset)));
  frame.set(payload, recordFrameBytes);
  return frame;
}

const entryTypes: ReadonlyMap<number, EntryType> = new Map(
  [EntryType.Normal, EntryType.ConfChange].map((type) => [type as number, type]),
);
const recordTypes: ReadonlyMap<number, RecordType> = new Map(
  [RecordType.SegmentHeader, RecordType.Entries, RecordType.HardState, RecordType.SnapshotMarker]
    .map((type) => [type as number, type]),
);

function decodeEntries(reader: ByteReader): Entry[] {
  const count = reader.uint32();
  const entries: Entry[] = [];
  for (let i = 0; i < count; i += 1) {
    const entryTerm = term(reader.uint64Number());
    const index = logIndex(reader.uint64Number());
    const typeNumber = reader.uint8();
    const type = entryTypes.get(typeNumber);
    if (type === undefined) {
      throw new MalformedPayloadError(`entry ${index} has unknown type ${typeNumber}`);
    }
    entries.push({ term: entryTerm, index, type, data: reader.bytes() });
  }
  return entries;
}

function decodeHeader(reader: ByteReader): SegmentHeader {
  const magic = reader.uint32();
  if (magic !== segmentMagic) throw new MalformedPayloadError(`bad segment magic ${magic}`);
  const version = reader.uint32();
  if (version !== segmentVersion) {
    throw new MalformedPayloadError(`segment version ${version}, expected ${segmentVersion}`);
  }
  return { sequence: reader.uint64Number(), firstIndex: logIndex(reader.uint64Number()) };
}

/** Decodes a payload whose CRC matched. Throws `MalformedPayloadError`. */
export function decodePayload(typeNumber: number, payload: Uint8Array): WalRecord {
  const reader = new ByteReader(payload);
  const type = recordTypes.get(typeNumber);
  if (type === undefined) throw new MalformedPayloadError(`unknown record type ${typeNumber}`);
  let record: WalRecord;
  switch (type) {
    case RecordType.SegmentHeader:
      record = { type, header: decodeHeader(reader) };
      break;
    case RecordType.Entries:
      record = { type, entries: decodeEntries(reader) };
      break;
    case RecordType.HardState: {
      const hardTerm = term(reader.uint64Number());
      const vote = nodeId(reader.uint64());
      const commit = logIndex(reader.uint64Number());
      record = { type, hardState: { term: hardTerm, vote, commit } };
      break;
    }
    case RecordType.SnapshotMarker: {
      const index = logIndex(reader.uint64Number());
      record = { type, marker: { index, term: term(reader.uint64Number()) } };
      break;
    }
    default:
      assertNever(type, "record type");
  }
  reader.end();
  return record;
}
