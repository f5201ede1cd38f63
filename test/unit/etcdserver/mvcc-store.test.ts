// Goal: every Range, Put, DeleteRange and Compact rule of etcd-api.md §4-5, one test per rule,
// each error with etcd's exact text and gRPC status. Method: drive a fresh MvccStore through
// short scripted histories and check the responses field by field. (Txn rules are in
// mvcc-txn.test.ts; the differential test checks the same rules against a real etcd.)
import test from "ava";
import { GrpcStatus, Prng, leaseId } from "../../../pkg/common/index.js";
import {
  deleteRangeRequest,
  putRequest,
  rangeRequest,
  type RangeRequest,
} from "../../../pkg/etcdserver/index.js";
import { b, keysOf, liveLease, missingLease, must, mustFail, newStore } from "./store-fixture.js";

const S = GrpcStatus;

test("a fresh store is at revision 1; each put adds one; versions and create revisions", (t) => {
  const store = newStore();
  t.is(store.revision, 1);
  const first = must(t, store.put(putRequest({ key: b("k"), value: b("1") })));
  t.is(Number(first.response.header.revision), 2);
  must(t, store.put(putRequest({ key: b("k"), value: b("2") })));
  let kv = must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0];
  t.like(kv, { createRevision: 2, modRevision: 3, version: 2, lease: 0n });
  t.is(Buffer.from(kv?.value ?? []).toString(), "2");
  must(t, store.deleteRange(deleteRangeRequest({ key: b("k") })));
  must(t, store.put(putRequest({ key: b("k"), value: b("3") })));
  kv = must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0];
  t.like(kv, { createRevision: 5, modRevision: 5, version: 1 }, "a delete restarts the version");
  t.is(store.revision, 5);
});

function seeded(): ReturnType<typeof newStore> {
  const store = newStore();
  for (const key of ["a", "a\x00", "ab", "b", "c\xff", "d"]) {
    store.put(putRequest({ key: b(key), value: b(`v-${key}`) }));
  }
  return store;
}

const rangeEndCases: readonly [string, string, string, string[]][] = [
  ["empty range_end: the key alone", "ab", "", ["ab"]],
  ["missing key alone: empty", "zz", "", []],
  ["\\0: every key >= key", "b", "\x00", ["b", "c\xff", "d"]],
  ["key \\0 and range_end \\0: all keys", "\x00", "\x00", ["a", "a\x00", "ab", "b", "c\xff", "d"]],
  ["half-open [a, b)", "a", "b", ["a", "a\x00", "ab"]],
  ["range_end == key: empty", "b", "b", []],
  ["range_end < key: empty, no error", "d", "a", []],
  ["prefix c\\xff → d", "c\xff", "d", ["c\xff"]],
  ["bytes order unsigned: \\xff sorts last", "c", "c\xff\xff", ["c\xff"]],
];

for (const [name, key, rangeEnd, expected] of rangeEndCases) {
  test(`range: ${name}`, (t) => {
    const response = must(t, seeded().range(rangeRequest({ key: b(key), rangeEnd: b(rangeEnd) })));
    t.deepEqual(keysOf(response.kvs), expected);
    t.is(response.count, expected.length);
  });
}

test("range: empty key is refused with etcd's text", (t) => {
  mustFail(t, newStore().range(rangeRequest({ key: b("") })), "ETCD_KEY_NOT_PROVIDED",
    "etcdserver: key is not provided", S.INVALID_ARGUMENT);
});

test("range: historical revisions, future and compacted revisions, header = current", (t) => {
  const store = newStore();
  for (const value of ["1", "2", "3"]) store.put(putRequest({ key: b("k"), value: b(value) }));
  const at3 = must(t, store.range(rangeRequest({ key: b("k"), revision: 3 })));
  t.is(Buffer.from(at3.kvs[0]?.value ?? []).toString(), "2");
  t.is(Number(at3.header.revision), 4, "header carries the current revision, not the requested one");
  t.deepEqual(must(t, store.range(rangeRequest({ key: b("k"), revision: 1 }))).kvs, []);
  t.is(must(t, store.range(rangeRequest({ key: b("k"), revision: -5 }))).kvs[0]?.modRevision as number, 4);
  mustFail(t, store.range(rangeRequest({ key: b("k"), revision: 5 })), "ETCD_FUTURE_REV",
    "etcdserver: mvcc: required revision is a future revision", S.OUT_OF_RANGE);
  must(t, store.compact({ revision: 3, physical: false }));
  mustFail(t, store.range(rangeRequest({ key: b("k"), revision: 2 })), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", S.OUT_OF_RANGE);
  const atCompaction = must(t, store.range(rangeRequest({ key: b("k"), revision: 3 })));
  t.is(Buffer.from(atCompaction.kvs[0]?.value ?? []).toString(), "2", "compaction rev readable");
});

function rangeOf(fields: Partial<RangeRequest>): RangeRequest {
  return rangeRequest({ key: b("\x00"), rangeEnd: b("\x00"), ...fields });
}

test("range: count is taken before the min/max filters and the limit; more", (t) => {
  const store = newStore();
  for (const key of ["a", "b", "c", "d"]) store.put(putRequest({ key: b(key) })); // revs 2-5
  const filtered = must(t, store.range(rangeOf({ minModRevision: 3, maxModRevision: 4 })));
  t.deepEqual(keysOf(filtered.kvs), ["b", "c"]);
  t.is(filtered.count, 4);
  const created = must(t, store.range(rangeOf({ minCreateRevision: 4, maxCreateRevision: 9 })));
  t.deepEqual(keysOf(created.kvs), ["c", "d"]);
  const limited = must(t, store.range(rangeOf({ limit: 3 })));
  t.deepEqual(keysOf(limited.kvs), ["a", "b", "c"]);
  t.true(limited.more);
  t.is(limited.count, 4);
  t.false(must(t, store.range(rangeOf({ limit: 4 }))).more);
  t.false(must(t, store.range(rangeOf({ limit: -1 }))).more, "a negative limit is no limit");
  const both = must(t, store.range(rangeOf({ limit: 1, minModRevision: 3 })));
  t.deepEqual(keysOf(both.kvs), ["b"]);
  t.true(both.more);
});

test("range: keys_only drops only values; count_only gives the count and no kvs", (t) => {
  const store = seeded();
  const keysOnly = must(t, store.range(rangeOf({ keysOnly: true })));
  t.is(keysOnly.kvs.length, 6);
  t.true(keysOnly.kvs.every((kv) => kv.value.length === 0 && kv.version === 1));
  const countOnly = must(t, store.range(rangeOf({ countOnly: true, limit: 1 })));
  t.deepEqual(countOnly.kvs, []);
  t.is(countOnly.count, 6);
  t.false(countOnly.more);
});

test("range: sort orders and targets; target other than KEY with NONE sorts ASCEND", (t) => {
  const store = newStore();
  store.put(putRequest({ key: b("a"), value: b("3") })); // rev 2
  store.put(putRequest({ key: b("b"), value: b("1") })); // rev 3
  store.put(putRequest({ key: b("c"), value: b("2") })); // rev 4
  store.put(putRequest({ key: b("a"), value: b("3") })); // rev 5: a version 2
  const order = (fields: Partial<RangeRequest>): string[] =>
    keysOf(must(t, store.range(rangeOf(fields))).kvs);
  t.deepEqual(order({ sortOrder: "DESCEND", sortTarget: "KEY" }), ["c", "b", "a"]);
  t.deepEqual(order({ sortOrder: "ASCEND", sortTarget: "VALUE" }), ["b", "c", "a"]);
  t.deepEqual(order({ sortOrder: "NONE", sortTarget: "VALUE" }), ["b", "c", "a"]);
  t.deepEqual(order({ sortOrder: "DESCEND", sortTarget: "MOD" }), ["a", "c", "b"]);
  t.deepEqual(order({ sortOrder: "ASCEND", sortTarget: "CREATE" }), ["a", "b", "c"]);
  t.deepEqual(order({ sortOrder: "DESCEND", sortTarget: "VERSION" }), ["a", "b", "c"],
    "ties keep key order");
  t.deepEqual(order({ sortOrder: "ASCEND", sortTarget: "VALUE", limit: 2 }), ["b", "c"]);
});

test("range: with order NONE and a limit, etcd sorts only the first limit + 1 keys", (t) => {
  const store = newStore();
  for (const [key, value] of [["a", "9"], ["b", "8"], ["c", "7"], ["d", "1"]]) {
    store.put(putRequest({ key: b(key ?? ""), value: b(value ?? "") }));
  }
  const response = must(t, store.range(rangeOf({ sortTarget: "VALUE", limit: 2 })));
  t.deepEqual(keysOf(response.kvs), ["c", "b"], "sorted among a, b, c only (observed)");
  t.true(response.more);
});

test("put: a missing lease is refused; a lease is attached and replaced or detached", (t) => {
  const store = newStore();
  mustFail(t, store.put(putRequest({ key: b("k"), lease: missingLease })),
    "ETCD_LEASE_NOT_FOUND", "etcdserver: requested lease not found", S.NOT_FOUND);
  t.is(store.revision, 1, "a refused put changes nothing");
  must(t, store.put(putRequest({ key: b("k"), lease: liveLease })));
  t.is(must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0]?.lease, liveLease);
  t.deepEqual(store.keysAttachedTo(liveLease).map((key) => Buffer.from(key).toString()), ["k"]);
  must(t, store.put(putRequest({ key: b("k") })));
  t.is(must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0]?.lease, leaseId(0n));
  t.deepEqual(store.keysAttachedTo(liveLease), []);
});

test("put: prev_kv returns the earlier version only when asked and when there was one", (t) => {
  const store = newStore();
  t.is(must(t, store.put(putRequest({ key: b("k"), prevKv: true }))).response.prevKv, undefined);
  const second = must(t, store.put(putRequest({ key: b("k"), value: b("2"), prevKv: true })));
  t.like(second.response.prevKv, { modRevision: 2, version: 1 });
  t.is(must(t, store.put(putRequest({ key: b("k") }))).response.prevKv, undefined);
});

test("put: ignore_value and ignore_lease keep the current value and lease", (t) => {
  const store = newStore();
  store.put(putRequest({ key: b("k"), value: b("v"), lease: liveLease }));
  must(t, store.put(putRequest({ key: b("k"), ignoreValue: true })));
  let kv = must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0];
  t.like(kv, { version: 2, lease: 0n });
  t.is(Buffer.from(kv?.value ?? []).toString(), "v");
  store.put(putRequest({ key: b("k"), value: b("w"), lease: liveLease }));
  must(t, store.put(putRequest({ key: b("k"), value: b("x"), ignoreLease: true })));
  kv = must(t, store.range(rangeRequest({ key: b("k") }))).kvs[0];
  t.like(kv, { version: 4, lease: liveLease });
  t.is(Buffer.from(kv?.value ?? []).toString(), "x");
});

test("put: the errors of ignore_value/ignore_lease and of an empty key, in etcd's order", (t) => {
  const store = newStore();
  mustFail(t, store.put(putRequest({ key: b("") })), "ETCD_KEY_NOT_PROVIDED",
    "etcdserver: key is not provided", S.INVALID_ARGUMENT);
  mustFail(t, store.put(putRequest({ key: b("k"), ignoreValue: true, value: b("v") })),
    "ETCD_VALUE_PROVIDED", "etcdserver: value is provided", S.INVALID_ARGUMENT);
  mustFail(t, store.put(putRequest({ key: b("k"), ignoreLease: true, lease: liveLease })),
    "ETCD_LEASE_PROVIDED", "etcdserver: lease is provided", S.INVALID_ARGUMENT);
  mustFail(t, store.put(putRequest({ key: b("k"), ignoreValue: true })), "ETCD_KEY_NOT_FOUND",
    "etcdserver: key not found", S.INVALID_ARGUMENT);
  mustFail(t, store.put(putRequest({ key: b("k"), ignoreValue: true, lease: missingLease })),
    "ETCD_LEASE_NOT_FOUND", "etcdserver: requested lease not found", S.NOT_FOUND,
  );
  t.is(store.revision, 1);
});

test("delete range: deleted count, prev_kvs in key order, one revision for all", (t) => {
  const store = seeded();
  const applied = must(t, store.deleteRange(deleteRangeRequest({
    key: b("a"), rangeEnd: b("b"), prevKv: true,
  })));
  t.is(applied.response.deleted, 3);
  t.deepEqual(keysOf(applied.response.prevKvs), ["a", "a\x00", "ab"]);
  t.is(Number(applied.response.header.revision), 8);
  t.is(store.revision, 8);
  t.deepEqual(applied.events.map((event) => [event.type, event.kv.modRevision]),
    [["DELETE", 8], ["DELETE", 8], ["DELETE", 8]]);
  const quiet = must(t, store.deleteRange(deleteRangeRequest({ key: b("a"), rangeEnd: b("b") })));
  t.deepEqual(quiet.response.prevKvs, [], "prev_kvs only when asked");
  t.is(quiet.response.deleted, 0);
  t.is(Number(quiet.response.header.revision), 8, "deleting nothing leaves the revision unchanged");
  t.is(store.revision, 8);
  mustFail(t, store.deleteRange(deleteRangeRequest({ key: b("") })), "ETCD_KEY_NOT_PROVIDED",
    "etcdserver: key is not provided", S.INVALID_ARGUMENT);
});

test("compact: errors, header, history kept for the latest versions", (t) => {
  const store = newStore();
  must(t, store.compact({ revision: 0, physical: false }));
  mustFail(t, store.compact({ revision: 0, physical: false }), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", S.OUT_OF_RANGE);
  store.put(putRequest({ key: b("a"), value: b("1") })); // 2
  store.put(putRequest({ key: b("b"), value: b("1") })); // 3
  store.deleteRange(deleteRangeRequest({ key: b("b") })); // 4
  store.put(putRequest({ key: b("a"), value: b("2") })); // 5
  mustFail(t, store.compact({ revision: 6, physical: true }), "ETCD_FUTURE_REV",
    "etcdserver: mvcc: required revision is a future revision", S.OUT_OF_RANGE);
  const response = must(t, store.compact({ revision: 4, physical: true }));
  t.is(Number(response.header.revision), 5);
  t.is(store.revision, 5, "compaction does not change the revision");
  t.is(store.compactRevision, 4);
  mustFail(t, store.compact({ revision: 4, physical: false }), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", S.OUT_OF_RANGE);
  const at4 = must(t, store.range(rangeOf({ revision: 4 })));
  t.deepEqual(keysOf(at4.kvs), ["a"]);
  t.is(Buffer.from(at4.kvs[0]?.value ?? []).toString(), "1");
  t.is(store.index.size, 1, "a key deleted at or below the compaction revision is gone");
  t.deepEqual(keysOf(must(t, store.range(rangeOf({}))).kvs), ["a"]);
});

test("many keys: the chunked index stays sorted through inserts, ranges and compaction", (t) => {
  // Enough keys, inserted in random order, to split index chunks many times.
  const prng = new Prng(5);
  const store = newStore();
  const names = new Set<string>();
  for (let i = 0; i < 5000; i += 1) {
    const name = `k${prng.intBelow(4000).toString(16)}${prng.chance(0.5) ? "\xff" : ""}`;
    names.add(name);
    store.put(putRequest({ key: b(name) }));
  }
  const sorted = [...names].sort();
  t.deepEqual(keysOf(must(t, store.range(rangeOf({}))).kvs), sorted);
  const [low, high] = ["k2", "k8\xff"];
  const inRange = must(t, store.range(rangeRequest({ key: b(low), rangeEnd: b(high) })));
  t.deepEqual(keysOf(inRange.kvs), sorted.filter((name) => name >= low && name < high));
  for (const name of sorted.filter((_, i) => i % 2 === 0)) {
    store.deleteRange(deleteRangeRequest({ key: b(name) }));
  }
  must(t, store.compact({ revision: store.revision, physical: false }));
  t.is(store.index.size, Math.floor(sorted.length / 2));
  t.deepEqual(keysOf(must(t, store.range(rangeOf({}))).kvs), sorted.filter((_, i) => i % 2 === 1));
  for (const name of sorted.slice(0, 50)) store.put(putRequest({ key: b(name) }));
  t.deepEqual(keysOf(must(t, store.range(rangeOf({ limit: 50 }))).kvs), sorted.slice(0, 50));
});
