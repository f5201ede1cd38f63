// The replicated request codec: every request type round-trips exactly (seeded random
// requests, nested txns included), and hostile bytes (random, truncated, bit-flipped,
// trailing) are refused with MalformedPayloadError and nothing else. The seed is printed on
// failure.
import test from "ava";
import {
  MalformedPayloadError, Prng, leaseId, nodeId, systemSeed,
} from "../../../pkg/common/index.js";
import {
  decodeEtcdRequest, encodeEtcdRequest, type Compare, type EtcdRequest, type RequestOp,
  type TxnRequest,
} from "../../../pkg/etcdserver/index.js";

function bytes(prng: Prng, max = 12): Uint8Array {
  const out = new Uint8Array(prng.intBelow(max + 1));
  for (let i = 0; i < out.length; i += 1) out[i] = prng.intBelow(256);
  return out;
}

const int64 = (prng: Prng): bigint => BigInt.asIntN(64, prng.nextUint64());
const small = (prng: Prng): number => prng.intBetween(-3, 1_000_000);

function compare(prng: Prng): Compare {
  const base = { key: bytes(prng), rangeEnd: bytes(prng),
    result: prng.pick(["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const) };
  const target = prng.pick(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const);
  if (target === "VALUE") return { ...base, target, operand: bytes(prng) };
  if (target === "LEASE") return { ...base, target, operand: leaseId(int64(prng)) };
  return { ...base, target, operand: small(prng) };
}

function op(prng: Prng, depth: number): RequestOp {
  const type = prng.pick(depth > 2 ? ["range", "put", "deleteRange", "empty"] as const
    : ["range", "put", "deleteRange", "txn", "empty"] as const);
  switch (type) {
    case "range": return { type, request: {
      key: bytes(prng), rangeEnd: bytes(prng), limit: small(prng), revision: small(prng),
      sortOrder: prng.pick(["NONE", "ASCEND", "DESCEND"] as const),
      sortTarget: prng.pick(["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const),
      keysOnly: prng.chance(0.5), countOnly: prng.chance(0.5), serializable: prng.chance(0.5),
      minModRevision: small(prng), maxModRevision: small(prng),
      minCreateRevision: small(prng), maxCreateRevision: small(prng),
    } };
    case "put": return { type, request: {
      key: bytes(prng), value: bytes(prng, 40), lease: leaseId(int64(prng)),
      prevKv: prng.chance(0.5), ignoreValue: prng.chance(0.5), ignoreLease: prng.chance(0.5),
    } };
    case "deleteRange": return { type, request: {
      key: bytes(prng), rangeEnd: bytes(prng), prevKv: prng.chance(0.5),
    } };
    case "txn": return { type, request: txn(prng, depth + 1) };
    case "empty": return { type };
  }
}

function txn(prng: Prng, depth: number): TxnRequest {
  const list = <T>(make: () => T): T[] => Array.from({ length: prng.intBelow(4) }, make);
  return {
    compare: list(() => compare(prng)), success: list(() => op(prng, depth)),
    failure: list(() => op(prng, depth)),
  };
}

function request(prng: Prng): EtcdRequest {
  const id = nodeId(prng.nextUint64());
  const urls = (): string[] => Array.from({ length: prng.intBelow(3) },
    (_, i) => `http://h${i}:${prng.intBelow(65536)}`);
  const candidates: EtcdRequest[] = [
    op(prng, 3).type === "put" ? { type: "put", request: {
      key: bytes(prng), value: bytes(prng), lease: leaseId(0n), prevKv: false,
      ignoreValue: false, ignoreLease: true } } : { type: "txn", request: txn(prng, 0) },
    { type: "deleteRange", request: { key: bytes(prng), rangeEnd: bytes(prng), prevKv: true } },
    { type: "txn", request: txn(prng, 0) },
    { type: "compact", request: { revision: small(prng), physical: prng.chance(0.5) } },
    { type: "leaseGrant", id: leaseId(int64(prng)), ttlSeconds: int64(prng) },
    { type: "leaseRevoke", id: leaseId(int64(prng)) },
    { type: "memberAttributes", id, name: "näme", clientUrls: urls() },
    { type: "memberAdd", member: { id, name: "", peerUrls: urls(), clientUrls: urls(),
      isLearner: prng.chance(0.5) } },
    { type: "memberRemove", id }, { type: "memberPromote", id },
    { type: "memberUpdate", id, peerUrls: urls() },
    { type: "alarm", action: prng.pick(["GET", "ACTIVATE", "DEACTIVATE"] as const), memberId: id,
      alarm: prng.pick(["NONE", "NOSPACE", "CORRUPT"] as const) },
    { type: "auth", payload: bytes(prng, 64) },
  ];
  return prng.pick(candidates);
}

/** Byte arrays compare by content (Buffer vs Uint8Array views are equal here). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v)) as unknown;
}

test("every request type round-trips", (t) => {
  const seed = systemSeed();
  const prng = new Prng(seed);
  for (let i = 0; i < 200; i += 1) {
    const original = request(prng);
    const decoded = decodeEtcdRequest(encodeEtcdRequest(original));
    t.deepEqual(plain(decoded), plain(original), `seed ${seed} request ${i}`);
  }
});

test("hostile bytes are refused with MalformedPayloadError only", (t) => {
  const seed = systemSeed();
  const prng = new Prng(seed);
  const tryDecode = (payload: Uint8Array, what: string): void => {
    try {
      decodeEtcdRequest(payload);
    } catch (error) {
      t.true(error instanceof MalformedPayloadError, `seed ${seed} ${what}: ${String(error)}`);
    }
  };
  for (let i = 0; i < 600; i += 1) {
    const valid = encodeEtcdRequest(request(prng));
    tryDecode(bytes(prng, 200), `random ${i}`);
    tryDecode(valid.subarray(0, prng.intBelow(valid.length)), `truncated ${i}`);
    const flipped = Uint8Array.from(valid);
    const at = prng.intBelow(flipped.length);
    flipped[at] = (flipped[at] ?? 0) ^ (1 << prng.intBelow(8));
    tryDecode(flipped, `flipped ${i}`);
    t.throws(() => decodeEtcdRequest(Uint8Array.from([...valid, 0])),
      { instanceOf: MalformedPayloadError }, `seed ${seed} trailing ${i}`);
  }
  t.throws(() => decodeEtcdRequest(new Uint8Array(0)), { instanceOf: MalformedPayloadError });
  t.throws(() => decodeEtcdRequest(Uint8Array.from([9, 0])), { instanceOf: MalformedPayloadError });
  t.throws(() => decodeEtcdRequest(Uint8Array.from([1, 200])),
    { instanceOf: MalformedPayloadError });
});
