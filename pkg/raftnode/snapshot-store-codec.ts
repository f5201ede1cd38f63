/**
 * The snapshot file format, big-endian:
 *
 *     magic u32 "pfss" | version u32 | crc u32 | index u64 | term u64 |
 *     voters (count u32, u64 each) | learners (count u32, u64 each) | data (length u32, bytes)
 *
 * `crc` is CRC-32 (zlib's) over every byte after it, so the metadata and the data are both
 * verified on load.
 */
import { crc32 } from "node:zlib";
import type { ConfState, Snapshot } from "../raft/index.js";
import {
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
  crc32InSlices,
  type NodeId,
  logIndex,
  nodeId,
  term,
} from "../common/index.js";

/** "pfss". */
const snapshotMagic = 0x7066_7373;
const snapshotVersion = 1;
/** Bytes before the checksummed body: magic, version, crc. */
const snapshotPrefixBytes = 12;

function writeIds(writer: ByteWriter, ids: readonly NodeId[]): void {
  writer.uint32(ids.length);
  for (const id of ids) writer.uint64(id);
}

function readIds(reader: ByteReader): NodeId[] {
  const count = reader.uint32();
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i += 1) ids.push(nodeId(reader.uint64()));
  return ids;
}

/** The file's bytes before the data: everything but the CRC field, which is left 0. */
function encodeHeader(snapshot: Snapshot): Uint8Array {
  const writer = new ByteWriter(256);
  writer.uint32(snapshotMagic).uint32(snapshotVersion).uint32(0);
  writer.uint64Number(snapshot.metadata.index).uint64Number(snapshot.metadata.term);
  writeIds(writer, snapshot.metadata.confState.voters);
  writeIds(writer, snapshot.metadata.confState.learners);
  return writer.uint32(snapshot.data.length).finish();
}

/** Encodes a snapshot file's bytes. */
export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const header = encodeHeader(snapshot);
  const bytes = new Uint8Array(header.length + snapshot.data.length);
  bytes.set(header, 0);
  bytes.set(snapshot.data, header.length);
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, crc32(bytes.subarray(12)));
  return bytes;
}

/**
 * The same file as `encodeSnapshotFile`, as two pieces to write one after the other (the
 * header, then the snapshot's own data, not copied), checksummed `sliceBytes` at a time with
 * turns of the event loop in between.
 */
export async function encodeSnapshotFileInSlices(snapshot: Snapshot, sliceBytes: number):
  Promise<readonly [Uint8Array, Uint8Array]> {
  const header = encodeHeader(snapshot);
  const crc = await crc32InSlices(snapshot.data, sliceBytes, crc32(header.subarray(12)));
  new DataView(header.buffer, header.byteOffset).setUint32(8, crc);
  return [header, snapshot.data];
}

/** Decodes and verifies a snapshot file's bytes. Throws `MalformedPayloadError` saying why. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot {
  if (bytes.length < snapshotPrefixBytes) {
    throw new MalformedPayloadError(`file of ${bytes.length} bytes is shorter than its header`);
  }
  const reader = new ByteReader(bytes.subarray(0, snapshotPrefixBytes));
  const magic = reader.uint32();
  if (magic !== snapshotMagic) throw new MalformedPayloadError(`bad magic ${magic}`);
  const version = reader.uint32();
  if (version !== snapshotVersion) throw new MalformedPayloadError(`unknown version ${version}`);
  const stored = reader.uint32();
  const actual = crc32(bytes.subarray(snapshotPrefixBytes));
  if (stored !== actual) {
    throw new MalformedPayloadError(`CRC mismatch: stored ${stored}, computed ${actual}`);
  }
  const body = new ByteReader(bytes.subarray(snapshotPrefixBytes));
  const index = logIndex(body.uint64Number());
  const snapshotTerm = term(body.uint64Number());
  const confState: ConfState = { voters: readIds(body), learners: readIds(body) };
  const data = body.bytesView(); // The file's buffer becomes the snapshot's: no 2nd copy.
  body.end();
  return { metadata: { index, term: snapshotTerm, confState }, data };
}
