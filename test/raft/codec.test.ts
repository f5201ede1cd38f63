/**
 * Goal: the wire codec round-trips every message variant exactly and never throws or hangs on
 * hostile bytes. Method: a seeded generator builds random messages of every type; each is
 * encoded and decoded and compared; every truncation of an encoding must fail cleanly; random
 * garbage and single-byte corruptions must return a Result (ok or err), never throw.
 */
import test from "ava";
import { Prng, type LogIndex, type NodeId, type Term } from "../../pkg/common/index.js";
import {
  ConfChangeType,
  type Entry,
  EntryType,
  type Message,
  type Snapshot,
  decodeConfChange,
  decodeMessage,
  encodeConfChange,
  encodeMessage,
  messageTypes,
} from "../../pkg/raft/index.js";

const seed = Number(process.env["PFS_SEED"] ?? 20261122);

function bytes(prng: Prng, max = 40): Uint8Array {
  const out = new Uint8Array(prng.intBelow(max + 1));
  for (let i = 0; i < out.length; i += 1) out[i] = prng.intBelow(256);
  return out;
}
const id = (prng: Prng): NodeId => prng.nextUint64() as NodeId;
const counter = (prng: Prng): number =>
  prng.chance(0.1) ? Number.MAX_SAFE_INTEGER : prng.intBelow(1_000_000);

function entries(prng: Prng): Entry[] {
  const out: Entry[] = [];
  const count = prng.intBelow(5);
  for (let i = 0; i < count; i += 1) {
    out.push({
      term: counter(prng) as Term,
      index: counter(prng) as LogIndex,
      type: prng.chance(0.5) ? EntryType.Normal : EntryType.ConfChange,
      data: bytes(prng),
    });
  }
  return out;
}

function snapshot(prng: Prng): Snapshot {
  const ids = (): NodeId[] => Array.from({ length: prng.intBelow(4) }, () => id(prng));
  return {
    metadata: {
      index: counter(prng) as LogIndex,
      term: counter(prng) as Term,
      confState: { voters: ids(), learners: ids() },
    },
    data: bytes(prng, 200),
  };
}

function randomMessage(prng: Prng, type: Message["type"]): Message {
  const h = { from: id(prng), to: id(prng), term: counter(prng) as Term };
  const i = (): LogIndex => counter(prng) as LogIndex;
  const t = (): Term => counter(prng) as Term;
  const b = (): boolean => prng.chance(0.5);
  switch (type) {
    case "appendEntries":
      return { type, ...h, logTerm: t(), index: i(), entries: entries(prng), commit: i() };
    case "appendEntriesResponse":
      return { type, ...h, index: i(), reject: b(), rejectHint: i(), logTerm: t() };
    case "requestVote":
      return { type, ...h, preVote: b(), logTerm: t(), index: i(), transfer: b() };
    case "requestVoteResponse":
      return { type, ...h, preVote: b(), reject: b() };
    case "heartbeat":
      return { type, ...h, commit: i(), context: bytes(prng) };
    case "heartbeatResponse":
    case "readIndex":
      return { type, ...h, context: bytes(prng) };
    case "installSnapshot":
      return { type, ...h, snapshot: snapshot(prng) };
    case "timeoutNow":
      return { type, ...h };
    case "readIndexResponse":
      return { type, ...h, index: i(), context: bytes(prng) };
    case "propose":
      return { type, ...h, entries: entries(prng) };
    case "transferLeader":
      return { type, ...h, transferee: id(prng) };
  }
}

test("every message type round-trips exactly (seeded fuzz)", (t) => {
  const prng = new Prng(seed);
  for (let round = 0; round < 200; round += 1) {
    for (const type of messageTypes) {
      const message = randomMessage(prng, type);
      const decoded = decodeMessage(encodeMessage(message));
      if (!decoded.ok) t.fail(`seed ${seed}: ${type} failed to decode: ${decoded.error}`);
      else t.deepEqual(decoded.value, message, `seed ${seed}`);
    }
  }
});

test("every truncation of an encoding is an error, not a throw", (t) => {
  const prng = new Prng(seed + 1);
  for (const type of messageTypes) {
    const encoded = encodeMessage(randomMessage(prng, type));
    for (let length = 0; length < encoded.length; length += 1) {
      const decoded = decodeMessage(encoded.subarray(0, length));
      t.false(decoded.ok, `seed ${seed}: ${type} truncated to ${length} decoded`);
    }
  }
});

test("trailing bytes, unknown tags and versions are rejected", (t) => {
  const prng = new Prng(seed + 2);
  const encoded = encodeMessage(randomMessage(prng, "heartbeat"));
  const longer = new Uint8Array(encoded.length + 1);
  longer.set(encoded);
  t.false(decodeMessage(longer).ok);
  const badTag = encoded.slice();
  badTag[1] = messageTypes.length;
  t.false(decodeMessage(badTag).ok);
  const badVersion = encoded.slice();
  badVersion[0] = 99;
  t.false(decodeMessage(badVersion).ok);
});

test("garbage and corrupted bytes never throw (seeded fuzz)", (t) => {
  const prng = new Prng(seed + 3);
  let decodedCount = 0;
  for (let round = 0; round < 3000; round += 1) {
    const message = randomMessage(prng, prng.pick(messageTypes));
    const corrupt = encodeMessage(message).slice();
    const position = prng.intBelow(corrupt.length);
    corrupt[position] = prng.intBelow(256);
    const garbage = bytes(prng, 64);
    if (prng.chance(0.5) && garbage.length > 1) garbage[0] = 1;
    for (const input of [corrupt, garbage]) {
      try {
        if (decodeMessage(input).ok) decodedCount += 1;
      } catch (e: unknown) {
        t.fail(`seed ${seed} round ${round}: decode threw ${String(e)}`);
      }
    }
  }
  t.true(decodedCount > 0, "some corruptions still decode (the fuzz reaches the body)");
});

test("a huge declared length is refused before allocation", (t) => {
  const prng = new Prng(seed + 4);
  const encoded = encodeMessage({ ...randomMessage(prng, "propose"), entries: [] } as Message);
  const hostile = encoded.slice();
  // The entry count is the last four bytes of an empty propose.
  hostile.set([0xff, 0xff, 0xff, 0xff], hostile.length - 4);
  const decoded = decodeMessage(hostile);
  t.false(decoded.ok);
  if (!decoded.ok) t.regex(decoded.error, /entry count/);
});

test("conf changes round-trip and hostile ones are refused", (t) => {
  const prng = new Prng(seed + 5);
  for (let round = 0; round < 100; round += 1) {
    const cc = {
      type: prng.pick([ConfChangeType.AddNode, ConfChangeType.RemoveNode, ConfChangeType.AddLearner]),
      nodeId: id(prng),
      context: bytes(prng),
    };
    const encoded = encodeConfChange(cc);
    t.deepEqual(decodeConfChange(encoded), { ok: true, value: cc });
    for (let length = 0; length < encoded.length; length += 1) {
      t.false(decodeConfChange(encoded.subarray(0, length)).ok);
    }
  }
  t.false(decodeConfChange(Uint8Array.of(1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)).ok);
});
