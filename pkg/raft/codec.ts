/**
 * The binary encoding of Raft messages and membership changes: hand-written, pure, no
 * dependencies. Layout: a version byte, then fields in declaration order, big-endian. Node ids
 * are uint64; terms and indexes are uint64 that must fit a safe integer; byte strings and
 * arrays are a uint32 length then the items; booleans one byte, 0 or 1.
 *
 * Decoding treats its input as hostile: every length is checked against the bytes left before
 * anything is allocated, unknown tags and trailing bytes are errors, and it never throws or
 * loops past the input: the result is an `err` with a reason.
 */
import { type LogIndex, type NodeId, type Result, type Term, err, ok } from "../common/index.js";
import { type Message, messageTypes } from "./message.js";
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type Snapshot,
} from "./types.js";

/** The version byte that starts every encoding; bumped when the layout changes. */
const codecVersion = 1;
/** Smallest encoded entry: term, index, type, data length. Bounds array counts on decode. */
const entryBytesMin = 8 + 8 + 1 + 4;

/** A growable output buffer. */
class Writer {
  #bytes = new Uint8Array(64);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  #reserve(size: number): void {
    if (this.#length + size <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#length + size) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.#length, value);
    this.#length += 1;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
  }

  u64(value: bigint): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.#length, value);
    this.#length += 8;
  }

  /** A safe non-negative integer (term, index) as uint64. */
  counter(value: number): void {
    this.u64(BigInt(value));
  }

  bytes(value: Uint8Array): void {
    this.u32(value.length);
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/** Thrown inside the decoder only, and always caught by the exported decode functions. */
class DecodeFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Entry types by their wire number (the enum's value is its position). */
const entryTypes: readonly EntryType[] = [EntryType.Normal, EntryType.ConfChange];
/** Conf change types by their wire number (the enum's value is its position). */
const confChangeTypes: readonly ConfChangeType[] = [
  ConfChangeType.AddNode,
  ConfChangeType.RemoveNode,
  ConfChangeType.AddLearner,
];

/** A bounds-checked reader over hostile input. */
class Reader {
  readonly #view: DataView;
  #offset = 0;

  constructor(readonly input: Uint8Array) {
    this.#view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  get remaining(): number {
    return this.input.byteLength - this.#offset;
  }

  #need(size: number, what: string): void {
    if (size > this.remaining) {
      throw new DecodeFailure(`truncated ${what}: need ${size} bytes, have ${this.remaining}`);
    }
  }

  u8(what: string): number {
    this.#need(1, what);
    const value = this.#view.getUint8(this.#offset);
    this.#offset += 1;
    return value;
  }

  bool(what: string): boolean {
    const value = this.u8(what);
    if (value > 1) throw new DecodeFailure(`${what}: boolean byte ${value}`);
    return value === 1;
  }

  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  u64(what: string): bigint {
    this.#need(8, what);
    const value = this.#view.getBigUint64(this.#offset);
    this.#offset += 8;
    return value;
  }

  counter(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new DecodeFailure(`${what} ${value} exceeds the safe integer range`);
    }
    return Number(value);
  }

  /** An array length whose items take at least `itemBytesMin` each. */
  count(what: string, itemBytesMin: number): number {
    const value = this.u32(what);
    if (value * itemBytesMin > this.remaining) {
      throw new DecodeFailure(`${what} ${value} cannot fit in ${this.remaining} bytes`);
    }
    return value;
  }

  bytes(what: string): Uint8Array {
    const length = this.u32(what);
    this.#need(length, what);
    const value = this.input.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  end(): void {
    if (this.remaining !== 0) throw new DecodeFailure(`${this.remaining} trailing bytes`);
  }
}

function writeEntry(w: Writer, entry: Entry): void {
  w.counter(entry.term);
  w.counter(entry.index);
  w.u8(entry.type);
  w.bytes(entry.data);
}

function readEntry(r: Reader): Entry {
  const term = r.counter("entry term") as Term;
  const index = r.counter("entry index") as LogIndex;
  const number = r.u8("entry type");
  const type = entryTypes[number];
  if (type === undefined) throw new DecodeFailure(`unknown entry type ${number}`);
  return { term, index, type, data: r.bytes("entry data") };
}

function writeEntries(w: Writer, entries: readonly Entry[]): void {
  w.u32(entries.length);
  for (const entry of entries) writeEntry(w, entry);
}

function readEntries(r: Reader): Entry[] {
  const count = r.count("entry count", entryBytesMin);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i += 1) entries.push(readEntry(r));
  return entries;
}

function writeIds(w: Writer, ids: readonly NodeId[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u64(id);
}

function readIds(r: Reader, what: string): NodeId[] {
  const count = r.count(what, 8);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i += 1) ids.push(r.u64(what) as NodeId);
  return ids;
}

function writeSnapshot(w: Writer, snapshot: Snapshot): void {
  w.counter(snapshot.metadata.index);
  w.counter(snapshot.metadata.term);
  writeIds(w, snapshot.metadata.confState.voters);
  writeIds(w, snapshot.metadata.confState.learners);
  w.bytes(snapshot.data);
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.counter("snapshot index") as LogIndex;
  const term = r.counter("snapshot term") as Term;
  const confState: ConfState = {
    voters: readIds(r, "snapshot voters"),
    learners: readIds(r, "snapshot learners"),
  };
  return { metadata: { index, term, confState }, data: r.bytes("snapshot data") };
}

/** Writes the fields specific to `m`'s variant. */
function writeBody(w: Writer, m: Message): void {
  switch (m.type) {
    case "appendEntries":
      w.counter(m.logTerm);
      w.counter(m.index);
      writeEntries(w, m.entries);
      w.counter(m.commit);
      return;
    case "appendEntriesResponse":
      w.counter(m.index);
      w.bool(m.reject);
      w.counter(m.rejectHint);
      w.counter(m.logTerm);
      return;
    case "requestVote":
      w.bool(m.preVote);
      w.counter(m.logTerm);
      w.counter(m.index);
      w.bool(m.transfer);
      return;
    case "requestVoteResponse":
      w.bool(m.preVote);
      w.bool(m.reject);
      return;
    case "heartbeat":
      w.counter(m.commit);
      w.bytes(m.context);
      return;
    case "heartbeatResponse":
    case "readIndex":
      w.bytes(m.context);
      return;
    case "installSnapshot":
      writeSnapshot(w, m.snapshot);
      return;
    case "timeoutNow":
      return;
    case "readIndexResponse":
      w.counter(m.index);
      w.bytes(m.context);
      return;
    case "propose":
      writeEntries(w, m.entries);
      return;
    case "transferLeader":
      w.u64(m.transferee);
      return;
  }
}

/** Encodes a message for the wire. Total: every well-typed message encodes. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(codecVersion);
  w.u8(messageTypes.indexOf(m.type));
  w.u64(m.from);
  w.u64(m.to);
  w.counter(m.term);
  writeBody(w, m);
  return w.finish();
}

interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** Reads the variant-specific fields of a message whose tag and header were read. */
function readBody(r: Reader, type: Message["type"], h: Header): Message {
  switch (type) {
    case "appendEntries": {
      const logTerm = r.counter("logTerm") as Term;
      const index = r.counter("index") as LogIndex;
      const entries = readEntries(r);
      return { type, ...h, logTerm, index, entries, commit: r.counter("commit") as LogIndex };
    }
    case "appendEntriesResponse": {
      const index = r.counter("index") as LogIndex;
      const reject = r.bool("reject");
      const rejectHint = r.counter("rejectHint") as LogIndex;
      return { type, ...h, index, reject, rejectHint, logTerm: r.counter("logTerm") as Term };
    }
    case "requestVote": {
      const preVote = r.bool("preVote");
      const logTerm = r.counter("logTerm") as Term;
      const index = r.counter("index") as LogIndex;
      return { type, ...h, preVote, logTerm, index, transfer: r.bool("transfer") };
    }
    case "requestVoteResponse": {
      const preVote = r.bool("preVote");
      return { type, ...h, preVote, reject: r.bool("reject") };
    }
    case "heartbeat": {
      const commit = r.counter("commit") as LogIndex;
      return { type, ...h, commit, context: r.bytes("context") };
    }
    case "heartbeatResponse":
    case "readIndex":
      return { type, ...h, context: r.bytes("context") };
    case "installSnapshot":
      return { type, ...h, snapshot: readSnapshot(r) };
    case "timeoutNow":
      return { type, ...h };
    case "readIndexResponse": {
      const index = r.counter("index") as LogIndex;
      return { type, ...h, index, context: r.bytes("context") };
    }
    case "propose":
      return { type, ...h, entries: readEntries(r) };
    case "transferLeader":
      return { type, ...h, transferee: r.u64("transferee") as NodeId };
  }
}

/** Decodes bytes from a peer. Never throws: malformed input yields `err(reason)`. */
export function decodeMessage(bytes: Uint8Array): Result<Message, string> {
  try {
    const r = new Reader(bytes);
    const version = r.u8("version");
    if (version !== codecVersion) return err(`unknown codec version ${version}`);
    const tag = r.u8("message type");
    const type = messageTypes[tag];
    if (type === undefined) return err(`unknown message type ${tag}`);
    const header: Header = {
      from: r.u64("from") as NodeId,
      to: r.u64("to") as NodeId,
      term: r.counter("term") as Term,
    };
    const message = readBody(r, type, header);
    r.end();
    return ok(message);
  } catch (e: unknown) {
    if (e instanceof DecodeFailure) return err(e.reason);
    throw e;
  }
}

/** Encodes a membership change (the `data` of a ConfChange entry). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer();
  w.u8(codecVersion);
  w.u8(cc.type);
  w.u64(cc.nodeId);
  w.bytes(cc.context);
  return w.finish();
}

/** Decodes a membership change. Never throws: malformed input yields `err(reason)`. */
export function decodeConfChange(bytes: Uint8Array): Result<ConfChange, string> {
  try {
    const r = new Reader(bytes);
    const version = r.u8("version");
    if (version !== codecVersion) return err(`unknown codec version ${version}`);
    const number = r.u8("conf change type");
    const type = confChangeTypes[number];
    if (type === undefined) return err(`unknown conf change type ${number}`);
    const nodeId = r.u64("node id") as NodeId;
    const context = r.bytes("context");
    r.end();
    return ok({ type, nodeId, context });
  } catch (e: unknown) {
    if (e instanceof DecodeFailure) return err(e.reason);
    throw e;
  }
}
