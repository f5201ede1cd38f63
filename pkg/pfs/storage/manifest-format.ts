/**
 * The on-disk layout of a manifest (one finished commit of one shard), big-endian:
 *
 *     header  (16 B):  magic "pfsm" u32 | version u32 | reserved u64 (0)
 *     blocks:          entries (entry-codec), sorted by path bytewise, strictly increasing,
 *                      cut into blocks of about `manifestBlockBytesTarget` bytes
 *     index:           per block: offset u64 | length u32 | crc u32 | entryCount u32 |
 *                      firstPath (u32 length + UTF-8)
 *     footer  (44 B):  indexOffset u64 | indexLength u32 | indexCrc u32 | blockCount u32 |
 *                      entryCount u64 | totalSizeBytes u64 | magic "pfsM" u32 |
 *                      footerCrc u32 (CRC-32 of the header and the footer bytes before it)
 *
 * Every byte is covered by a CRC-32: the header and footer by the footer CRC, the index by
 * its CRC, each block by the CRC in its index row. Blocks are contiguous from the header to
 * the index, so the index alone locates them. The index is the only part a reader holds in
 * memory; blocks are read, checked and decoded on demand.
 */
import { crc32 } from "node:zlib";
import { MalformedPayloadError } from "../../common/index.js";
import { FieldCursor } from "./entry-codec.js";
import { filePathBytesMax } from "./limits.js";

export const manifestMagic = 0x7066_736d; // "pfsm"
export const manifestFooterMagic = 0x7066_734d; // "pfsM"
export const manifestVersion = 1;
export const manifestHeaderBytes = 16;
export const manifestFooterBytes = 44;

/** One row of the index: where a block is and what it starts with. */
export interface BlockRow {
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  readonly entryCount: number;
  /** The first (smallest) path of the block. */
  readonly firstPath: string;
}

/** The decoded footer. */
export interface ManifestFooter {
  readonly indexOffset: number;
  readonly indexLength: number;
  readonly indexCrc: number;
  readonly blockCount: number;
  readonly entryCount: number;
  readonly totalSizeBytes: number;
}

function writeUint64(target: Buffer, value: number, at: number): void {
  target.writeBigUInt64BE(BigInt(value), at);
}

/** The fixed header every manifest starts with. */
export function encodeHeader(): Buffer {
  const header = Buffer.alloc(manifestHeaderBytes);
  header.writeUInt32BE(manifestMagic, 0);
  header.writeUInt32BE(manifestVersion, 4);
  return header;
}

/** The index bytes of `rows`. */
export function encodeIndex(rows: readonly BlockRow[]): Buffer {
  let bytes = 0;
  for (const row of rows) bytes += 24 + Buffer.byteLength(row.firstPath, "utf8");
  const index = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const row of rows) {
    writeUint64(index, row.offset, at);
    index.writeUInt32BE(row.length, at + 8);
    index.writeUInt32BE(row.crc, at + 12);
    index.writeUInt32BE(row.entryCount, at + 16);
    const length = index.write(row.firstPath, at + 24, "utf8");
    index.writeUInt32BE(length, at + 20);
    at += 24 + length;
  }
  return index;
}

/** Decodes `count` index rows; throws `MalformedPayloadError` on any inconsistency. */
export function decodeIndex(index: Buffer, count: number): BlockRow[] {
  const cursor = new FieldCursor(index);
  const rows: BlockRow[] = [];
  for (let i = 0; i < count; i += 1) {
    const offset = cursor.uint64Number();
    const length = cursor.uint32();
    const crc = cursor.uint32();
    const entryCount = cursor.uint32();
    const firstPath = cursor.text(filePathBytesMax);
    rows.push({ offset, length, crc, entryCount, firstPath });
  }
  if (!cursor.done) throw new MalformedPayloadError(`index has bytes after ${count} rows`);
  return rows;
}

/** The footer bytes; its CRC also covers `header`. */
export function encodeFooter(header: Buffer, footer: ManifestFooter): Buffer {
  const bytes = Buffer.alloc(manifestFooterBytes);
  writeUint64(bytes, footer.indexOffset, 0);
  bytes.writeUInt32BE(footer.indexLength, 8);
  bytes.writeUInt32BE(footer.indexCrc, 12);
  bytes.writeUInt32BE(footer.blockCount, 16);
  writeUint64(bytes, footer.entryCount, 20);
  writeUint64(bytes, footer.totalSizeBytes, 28);
  bytes.writeUInt32BE(manifestFooterMagic, 36);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, 40), crc32(header)), 40);
  return bytes;
}

/** Checks header and footer together; throws `MalformedPayloadError` naming what is wrong. */
export function decodeFooter(header: Buffer, bytes: Buffer): ManifestFooter {
  if (header.readUInt32BE(0) !== manifestMagic) {
    throw new MalformedPayloadError("not a manifest (bad magic)");
  }
  const expected = bytes.readUInt32BE(40);
  const actual = crc32(bytes.subarray(0, 40), crc32(header));
  if (expected !== actual) {
    throw new MalformedPayloadError(`footer checksum ${actual} != ${expected}`);
  }
  const version = header.readUInt32BE(4);
  if (version !== manifestVersion || bytes.readUInt32BE(36) !== manifestFooterMagic) {
    throw new MalformedPayloadError(`manifest version ${version} is not ${manifestVersion}`);
  }
  const cursor = new FieldCursor(bytes);
  return {
    indexOffset: cursor.uint64Number(),
    indexLength: cursor.uint32(),
    indexCrc: cursor.uint32(),
    blockCount: cursor.uint32(),
    entryCount: cursor.uint64Number(),
    totalSizeBytes: cursor.uint64Number(),
  };
}
