/**
 * The CRC-32 trailer of every checksummed snapshot (MVCC store, leases, auth): the body, then
 * its CRC-32 (zlib's polynomial) as a big-endian uint32. `sealCrc32` appends it;
 * `openCrc32` checks and strips it, so a decoder only ever parses bytes that arrived intact.
 */
import { crc32 } from "node:zlib";
import { assertSafeInteger } from "./assert.js";
import { PfsError } from "./errors.js";
import { runInSlices } from "./turns.js";
import { type Result, err, ok } from "./result.js";

/** Bytes of the trailer. */
const trailerBytes = 4;

/** `body` followed by its big-endian CRC-32. */
export function sealCrc32(body: Uint8Array): Buffer {
  const sealed = Buffer.alloc(body.length + trailerBytes);
  sealed.set(body, 0);
  sealed.writeUInt32BE(crc32(body), body.length);
  return sealed;
}

/**
 * The body of a sealed payload of at least `bodyBytesMin` bytes (a view, not a copy).
 * Errors name `what`: too short, or a checksum mismatch → DATA_CORRUPTED.
 */
export function openCrc32(sealed: Uint8Array, what: string, bodyBytesMin: number):
  Result<Buffer, PfsError> {
  const buffer = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (buffer.length < bodyBytesMin + trailerBytes) {
    return err(new PfsError("DATA_CORRUPTED", `${what} of ${buffer.length} B too short`));
  }
  const end = buffer.length - trailerBytes;
  const expected = buffer.readUInt32BE(end);
  const actual = crc32(buffer.subarray(0, end));
  if (actual !== expected) {
    return err(new PfsError("DATA_CORRUPTED", `${what} checksum ${actual} != ${expected}`));
  }
  return ok(buffer.subarray(0, end));
}

/**
 * The CRC-32 of `bytes` (as `crc32(bytes, initial)`), computed `sliceBytes` at a time with a
 * pause (turns.ts) after each slice: checksumming a snapshot of many megabytes must not hold
 * up the Raft loop and the clients for tens of milliseconds.
 */
export function* crc32Steps(bytes: Uint8Array, sliceBytes: number, initial = 0):
  Generator<void, number, void> {
  assertSafeInteger(sliceBytes, "CRC slice bytes", 1);
  let crc = initial;
  for (let from = 0; from < bytes.length; from += sliceBytes) {
    crc = crc32(bytes.subarray(from, Math.min(bytes.length, from + sliceBytes)), crc);
    yield;
  }
  return crc;
}

/** `crc32Steps` with a turn of the event loop at each pause. */
export function crc32InSlices(bytes: Uint8Array, sliceBytes: number, initial = 0):
  Promise<number> {
  return runInSlices(crc32Steps(bytes, sliceBytes, initial));
}
