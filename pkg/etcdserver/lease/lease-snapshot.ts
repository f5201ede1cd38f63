/**
 * The binary snapshot of the replicated lease state (expiry times are leader-local and are not
 * in it). Format v1, big-endian: magic "PFSLEAS1" (8 bytes), format version u32, lease count
 * u32; per lease in ascending ID order: ID i64, granted TTL s i64, key count u32, then per key
 * in bytewise order: length u32 and bytes. A CRC-32 (u32) of everything before it ends it.
 */
import { crc32 } from "node:zlib";
import { PfsError, type Result, assert, err, leaseId, ok } from "../../common/index.js";
import { limits } from "../../common/index.js";
import { compareBytes } from "../mvcc/index.js";
import type { LeaseRecord } from "./lease-record.js";

const magic = Buffer.from("PFSLEAS1", "latin1");
const formatVersion = 1;
const headerBytes = magic.length + 4 + 4;

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function encodeRecord(record: LeaseRecord, chunks: Buffer[]): void {
  const head = Buffer.alloc(20);
  head.writeBigInt64BE(record.id, 0);
  head.writeBigInt64BE(BigInt(record.ttlSeconds), 8);
  head.writeUInt32BE(record.keys.size, 16);
  chunks.push(head);
  for (const key of [...record.keys.values()].sort(compareBytes)) {
    chunks.push(u32(key.length), Buffer.from(key));
  }
}

/** Encodes `records` (any order; written by ascending ID). The caller owns the result. */
export function encodeLeaseSnapshot(records: Iterable<LeaseRecord>): Uint8Array {
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const chunks: Buffer[] = [magic, u32(formatVersion), u32(sorted.length)];
  for (const record of sorted) encodeRecord(record, chunks);
  const body = Buffer.concat(chunks);
  const snapshot = Buffer.concat([body, u32(crc32(body))]);
  assert(snapshot.length >= headerBytes + 4, () => `lease snapshot ${snapshot.length} B too short`);
  return snapshot;
}

/** Thrown inside the decoder only; turned into DATA_CORRUPTED at its edge. */
class Malformed extends Error {}

/** A bounds-checked reader over the snapshot body. */
class Reader {
  #offset: number;
  constructor(readonly buffer: Buffer, offset: number, readonly end: number) {
    this.#offset = offset;
  }

  get done(): boolean {
    return this.#offset === this.end;
  }

  #take(bytes: number): number {
    if (this.#offset + bytes > this.end) throw new Malformed(`truncated at ${this.#offset}`);
    const at = this.#offset;
    this.#offset += bytes;
    return at;
  }

  u32(): number {
    return this.buffer.readUInt32BE(this.#take(4));
  }

  i64(): bigint {
    return this.buffer.readBigInt64BE(this.#take(8));
  }

  bytes(length: number): Uint8Array {
    const at = this.#take(length);
    return Uint8Array.prototype.slice.call(this.buffer, at, at + length);
  }
}

function decodeRecord(reader: Reader, previous: bigint | undefined): LeaseRecord {
  const id = reader.i64();
  if (id === 0n) throw new Malformed("lease id 0");
  if (previous !== undefined && id <= previous) throw new Malformed(`lease ${id} out of order`);
  const ttl = reader.i64();
  if (ttl < 1n || ttl > BigInt(limits.etcdLeaseTtlSecondsMax)) {
    throw new Malformed(`lease ${id} ttl ${ttl}`);
  }
  const keyCount = reader.u32();
  const keys = new Map<string, Uint8Array>();
  for (let i = 0; i < keyCount; i += 1) {
    const key = reader.bytes(reader.u32());
    if (key.length === 0) throw new Malformed(`lease ${id} has an empty key`);
    keys.set(Buffer.from(key).toString("latin1"), key);
  }
  if (keys.size !== keyCount) throw new Malformed(`lease ${id} has duplicate keys`);
  return { id: leaseId(id), ttlSeconds: Number(ttl), keys };
}

/**
 * Decodes a snapshot into records in ascending ID order. Errors: short, checksum mismatch,
 * unknown magic or version, truncated, trailing bytes, zero or unordered IDs, a TTL out of
 * range, empty or duplicate keys → DATA_CORRUPTED. Keys held by two leases are the caller's
 * check (it builds the key index).
 */
export function decodeLeaseSnapshot(bytes: Uint8Array): Result<LeaseRecord[], PfsError> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buffer.length < headerBytes + 4) {
    return err(new PfsError("DATA_CORRUPTED", `lease snapshot of ${buffer.length} B too short`));
  }
  const end = buffer.length - 4;
  const expected = buffer.readUInt32BE(end);
  const actual = crc32(buffer.subarray(0, end));
  if (actual !== expected) {
    return err(new PfsError("DATA_CORRUPTED", `lease snapshot checksum ${actual} != ${expected}`));
  }
  try {
    const reader = new Reader(buffer, 0, end);
    if (!Buffer.from(reader.bytes(magic.length)).equals(magic)) throw new Malformed("bad magic");
    const version = reader.u32();
    if (version !== formatVersion) throw new Malformed(`unknown format version ${version}`);
    const count = reader.u32();
    const records: LeaseRecord[] = [];
    for (let i = 0; i < count; i += 1) records.push(decodeRecord(reader, records.at(-1)?.id));
    if (!reader.done) throw new Malformed("trailing bytes");
    return ok(records);
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return err(new PfsError("DATA_CORRUPTED", `lease snapshot malformed: ${error.message}`));
  }
}
