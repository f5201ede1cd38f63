/**
 * The binary form of a `FileEntry`, shared by manifest blocks and staging records:
 *
 *     pathLength u32 | path (UTF-8) | size u64 | hash (32 bytes) | chunkCount u32 |
 *     chunkCount × (chunk id (32 bytes) | chunk size u64)
 *
 * big-endian. Hashes and chunk ids are stored as raw sha256 bytes and read back as lowercase
 * hex. uint64 fields are written as two uint32 halves and must be safe integers on read.
 * Decoding never trusts a length: a field that runs past the buffer, or an impossible value,
 * throws `MalformedPayloadError`, which callers turn into DATA_CORRUPTED naming the file.
 */
import { MalformedPayloadError } from "../../common/index.js";
import type { ChunkRef, FileEntry } from "../model.js";
import { chunkRefBytes, fileChunksMax, filePathBytesMax } from "./limits.js";

const sha256Bytes = 32;
const uint32Range = 2 ** 32;
/** The high half of a uint64 that is still a safe integer is below this. */
const safeHighLimit = 2 ** 21;

/** Bytes the encoded form of `entry` takes (`pathBytes` is its path's UTF-8 length). */
export function encodedEntryBytes(pathBytes: number, chunkCount: number): number {
  return 4 + pathBytes + 8 + sha256Bytes + 4 + chunkCount * chunkRefBytes;
}

function writeUint64(target: Buffer, value: number, at: number): void {
  target.writeUInt32BE(Math.floor(value / uint32Range), at);
  target.writeUInt32BE(value % uint32Range, at + 4);
}

/** Writes `text` as a uint32 length and its UTF-8 bytes at `at`; returns the next offset. */
export function writeText(target: Buffer, text: string, at: number): number {
  const length = target.write(text, at + 4, "utf8");
  target.writeUInt32BE(length, at);
  return at + 4 + length;
}

/** Writes the encoded `entry` into `target` at `at`; returns the offset after it. */
export function writeEntry(target: Buffer, entry: FileEntry, at: number): number {
  let offset = writeText(target, entry.path, at);
  writeUint64(target, entry.size, offset);
  offset += 8;
  offset += target.write(entry.hash, offset, "hex");
  target.writeUInt32BE(entry.chunks.length, offset);
  offset += 4;
  for (const chunk of entry.chunks) {
    offset += target.write(chunk.id, offset, "hex");
    writeUint64(target, chunk.size, offset);
    offset += 8;
  }
  return offset;
}

/** The encoded form of one (already checked) entry. */
export function encodeEntry(entry: FileEntry): Buffer {
  const pathBytes = Buffer.byteLength(entry.path, "utf8");
  const encoded = Buffer.allocUnsafe(encodedEntryBytes(pathBytes, entry.chunks.length));
  const end = writeEntry(encoded, entry, 0);
  if (end !== encoded.length) {
    throw new MalformedPayloadError(`entry encoding took ${end} of ${encoded.length} bytes`);
  }
  return encoded;
}

/** A cursor over a buffer of encoded fields. */
export class FieldCursor {
  readonly #bytes: Buffer;
  #offset: number;

  constructor(bytes: Buffer, offset = 0) {
    this.#bytes = bytes;
    this.#offset = offset;
  }

  /** The offset of the next unread byte. */
  get offset(): number {
    return this.#offset;
  }

  /** True once every byte was read. */
  get done(): boolean {
    return this.#offset >= this.#bytes.length;
  }

  #take(count: number): number {
    const at = this.#offset;
    if (at + count > this.#bytes.length) {
      throw new MalformedPayloadError(
        `field of ${count} bytes at offset ${at} runs past ${this.#bytes.length} bytes`,
      );
    }
    this.#offset += count;
    return at;
  }

  uint8(): number {
    return this.#bytes.readUInt8(this.#take(1));
  }

  uint32(): number {
    return this.#bytes.readUInt32BE(this.#take(4));
  }

  /** A uint64 that must be a safe integer. */
  uint64Number(): number {
    const at = this.#take(8);
    const high = this.#bytes.readUInt32BE(at);
    if (high >= safeHighLimit) {
      throw new MalformedPayloadError(`uint64 at offset ${at} is not a safe integer`);
    }
    return high * uint32Range + this.#bytes.readUInt32BE(at + 4);
  }

  /** A uint32 length (at most `maxBytes`) and that many UTF-8 bytes. */
  text(maxBytes: number): string {
    const length = this.uint32();
    if (length > maxBytes) {
      throw new MalformedPayloadError(`text of ${length} bytes exceeds ${maxBytes}`);
    }
    const at = this.#take(length);
    return this.#bytes.toString("utf8", at, at + length);
  }

  /** 32 raw bytes as lowercase hex. */
  sha256Hex(): string {
    const at = this.#take(sha256Bytes);
    return this.#bytes.toString("hex", at, at + sha256Bytes);
  }
}

/** Reads one encoded entry at the cursor. Throws `MalformedPayloadError` if it is not whole. */
export function readEntry(cursor: FieldCursor): FileEntry {
  const path = cursor.text(filePathBytesMax);
  const size = cursor.uint64Number();
  const hash = cursor.sha256Hex();
  const count = cursor.uint32();
  if (count > fileChunksMax) {
    throw new MalformedPayloadError(`entry ${path} claims ${count} chunks`);
  }
  const chunks: ChunkRef[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = cursor.sha256Hex();
    chunks.push({ id, size: cursor.uint64Number() });
  }
  return { path, size, hash, chunks };
}
