/**
 * Records of a staging log (the writes of one open commit on one shard replica). A log file is
 *
 *     magic "pfsl" u32 | version u32 | records…
 *
 * and each record is framed as
 *
 *     length u32 | crc u32 | kind u8 | payload (length - 1 bytes)
 *
 * big-endian, where `crc` is CRC-32 of the length field and the `length` bytes after the CRC,
 * so a record is usable only when it is whole and intact. Payloads (entry-codec encoding):
 * put = entry; append = entry-shaped (path, the new whole-content hash, the added chunks, their
 * total as size); delete = path; copy = destination path + the source entry.
 */
import { crc32 } from "node:zlib";
import { MalformedPayloadError, type PfsError, assertNever } from "../../common/index.js";
import type { ChunkRef, FileEntry, Sha256Hex } from "../model.js";
import {
  FieldCursor, encodeEntry, encodedEntryBytes, readEntry, writeEntry, writeText,
} from "./entry-codec.js";
import { filePathBytesMax } from "./limits.js";
import { checkFileEntry, checkFilePath, chunkBytes } from "./path-order.js";

export const stagingMagic = 0x7066_736c; // "pfsl"
export const stagingVersion = 1;
export const stagingHeaderBytes = 8;
/** Bytes of framing before a record's kind byte. */
export const recordFrameBytes = 8;

/** One write to an open commit. */
export type StagingOp =
  /** Creates or overwrites the file `entry.path`. */
  | { readonly kind: "put"; readonly entry: FileEntry }
  /**
   * Adds `chunks` to the end of the file `path` (creating it if absent); `hash` is the sha256
   * of its whole new content, which the caller computed.
   */
  | {
    readonly kind: "append"; readonly path: string; readonly hash: Sha256Hex;
    readonly chunks: readonly ChunkRef[];
  }
  /** Removes the file `path` and every file below it ("/" removes everything). */
  | { readonly kind: "delete"; readonly path: string }
  /** Creates or overwrites the file `to` with the content of `from` (from any commit). */
  | { readonly kind: "copy"; readonly to: string; readonly from: FileEntry };

/** Record kinds. Numbers are stable: they are on disk. */
const Kind = { Put: 1, Append: 2, Delete: 3, Copy: 4 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** Null when `op` is well-formed; else INVALID_ARGUMENT naming the problem. */
export function checkStagingOp(op: StagingOp): PfsError | null {
  switch (op.kind) {
    case "put":
      return checkFileEntry(op.entry);
    case "append":
      return checkFileEntry({ path: op.path, hash: op.hash, chunks: op.chunks,
        size: chunkBytes(op.chunks) });
    case "delete":
      return checkFilePath(op.path, true);
    case "copy":
      return checkFilePath(op.to) ?? checkFileEntry(op.from);
    default:
      return assertNever(op, "staging op");
  }
}

function frame(kind: Kind, payload: Buffer): Buffer {
  const record = Buffer.allocUnsafe(recordFrameBytes + 1 + payload.length);
  record.writeUInt32BE(payload.length + 1, 0);
  record.writeUInt8(kind, 8);
  payload.copy(record, 9);
  record.writeUInt32BE(crc32(record.subarray(8), crc32(record.subarray(0, 4))), 4);
  return record;
}

function encodeText(text: string): Buffer {
  const bytes = Buffer.allocUnsafe(4 + Buffer.byteLength(text, "utf8"));
  writeText(bytes, text, 0);
  return bytes;
}

/** The framed record of a (checked) op. */
export function encodeStagingRecord(op: StagingOp): Buffer {
  switch (op.kind) {
    case "put":
      return frame(Kind.Put, encodeEntry(op.entry));
    case "append":
      return frame(Kind.Append, encodeEntry({ path: op.path, hash: op.hash, chunks: op.chunks,
        size: chunkBytes(op.chunks) }));
    case "delete":
      return frame(Kind.Delete, encodeText(op.path));
    case "copy": {
      const to = Buffer.byteLength(op.to, "utf8");
      const from = Buffer.byteLength(op.from.path, "utf8");
      const payload = Buffer.allocUnsafe(4 + to + encodedEntryBytes(from, op.from.chunks.length));
      writeEntry(payload, op.from, writeText(payload, op.to, 0));
      return frame(Kind.Copy, payload);
    }
    default:
      return assertNever(op, "staging op");
  }
}

/** Decodes a record body (kind byte + payload); throws `MalformedPayloadError` if malformed. */
export function decodeStagingRecord(body: Buffer): StagingOp {
  const cursor = new FieldCursor(body);
  const kind = cursor.uint8();
  let op: StagingOp;
  switch (kind) {
    case Kind.Put:
      op = { kind: "put", entry: readEntry(cursor) };
      break;
    case Kind.Append: {
      const entry = readEntry(cursor);
      op = { kind: "append", path: entry.path, hash: entry.hash, chunks: entry.chunks };
      break;
    }
    case Kind.Delete:
      op = { kind: "delete", path: cursor.text(filePathBytesMax) };
      break;
    case Kind.Copy: {
      const to = cursor.text(filePathBytesMax);
      op = { kind: "copy", to, from: readEntry(cursor) };
      break;
    }
    default:
      throw new MalformedPayloadError(`unknown staging record kind ${kind}`);
  }
  if (!cursor.done) throw new MalformedPayloadError(`record has trailing bytes`);
  const problem = checkStagingOp(op);
  if (problem !== null) throw new MalformedPayloadError(problem.message);
  return op;
}

/** The checksum a record frame must carry, given its length field and body. */
export function recordCrc(lengthField: Buffer, body: Buffer): number {
  return crc32(body, crc32(lengthField));
}

/** The log file's header. */
export function encodeStagingHeader(): Buffer {
  const header = Buffer.alloc(stagingHeaderBytes);
  header.writeUInt32BE(stagingMagic, 0);
  header.writeUInt32BE(stagingVersion, 4);
  return header;
}
