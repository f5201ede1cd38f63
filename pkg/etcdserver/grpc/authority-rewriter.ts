/**
 * Makes etcd's Go clients acceptable to Node's HTTP/2 server. When etcdctl dials one endpoint
 * directly (endpoint status, hashkv, defrag), grpc-go sends the whole endpoint URL as the
 * request's `:authority` ("http://127.0.0.1:2379"); nghttp2 inside Node rejects a `/` in an
 * authority with RST_STREAM PROTOCOL_ERROR before the request reaches grpc-js, while etcd's
 * Go server accepts it. This transformer rewrites the client-to-server bytes of a connection:
 * in every request header block it renames each `:authority` field to `set-cookie` (a static
 * name of the same length, so both HPACK dynamic tables keep identical sizes and stay in
 * step, and later indexed references decode to the renamed field too), and inserts a valid
 * `:authority: localhost` (not indexed) first. Renaming is only sound when `:authority` is
 * the last pseudo-header (a regular header may not precede a pseudo-header), which is how
 * grpc-go orders them; so the first header block of a connection decides: if some
 * pseudo-header follows `:authority` there (grpc-js does that, and sends valid authorities),
 * the whole connection passes through untouched. Other frames pass through; header blocks
 * split over CONTINUATION frames are joined and re-split. Values are skipped by length, never
 * decoded, so Huffman coding is irrelevant. A block that does not parse is passed on as it
 * came (nghttp2 then judges it).
 */
import { assert } from "../../common/index.js";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const frameHeaderBytes = 9;
/** HTTP/2's default SETTINGS_MAX_FRAME_SIZE, which Node's server keeps. */
const framePayloadBytesMax = 16_384;
const typeHeaders = 0x1;
const typeContinuation = 0x9;
const flagEndStream = 0x1;
const flagEndHeaders = 0x4;
const flagPadded = 0x8;
const flagPriority = 0x20;
/** HPACK static table indexes: `:authority` and `set-cookie` (both names are 10 bytes). */
const authorityIndex = 1;
const setCookieIndex = 55;
/** `:authority: localhost`, literal without indexing, name from the static table. */
const validAuthority = Buffer.concat([Buffer.from([0x01, 9]), Buffer.from("localhost", "latin1")]);

class MalformedBlock extends Error {}

/** Reads an HPACK integer with an N-bit prefix at `offset`; returns [value, next offset]. */
function readInteger(block: Buffer, offset: number, prefixBits: number): [number, number] {
  const first = block[offset];
  if (first === undefined) throw new MalformedBlock("integer past the end");
  const prefixMax = (1 << prefixBits) - 1;
  let value = first & prefixMax;
  let next = offset + 1;
  if (value < prefixMax) return [value, next];
  for (let shift = 0; shift <= 28; shift += 7) {
    const byte = block[next];
    if (byte === undefined) throw new MalformedBlock("integer past the end");
    next += 1;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, next];
  }
  throw new MalformedBlock("integer too long");
}

/** Encodes an HPACK integer with an N-bit prefix, the first byte's high bits from `flags`. */
function encodeInteger(value: number, prefixBits: number, flags: number): Buffer {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) return Buffer.from([flags | value]);
  const bytes = [flags | prefixMax];
  let rest = value - prefixMax;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** The offset after the string literal at `offset`. */
function skipString(block: Buffer, offset: number): number {
  const [length, next] = readInteger(block, offset, 7);
  if (next + length > block.length) throw new MalformedBlock("string past the end");
  return next + length;
}

/** A literal field: its (possibly renamed) name prefix, then the rest copied. */
function rewriteLiteral(block: Buffer, offset: number, prefixBits: number, parts: Buffer[]):
  number {
  const flags = block[offset] ?? 0;
  const highBits = flags & ~((1 << prefixBits) - 1) & 0xff;
  const [nameIndex, afterName] = readInteger(block, offset, prefixBits);
  if (nameIndex === authorityIndex) {
    parts.push(encodeInteger(setCookieIndex, prefixBits, highBits));
    const end = skipString(block, afterName);
    parts.push(block.subarray(afterName, end));
    return end;
  }
  let cursor = afterName;
  if (nameIndex === 0) {
    const nameEnd = skipString(block, cursor);
    const name = block.subarray(cursor, nameEnd);
    const [length, nameStart] = readInteger(block, cursor, 7);
    const plain = ((block[cursor] ?? 0) & 0x80) === 0;
    parts.push(block.subarray(offset, cursor));
    if (plain && length === 10 && block.toString("latin1", nameStart, nameEnd) === ":authority") {
      parts.push(Buffer.concat([Buffer.from([10]), Buffer.from("set-cookie", "latin1")]));
    } else {
      parts.push(name);
    }
    cursor = nameEnd;
    const end = skipString(block, cursor);
    parts.push(block.subarray(cursor, end));
    return end;
  }
  const end = skipString(block, cursor);
  parts.push(block.subarray(offset, end));
  return end;
}

/** HPACK static table indexes of pseudo-header names (:authority … :status). */
const pseudoIndexMax = 14;

/** The static name index a representation at `offset` refers to (0: literal or dynamic). */
function nameIndexAt(block: Buffer, offset: number): { index: number; next: number } {
  const byte = block[offset] ?? 0;
  if ((byte & 0x80) !== 0) {
    const [index, next] = readInteger(block, offset, 7);
    return { index, next };
  }
  const prefixBits = (byte & 0xc0) === 0x40 ? 6 : (byte & 0xe0) === 0x20 ? 5 : 4;
  const [index, afterName] = readInteger(block, offset, prefixBits);
  if (prefixBits === 5) return { index: -1, next: afterName };
  let next = afterName;
  let literalPseudo = false;
  if (index === 0) {
    const nameStart = readInteger(block, next, 7)[1];
    literalPseudo = ((block[next] ?? 0) & 0x80) === 0 && block[nameStart] === 0x3a;
    next = skipString(block, next);
  }
  return { index: literalPseudo ? 1 : index, next: skipString(block, next) };
}

/**
 * Whether `block` (a connection's first header block) has `:authority` and no pseudo-header
 * after it. A dynamic reference after it counts as "maybe a pseudo-header": not sound.
 */
export function authorityIsLastPseudoHeader(block: Buffer): boolean {
  let seenAuthority = false;
  try {
    for (let offset = 0; offset < block.length;) {
      const { index, next } = nameIndexAt(block, offset);
      const isIndexed = ((block[offset] ?? 0) & 0x80) !== 0;
      if (seenAuthority && (index > 61 && isIndexed || index >= 1 && index <= pseudoIndexMax)) {
        return false;
      }
      if (index === authorityIndex && !isIndexed) seenAuthority = true;
      offset = next;
    }
  } catch (error: unknown) {
    if (error instanceof MalformedBlock) return false;
    throw error;
  }
  return seenAuthority;
}

/** The rewritten header block, or the block itself when it does not parse. */
export function rewriteHeaderBlock(block: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  let inserted = false;
  try {
    while (offset < block.length) {
      const byte = block[offset] ?? 0;
      if ((byte & 0xe0) === 0x20) {
        const [, next] = readInteger(block, offset, 5);
        parts.push(block.subarray(offset, next));
        offset = next;
        continue;
      }
      if (!inserted) {
        parts.push(validAuthority);
        inserted = true;
      }
      if ((byte & 0x80) !== 0) {
        const [, next] = readInteger(block, offset, 7);
        parts.push(block.subarray(offset, next));
        offset = next;
      } else if ((byte & 0xc0) === 0x40) {
        offset = rewriteLiteral(block, offset, 6, parts);
      } else {
        offset = rewriteLiteral(block, offset, 4, parts);
      }
    }
  } catch (error: unknown) {
    if (error instanceof MalformedBlock) return block;
    throw error;
  }
  if (!inserted) parts.push(validAuthority);
  return Buffer.concat(parts);
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.alloc(frameHeaderBytes);
  header.writeUIntBE(length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return header;
}

/** A header block being collected: HEADERS, then CONTINUATION frames until END_HEADERS. */
interface OpenBlock {
  readonly streamId: number;
  readonly flags: number;
  readonly priority: Buffer;
  readonly fragments: Buffer[];
}

/** A header field as an HPACK literal without indexing, with a literal name (never Huffman). */
export function literalHeader(name: string, value: string): Buffer {
  const nameBytes = Buffer.from(name, "latin1");
  const valueBytes = Buffer.from(value, "latin1");
  return Buffer.concat([
    Buffer.from([0x00]), encodeInteger(nameBytes.length, 7, 0), nameBytes,
    encodeInteger(valueBytes.length, 7, 0), valueBytes,
  ]);
}

/** The client-to-server byte transformer of one HTTP/2 connection. */
export class AuthorityRewriter {
  /** Decided by the connection's first header block. */
  #mode: "undecided" | "rewrite" | "pass" = "undecided";
  /** Appended (a regular header, last) to every request header block, when set. */
  readonly #trailingField: Buffer;

  constructor(trailingField: Buffer = Buffer.alloc(0)) {
    this.#trailingField = trailingField;
  }
  #prefaceSeen = 0;
  #pending: Buffer = Buffer.alloc(0);
  #open: OpenBlock | null = null;

  /** Bytes to forward for `chunk` (possibly none while a frame is incomplete). */
  transform(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let input = chunk;
    if (this.#prefaceSeen < preface.length) {
      const take = Math.min(preface.length - this.#prefaceSeen, input.length);
      out.push(input.subarray(0, take));
      this.#prefaceSeen += take;
      input = input.subarray(take);
    }
    this.#pending = this.#pending.length === 0 ? input : Buffer.concat([this.#pending, input]);
    while (this.#pending.length >= frameHeaderBytes) {
      const length = this.#pending.readUIntBE(0, 3);
      const total = frameHeaderBytes + length;
      if (this.#pending.length < total) break;
      const frame = this.#pending.subarray(0, total);
      this.#pending = this.#pending.subarray(total);
      this.#frame(frame, out);
    }
    return out.length === 1 ? out[0] ?? Buffer.alloc(0) : Buffer.concat(out);
  }

  #frame(frame: Buffer, out: Buffer[]): void {
    const type = frame.readUInt8(3);
    const flags = frame.readUInt8(4);
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    let payload = frame.subarray(frameHeaderBytes);
    if (type === typeHeaders) {
      let padding = 0;
      if ((flags & flagPadded) !== 0) {
        padding = payload.readUInt8(0);
        payload = payload.subarray(1);
      }
      const priority = (flags & flagPriority) !== 0 ? payload.subarray(0, 5) : Buffer.alloc(0);
      const fragment = payload.subarray(priority.length, payload.length - padding);
      this.#open = { streamId, flags, priority, fragments: [fragment] };
    } else if (type === typeContinuation && this.#open?.streamId === streamId) {
      this.#open.fragments.push(payload);
    } else {
      out.push(frame);
      return;
    }
    if ((flags & flagEndHeaders) !== 0) this.#emit(out);
  }

  /** Re-frames the rewritten block: HEADERS, then CONTINUATION frames if it is large. */
  #emit(out: Buffer[]): void {
    const open = this.#open;
    assert(open !== null, "emit without an open header block");
    this.#open = null;
    const original = Buffer.concat(open.fragments);
    if (this.#mode === "undecided") {
      this.#mode = authorityIsLastPseudoHeader(original) ? "rewrite" : "pass";
    }
    const rewritten = this.#mode === "rewrite" ? rewriteHeaderBlock(original) : original;
    const block = this.#trailingField.length === 0
      ? rewritten
      : Buffer.concat([rewritten, this.#trailingField]);
    const firstRoom = framePayloadBytesMax - open.priority.length;
    const first = block.subarray(0, firstRoom);
    const single = block.length <= firstRoom;
    const flags = (open.flags & (flagEndStream | flagPriority)) | (single ? flagEndHeaders : 0);
    out.push(frameHeader(open.priority.length + first.length, typeHeaders, flags, open.streamId),
      open.priority, first);
    for (let offset = firstRoom; offset < block.length; offset += framePayloadBytesMax) {
      const piece = block.subarray(offset, offset + framePayloadBytesMax);
      const last = offset + framePayloadBytesMax >= block.length;
      out.push(frameHeader(piece.length, typeContinuation, last ? flagEndHeaders : 0,
        open.streamId), piece);
    }
  }
}
