/**
 * Big-endian fixed-width binary encoding, shared by every on-disk format (WAL records, Raft
 * snapshot files, the MVCC and lease snapshots). Every field is written explicitly (no JSON,
 * no host byte order), so a file written on one machine reads the same on any other. Integers
 * that are numbers in memory (terms, indexes) are stored as uint64 and asserted to be safe
 * integers when read back. Pure (DataView only).
 */
import { assert } from "./assert.js";

/** A payload ended early or held an impossible value; the caller names the file and offset. */
export class MalformedPayloadError extends Error {
  override readonly name = "MalformedPayloadError";
}

/** Accumulates fields into one byte array. */
export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(capacityBytes = 64) {
    this.#buffer = new Uint8Array(capacityBytes);
    this.#view = new DataView(this.#buffer.buffer);
  }

  #reserve(bytes: number): number {
    const at = this.#length;
    if (at + bytes > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, at + bytes));
      grown.set(this.#buffer.subarray(0, at), 0);
      this.#buffer = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length += bytes;
    return at;
  }

  uint8(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, () => `uint8 ${value}`);
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
    return this;
  }

  uint32(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, () => `uint32 ${value}`);
    const at = this.#reserve(4);
    this.#view.setUint32(at, value);
    return this;
  }

  /** A non-negative safe integer (term, index, size) stored as uint64. */
  uint64Number(value: number): this {
    assert(Number.isSafeInteger(value) && value >= 0, () => `uint64 number ${value}`);
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, BigInt(value));
    return this;
  }

  uint64(value: bigint): this {
    assert(value >= 0n && value < 1n << 64n, () => `uint64 ${value}`);
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, value);
    return this;
  }

  /** A signed int64 (etcd lease IDs and revisions, -1 sentinels). */
  int64(value: bigint): this {
    assert(value >= -(1n << 63n) && value < 1n << 63n, () => `int64 ${value}`);
    const at = this.#reserve(8);
    this.#view.setBigInt64(at, value);
    return this;
  }

  /** A uint32 length followed by the bytes. */
  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    return this.raw(value);
  }

  /** The bytes alone, with no length (magic numbers, fixed-size fields). */
  raw(value: Uint8Array): this {
    const at = this.#reserve(value.length);
    this.#buffer.set(value, at);
    return this;
  }

  /** The bytes written so far (a copy-free view; do not write after taking it). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/** Reads fields in order from a payload; throws `MalformedPayloadError` past its end. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(bytes: number): number {
    const at = this.#offset;
    if (at + bytes > this.#bytes.length) {
      throw new MalformedPayloadError(
        `payload of ${this.#bytes.length} bytes ends before ${bytes} bytes at offset ${at}`,
      );
    }
    this.#offset += bytes;
    return at;
  }

  uint8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  uint32(): number {
    return this.#view.getUint32(this.#take(4));
  }

  uint64Number(): number {
    const value = this.#view.getBigUint64(this.#take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new MalformedPayloadError(`uint64 ${value} is not a safe integer`);
    }
    return Number(value);
  }

  uint64(): bigint {
    return this.#view.getBigUint64(this.#take(8));
  }

  int64(): bigint {
    return this.#view.getBigInt64(this.#take(8));
  }

  /** `length` bytes with no length prefix, copied. */
  raw(length: number): Uint8Array {
    const at = this.#take(length);
    return new Uint8Array(this.#bytes.subarray(at, at + length));
  }

  /** True once every byte was consumed. */
  get done(): boolean {
    return this.#offset === this.#bytes.length;
  }

  /** A uint32 length and that many bytes (a copy, so the payload buffer can be dropped). */
  bytes(): Uint8Array {
    // A plain Uint8Array copy even when the payload is a Buffer (whose slice is a view).
    return this.raw(this.uint32());
  }

  /**
   * A uint32 length and a view of that many bytes, without copying: for large fields of a
   * buffer the caller owns and will not reuse (snapshot data).
   */
  bytesView(): Uint8Array {
    const length = this.uint32();
    const at = this.#take(length);
    return this.#bytes.subarray(at, at + length);
  }

  /** Throws unless every byte was consumed: trailing bytes mean a format mismatch. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new MalformedPayloadError(
        `payload has ${this.#bytes.length - this.#offset} trailing bytes at offset ${this.#offset}`,
      );
    }
  }
}
