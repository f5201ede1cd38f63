/**
 * Scans the records of one WAL segment file and classifies how it ends: cleanly, with a torn
 * tail (recoverable by cutting the file), or corrupt (refuse to start). See record.ts for the
 * frame layout and the exact torn-versus-corrupt rule.
 */
import { crc32 } from "node:zlib";
import { assert, limits, MalformedPayloadError } from "../common/index.js";
import {
  type WalRecord,
  decodePayload,
  recordFrameBytes,
  recordHeaderCrcOffset,
  recordPayloadCrcOffset,
  recordTypeOffset,
  walCorruption,
} from "./record.js";

/** A record and the byte offset of its frame in the file. */
export interface PositionedRecord {
  readonly record: WalRecord;
  readonly offsetBytes: number;
}

/** What a scan found. `validBytes` is the length of the prefix made of whole, valid records. */
export interface ScanResult {
  readonly records: readonly PositionedRecord[];
  readonly validBytes: number;
  /** Why the bytes after `validBytes` were judged torn; undefined when the file ends cleanly. */
  readonly tornReason: string | undefined;
}

function allZero(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Decides whether the bytes at `offset` end the file with a torn record. Returns the reason,
 * or undefined when a whole frame is there. Throws for a header that fails its CRC (a whole
 * header is never torn: appends leave a prefix of what was written) and for a length beyond
 * walRecordBytesMax.
 */
function tornFrame(bytes: Uint8Array, offset: number, file: string): string | undefined {
  const remaining = bytes.length - offset;
  if (allZero(bytes.subarray(offset))) return `${remaining} zero bytes at the end`;
  if (remaining < recordFrameBytes) return `partial frame header of ${remaining} bytes`;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, recordFrameBytes);
  const headerCrc = crc32(bytes.subarray(offset, offset + recordHeaderCrcOffset));
  if (headerCrc !== view.getUint32(recordHeaderCrcOffset)) {
    throw walCorruption(file, offset, "frame header CRC mismatch");
  }
  const length = view.getUint32(0);
  if (length > limits.walRecordBytesMax) {
    throw walCorruption(file, offset, `record length ${length} exceeds ${limits.walRecordBytesMax}`);
  }
  if (recordFrameBytes + length > remaining) {
    return `record of ${length} bytes cut to ${remaining - recordFrameBytes}`;
  }
  return undefined;
}

/**
 * Reads every record of `bytes` (the content of `file`). When `tailMayBeTorn` (the last
 * segment), a torn last record ends the scan; otherwise it is corruption. Throws a
 * `DATA_CORRUPTED` PfsError naming the file and offset for any corruption.
 */
export function scanRecords(bytes: Uint8Array, file: string, tailMayBeTorn: boolean): ScanResult {
  const records: PositionedRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    let reason = tornFrame(bytes, offset, file);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
    const end = reason === undefined ? offset + recordFrameBytes + view.getUint32(0) : 0;
    const payload = bytes.subarray(offset + recordFrameBytes, end);
    if (reason === undefined && crc32(payload) !== view.getUint32(recordPayloadCrcOffset)) {
      if (end !== bytes.length) throw walCorruption(file, offset, "CRC mismatch");
      reason = "CRC mismatch on the last record";
    }
    if (reason !== undefined) {
      if (!tailMayBeTorn) throw walCorruption(file, offset, `truncated segment: ${reason}`);
      return { records, validBytes: offset, tornReason: reason };
    }
    records.push({ record: decodeAt(bytes, offset, end, file), offsetBytes: offset });
    offset = end;
  }
  assert(offset === bytes.length, () => `scan of ${file} ended at ${offset} of ${bytes.length}`);
  return { records, validBytes: offset, tornReason: undefined };
}

function decodeAt(bytes: Uint8Array, offset: number, end: number, file: string): WalRecord {
  try {
    const type = bytes[offset + recordTypeOffset] ?? 0;
    return decodePayload(type, bytes.subarray(offset + recordFrameBytes, end));
  } catch (error) {
    if (error instanceof MalformedPayloadError) throw walCorruption(file, offset, error.message);
    throw error;
  }
}
