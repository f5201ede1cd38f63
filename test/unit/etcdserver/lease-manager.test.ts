// Goal: every Lease rule of etcd-api.md §7 that the state machine owns, each error with etcd's
// exact text and gRPC status. Method: drive a LeaseManager with explicit times (nowMs) through
// short scripted sequences, table-driven where rules vary by one input, and check every field.
import test, { type ExecutionContext } from "ava";
import {
  type ErrorCode,
  type EtcdError,
  GrpcStatus,
  type LeaseId,
  type PfsError,
  Prng,
  type Result,
  leaseId,
  limits,
} from "../../../pkg/common/index.js";
import { crc32 } from "node:zlib";
import {
  LeaseManager,
  MvccStore,
  chooseLeaseId,
  leaseTtlSecondsMin,
  putRequest,
} from "../../../pkg/etcdserver/index.js";

const S = GrpcStatus;
const b = (text: string): Uint8Array => Buffer.from(text, "latin1");
const text = (keys: readonly Uint8Array[]): string[] =>
  keys.map((key) => Buffer.from(key).toString("latin1"));
const id = (value: number | bigint): LeaseId => leaseId(BigInt(value));
const newManager = (): LeaseManager => new LeaseManager({ ttlSecondsMin: 2 });

function must<T>(t: ExecutionContext, result: Result<T, EtcdError | PfsError>): T {
  if (!result.ok) {
    const { code, message } = result.error;
    t.fail(`unexpected error ${code}: ${message}`);
    throw new Error(message);
  }
  return result.value;
}

function mustFail<T>(
  t: ExecutionContext,
  result: Result<T, EtcdError | PfsError>,
  code: ErrorCode,
  status: GrpcStatus,
  message?: string,
): void {
  if (result.ok) {
    t.fail(`expected ${code}, got success`);
    return;
  }
  t.is(result.error.code, code);
  t.is(result.error.status, status);
  if (message !== undefined) t.is(result.error.message, message);
}

test("minimum TTL is ceil(1.5 × election timeout): 2 s at etcd's 1000 ms", (t) => {
  const table: [number, number][] = [[1000, 2], [100, 1], [500, 1], [2000, 3], [3000, 5]];
  for (const [electionMs, seconds] of table) {
    t.is(leaseTtlSecondsMin(electionMs), seconds, `election ${electionMs} ms`);
  }
});

test("grant raises short TTLs to the minimum and keeps longer ones", (t) => {
  const table: [bigint, number][] = [
    [-5n, 2], [0n, 2], [1n, 2], [2n, 2], [3n, 3], [60n, 60],
    [BigInt(limits.etcdLeaseTtlSecondsMax), limits.etcdLeaseTtlSecondsMax],
  ];
  const manager = newManager();
  for (const [index, [requested, granted]] of table.entries()) {
    const grant = must(t, manager.grant(id(index + 1), requested, 0));
    t.deepEqual(grant, { id: id(index + 1), ttlSeconds: granted }, `TTL ${requested}`);
    t.is(manager.timeToLive(id(index + 1), false, 0).grantedTtlSeconds, granted);
  }
});

test("grant above 9e9 s fails with OutOfRange 'etcdserver: too large lease TTL'", (t) => {
  const manager = newManager();
  for (const ttl of [9_000_000_001n, 1n << 62n]) {
    mustFail(t, manager.grant(id(1), ttl, 0), "ETCD_LEASE_TTL_TOO_LARGE", S.OUT_OF_RANGE,
      "etcdserver: too large lease TTL");
  }
  t.false(manager.leaseExists(id(1)), "a refused grant creates nothing");
});

test("grant of a live id fails with FailedPrecondition 'etcdserver: lease already exists'", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(7), 10n, 0));
  mustFail(t, manager.grant(id(7), 30n, 0), "ETCD_LEASE_EXIST", S.FAILED_PRECONDITION,
    "etcdserver: lease already exists");
  t.is(manager.timeToLive(id(7), false, 0).grantedTtlSeconds, 10, "the first grant stands");
  must(t, manager.revoke(id(7)));
  t.deepEqual(must(t, manager.grant(id(7), 30n, 0)), { id: id(7), ttlSeconds: 30 },
    "a revoked id may be granted again");
});

test("negative and extreme int64 ids are accepted", (t) => {
  const manager = newManager();
  for (const value of [-1n, -(1n << 63n), (1n << 63n) - 1n]) {
    must(t, manager.grant(id(value), 5n, 0));
    t.true(manager.leaseExists(id(value)), `lease ${value}`);
  }
  t.is(manager.size, 3);
});

test("grant with id 0 is a programmer error: the proposer chooses the id", (t) => {
  t.throws(() => newManager().grant(id(0), 5n, 0), { message: /id 0/ });
});

test("chooseLeaseId returns positive, non-zero ids that are not in use", (t) => {
  const prng = new Prng(42);
  const used = new Set<bigint>();
  for (let i = 0; i < 2000; i += 1) {
    const chosen = chooseLeaseId(prng, (candidate) => used.has(candidate));
    t.true(chosen > 0n && chosen < 1n << 63n, `id ${chosen}`);
    t.false(used.has(chosen), `id ${chosen} collided`);
    used.add(chosen);
  }
});

test("chooseLeaseId skips taken ids and is deterministic per seed", (t) => {
  const first = chooseLeaseId(new Prng(9), () => false);
  t.is(chooseLeaseId(new Prng(9), () => false), first, "same seed, same id");
  const second = chooseLeaseId(new Prng(9), (candidate) => candidate === first);
  t.not(second, first);
  t.true(second > 0n);
  t.throws(() => chooseLeaseId(new Prng(9), () => true), { message: /no free lease id/ });
});

test("revoke returns the attached keys sorted bytewise and forgets the lease", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 10n, 0));
  for (const key of ["b", "a\xff", "a", "c", "a\x00"]) manager.attach(b(key), id(1));
  t.deepEqual(text(must(t, manager.revoke(id(1)))), ["a", "a\x00", "a\xff", "b", "c"]);
  t.false(manager.leaseExists(id(1)));
  t.is(manager.leaseOf(b("a")), id(0), "the keys left the key index");
  t.deepEqual(manager.leases(), []);
  mustFail(t, manager.revoke(id(1)), "ETCD_LEASE_NOT_FOUND", S.NOT_FOUND,
    "etcdserver: requested lease not found");
});

test("revoke of a lease without keys returns no keys", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(3), 10n, 0));
  t.deepEqual(must(t, manager.revoke(id(3))), []);
});

test("attach and detach keep the lease's keys; re-attaching moves a key", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 10n, 0));
  must(t, manager.grant(id(2), 10n, 0));
  manager.attach(b("k"), id(1));
  manager.attach(b("k"), id(1));
  t.deepEqual(text(manager.timeToLive(id(1), true, 0).keys), ["k"], "re-attach is idempotent");
  manager.attach(b("k"), id(2));
  t.deepEqual(text(manager.timeToLive(id(1), true, 0).keys), [], "moved off lease 1");
  t.deepEqual(text(manager.timeToLive(id(2), true, 0).keys), ["k"]);
  t.is(manager.leaseOf(b("k")), id(2));
  manager.detach(b("k"));
  manager.detach(b("never-attached"));
  t.deepEqual(text(manager.timeToLive(id(2), true, 0).keys), []);
  t.is(manager.leaseOf(b("k")), id(0));
  t.deepEqual(must(t, manager.revoke(id(2))), [], "a detached key is not deleted by revoke");
  t.throws(() => { manager.attach(b("k"), id(9)); }, { message: /missing lease 9/ });
});

test("timeToLive rounds remaining seconds down; keys only when asked", (t) => {
  const manager = newManager();
  manager.promote(0, 0);
  must(t, manager.grant(id(5), 5n, 1000));
  manager.attach(b("x"), id(5));
  const table: [number, number][] = [
    [1000, 5], [1001, 4], [1999, 4], [2000, 4], [2001, 3], [5999, 0], [6000, 0], [9000, 0],
  ];
  for (const [nowMs, remaining] of table) {
    const answer = manager.timeToLive(id(5), false, nowMs);
    t.deepEqual(answer, { id: id(5), ttlSeconds: remaining, grantedTtlSeconds: 5, keys: [] },
      `at ${nowMs} ms`);
  }
  t.deepEqual(text(manager.timeToLive(id(5), true, 1001).keys), ["x"]);
});

test("timeToLive of a missing lease succeeds with TTL -1 and granted TTL 0", (t) => {
  const manager = newManager();
  t.deepEqual(manager.timeToLive(id(77), true, 0),
    { id: id(77), ttlSeconds: -1, grantedTtlSeconds: 0, keys: [] });
});

test("a follower keeps no clock: remaining TTL is the granted TTL, nothing expires", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 5n, 0));
  t.false(manager.leading);
  t.is(manager.timeToLive(id(1), false, 60_000).ttlSeconds, 5);
  t.deepEqual(manager.expired(60_000, 10), []);
  t.throws(() => manager.renew(id(1), 0), { message: /renewed on a follower/ });
});

test("renew: granted TTL from now; 0 for missing and for expired leases awaiting revoke", (t) => {
  const manager = newManager();
  manager.promote(0, 0);
  must(t, manager.grant(id(1), 10n, 0));
  t.is(manager.renew(id(1), 8000), 10);
  t.is(manager.timeToLive(id(1), false, 8000).ttlSeconds, 10, "renewed from 8 s");
  t.deepEqual(manager.expired(17_999, 10), [], "deadline is 18 s");
  t.deepEqual(manager.expired(18_000, 10), [id(1)], "expired at its deadline");
  t.is(manager.renew(id(1), 18_001), 0, "an expired lease awaiting revoke renews to 0");
  t.is(manager.timeToLive(id(1), false, 18_001).ttlSeconds, 0);
  must(t, manager.revoke(id(1)));
  t.is(manager.renew(id(1), 18_002), 0, "a revoked lease renews to 0");
  t.is(manager.renew(id(404), 0), 0, "a missing lease renews to 0");
});

test("expired: earliest first, ties by id, reported once until the retry interval", (t) => {
  const manager = newManager();
  manager.promote(0, 0);
  must(t, manager.grant(id(3), 5n, 0));
  must(t, manager.grant(id(-2), 5n, 0));
  must(t, manager.grant(id(1), 3n, 0));
  must(t, manager.grant(id(9), 60n, 0));
  t.deepEqual(manager.leases(), [id(1), id(-2), id(3), id(9)], "leases sorted by expiry");
  t.deepEqual(manager.expired(4000, 10), [id(1)]);
  t.deepEqual(manager.expired(5000, 10), [id(-2), id(3)], "lease 1's revoke is in flight");
  t.deepEqual(manager.expired(4000 + limits.etcdLeaseRevokeRetryMs - 1, 10), []);
  t.deepEqual(manager.expired(4000 + limits.etcdLeaseRevokeRetryMs, 10), [id(1)],
    "a revoke that never applied is proposed again");
  must(t, manager.revoke(id(-2)));
  must(t, manager.revoke(id(3)));
  t.deepEqual(manager.expired(5000 + limits.etcdLeaseRevokeRetryMs, 10), [], "revoked: gone");
});

test("expired batches are bounded by max and by etcdLeaseRevokeBatchMax", (t) => {
  const manager = newManager();
  manager.promote(0, 0);
  for (let i = 1; i <= 25; i += 1) must(t, manager.grant(id(i), BigInt(i + 1), 0));
  const seen: LeaseId[] = [];
  for (let round = 0; round < 4; round += 1) {
    const batch = manager.expired(100_000, 10);
    t.true(batch.length <= 10, `batch of ${batch.length}`);
    seen.push(...batch);
  }
  t.deepEqual(seen, Array.from({ length: 25 }, (_, i) => id(i + 1)), "all, once, in order");
  t.throws(() => manager.expired(0, limits.etcdLeaseRevokeBatchMax + 1), { message: /max/ });
  t.throws(() => manager.expired(0, 0), { message: /max/ });
});

test("promote gives every lease its full TTL plus the extension; demote drops the clock", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 5n, 0));
  must(t, manager.grant(id(2), 10n, 0));
  manager.promote(100_000, 1000);
  t.true(manager.leading);
  t.is(manager.timeToLive(id(1), false, 100_000).ttlSeconds, 6, "5 s + 1 s extension");
  t.deepEqual(manager.expired(105_999, 10), [], "not early");
  t.deepEqual(manager.expired(106_000, 10), [id(1)]);
  manager.demote();
  t.false(manager.leading);
  t.deepEqual(manager.expired(1_000_000, 10), []);
  t.is(manager.timeToLive(id(2), false, 1_000_000).ttlSeconds, 10);
  manager.promote(200_000, 1000);
  t.deepEqual(manager.expired(200_000 + 5999, 10), [], "a new term restarts even lease 1");
  t.is(manager.renew(id(1), 200_000), 5, "and clears its expired mark");
});

test("snapshot round-trips exactly and restores as a follower", (t) => {
  const manager = newManager();
  manager.promote(0, 0);
  must(t, manager.grant(id(-4), 7n, 0));
  must(t, manager.grant(id(12), 3n, 0));
  must(t, manager.grant(id(1n << 40n), 9n, 0));
  manager.attach(b("z"), id(12));
  manager.attach(b("a\xff"), id(12));
  manager.attach(b("m"), id(-4));
  const bytes = manager.snapshot();
  const restored = must(t, LeaseManager.restore(bytes, { ttlSecondsMin: 2 }));
  t.false(restored.leading);
  t.deepEqual(restored.snapshot(), bytes, "byte-identical");
  t.deepEqual(restored.leases(), [id(-4), id(12), id(1n << 40n)]);
  t.deepEqual(restored.timeToLive(id(12), true, 0),
    { id: id(12), ttlSeconds: 3, grantedTtlSeconds: 3, keys: [b("a\xff"), b("z")] });
  t.is(restored.leaseOf(b("m")), id(-4));
  const empty = must(t, LeaseManager.restore(newManager().snapshot(), { ttlSecondsMin: 2 }));
  t.is(empty.size, 0);
});

test("a corrupt snapshot is refused with DATA_CORRUPTED", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 5n, 0));
  manager.attach(b("k"), id(1));
  const bytes = manager.snapshot();
  const options = { ttlSecondsMin: 2 };
  for (let at = 0; at < bytes.length; at += 1) {
    const flipped = Uint8Array.from(bytes);
    flipped[at] = (flipped[at] ?? 0) ^ 0x10;
    mustFail(t, LeaseManager.restore(flipped, options), "DATA_CORRUPTED", S.DATA_LOSS);
  }
  for (const length of [0, 5, bytes.length - 1]) {
    mustFail(t, LeaseManager.restore(bytes.subarray(0, length), options), "DATA_CORRUPTED",
      S.DATA_LOSS);
  }
});

test("a snapshot whose checksum is right but holds one key in two leases is refused", (t) => {
  const manager = newManager();
  must(t, manager.grant(id(1), 5n, 0));
  must(t, manager.grant(id(2), 5n, 0));
  manager.attach(b("k"), id(1));
  manager.attach(b("j"), id(2));
  const bytes = Buffer.from(manager.snapshot());
  const at = bytes.lastIndexOf(Buffer.from("j"));
  bytes[at] = "k".charCodeAt(0);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
  mustFail(t, LeaseManager.restore(bytes, { ttlSecondsMin: 2 }), "DATA_CORRUPTED", S.DATA_LOSS,
    "lease snapshot key in two leases");
});

test("with the MVCC store: a revoke deletes every attached key at one revision", (t) => {
  const manager = newManager();
  const store = new MvccStore(manager);
  must(t, manager.grant(id(6), 10n, 0));
  for (const key of ["b", "a", "c"]) {
    must(t, store.put(putRequest({ key: b(key), value: b("v"), lease: id(6) })));
    manager.attach(b(key), id(6));
  }
  must(t, store.put(putRequest({ key: b("c"), value: b("v") })));
  manager.detach(b("c"));
  const before = store.revision;
  const keys = must(t, manager.revoke(id(6)));
  t.deepEqual(text(keys), ["a", "b"]);
  t.deepEqual(text(store.keysAttachedTo(id(6))), text(keys), "same index as the store's");
  const deleted = store.deleteKeys(keys);
  t.deepEqual(deleted.response, { revision: before + 1, deleted: 2 });
  t.deepEqual(deleted.events.map((event) => [event.type, text([event.kv.key])[0]]),
    [["DELETE", "a"], ["DELETE", "b"]]);
  mustFail(t, store.put(putRequest({ key: b("d"), value: b("v"), lease: id(6) })),
    "ETCD_LEASE_NOT_FOUND", S.NOT_FOUND, "etcdserver: requested lease not found");
});
