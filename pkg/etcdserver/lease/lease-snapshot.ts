/**
 * The binary snapshot of the replicated lease state (expiry times are leader-local and are not
 * in it). Format v1, big-endian: magic "PFSLEAS1" (8 bytes), format version u32, lease count
 * u32; per lease in ascending ID order: ID i64, granted TTL s i64, key count u32, then per key
 * in bytewise order: length u32 and bytes. A CRC-32 (u32) of everything before it ends it.
 */
import {
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
  PfsError,
  type Result,
  assert,
  err,
  leaseId,
  ok,
  openCrc32,
  sealCrc32,
} from "../../common/index.js";
import { limits } from "../../common/index.js";
import { compareBytes } from "../mvcc/index.js";
import type { LeaseRecord } from "./lease-record.js";

const magic = Buffer.from("PFSLEAS1", "latin1");
const formatVersion = 1;
const headerBytes = magic.length + 4 + 4;

function encodeRecord(record: LeaseRecord, writer: ByteWriter): void {
  writer.int64(record.id).int64(BigInt(record.ttlSeconds)).uint32(record.keys.size);
  for (const key of [...record.keys.values()].sort(compareBytes)) writer.bytes(key);
}

/** Encodes `records` (any order; written by ascending ID). The caller owns the result. */
export function encodeLeaseSnapshot(records: Iterable<LeaseRecord>): Uint8Array {
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const writer = new ByteWriter(256);
  writer.raw(magic).uint32(formatVersion).uint32(sorted.length);
  for (const record of sorted) encodeRecord(record, writer);
  const body = writer.finish();
  const snapshot = sealCrc32(body);
  assert(snapshot.length >= headerBytes + 4, () => `lease snapshot ${snapshot.length} B too short`);
  return snapshot;
}

function decodeRecord(reader: ByteReader, previous: bigint | undefined): LeaseRecord {
  const id = reader.int64();
  if (id === 0n) throw new MalformedPayloadError("lease id 0");
  if (previous !== undefined && id <= previous) throw new MalformedPayloadError(`lease ${id} out of order`);
  const ttl = reader.int64();
  if (ttl < 1n || ttl > BigInt(limits.etcdLeaseTtlSecondsMax)) {
    throw new MalformedPayloadError(`lease ${id} ttl ${ttl}`);
  }
  const keyCount = reader.uint32();
  const keys = new Map<string, Uint8Array>();
  for (let i = 0; i < keyCount; i += 1) {
    const key = Buffer.from(reader.bytesView()); // One copy, held as a Buffer as before.
    if (key.length === 0) throw new MalformedPayloadError(`lease ${id} has an empty key`);
    keys.set(Buffer.from(key).toString("latin1"), key);
  }
  if (keys.size !== keyCount) throw new MalformedPayloadError(`lease ${id} has duplicate keys`);
  return { id: leaseId(id), ttlSeconds: Number(ttl), keys };
}

/**
 * Decodes a snapshot into records in ascending ID order. Errors: short, checksum mismatch,
 * unknown magic or version, truncated, trailing bytes, zero or unordered IDs, a TTL out of
 * range, empty or duplicate keys → DATA_CORRUPTED. Keys held by two leases are the caller's
 * check (it builds the key index).
 */
export function decodeLeaseSnapshot(bytes: Uint8Array): Result<LeaseRecord[], PfsError> {
  const body = openCrc32(bytes, "lease snapshot", headerBytes);
  if (!body.ok) return body;
  try {
    const reader = new ByteReader(body.value);
    if (!magic.equals(reader.raw(magic.length))) throw new MalformedPayloadError("bad magic");
    const version = reader.uint32();
    if (version !== formatVersion) throw new MalformedPayloadError(`unknown format version ${version}`);
    const count = reader.uint32();
    const records: LeaseRecord[] = [];
    for (let i = 0; i < count; i += 1) records.push(decodeRecord(reader, records.at(-1)?.id));
    reader.end();
    return ok(records);
  } catch (error) {
    if (!(error instanceof MalformedPayloadError)) throw error;
    return err(new PfsError("DATA_CORRUPTED", `lease snapshot malformed: ${error.message}`));
  }
}
