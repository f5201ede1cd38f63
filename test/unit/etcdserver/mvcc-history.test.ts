// Goal: the history the store keeps beyond current reads: the event log for watch replay
// (grouping by revision, sub-revision order, DELETE and PUT event shapes, prev_kv as of revision
// - 1, batching, compaction), lease revokes through deleteKeys, the HashKV hash and the binary
// snapshot (exact round trip including history and compaction revision; corruption refused).
import test from "ava";
import { GrpcStatus, leaseId } from "../../../pkg/common/index.js";
import {
  MvccStore,
  deleteRangeRequest,
  putRequest,
  rangeRequest,
} from "../../../pkg/etcdserver/index.js";
import { b, keysOf, liveLease, must, mustFail, newStore } from "./store-fixture.js";

/** rev 2 put a=1; 3 put b=1 (lease); 4 put a=2; 5 txn delete a + put c; 6 delete b. */
function history(): MvccStore {
  const store = newStore();
  store.put(putRequest({ key: b("a"), value: b("1") }));
  store.put(putRequest({ key: b("b"), value: b("1"), lease: liveLease }));
  store.put(putRequest({ key: b("a"), value: b("2") }));
  store.txn({
    compare: [],
    success: [
      { type: "deleteRange", request: deleteRangeRequest({ key: b("a") }) },
      { type: "put", request: putRequest({ key: b("c"), value: b("1") }) },
    ],
    failure: [],
  });
  store.deleteRange(deleteRangeRequest({ key: b("b") }));
  return store;
}

test("events: grouped by revision in sub-revision order; DELETE carries key and mod only", (t) => {
  const groups = must(t, history().events(1, 100, false));
  t.deepEqual(groups.map((group) => [group.revision as number,
    group.events.map((event) => `${event.type} ${Buffer.from(event.kv.key).toString()}`)]), [
    [2, ["PUT a"]], [3, ["PUT b"]], [4, ["PUT a"]], [5, ["DELETE a", "PUT c"]], [6, ["DELETE b"]],
  ]);
  const deleted = groups[3]?.events[0];
  t.like(deleted?.kv, { createRevision: 0, modRevision: 5, version: 0, lease: 0n });
  t.is(deleted?.kv.value.length, 0);
  t.like(groups[2]?.events[0]?.kv, { createRevision: 2, modRevision: 4, version: 2 });
  t.is(groups[0]?.events[0]?.prevKv, undefined, "no prev_kv unless asked");
});

test("events: prev_kv is the key as of revision - 1, absent on creates", (t) => {
  const groups = must(t, history().events(2, 100, true));
  const prev = groups.map((group) => group.events.map((event) =>
    event.prevKv === undefined ? null : Buffer.from(event.prevKv.value).toString()));
  t.deepEqual(prev, [[null], [null], ["1"], ["2", null], ["1"]]);
});

test("events: batches of whole revisions from a start revision", (t) => {
  const store = history();
  t.deepEqual(must(t, store.events(4, 2, false)).map((g) => g.revision as number), [4, 5]);
  t.deepEqual(must(t, store.events(5, 1, false))[0]?.events.length, 2, "a revision is never split");
  t.deepEqual(must(t, store.events(7, 10, false)), []);
});

test("events: compaction drops older writes; the compaction revision keeps its live puts", (t) => {
  const store = history();
  must(t, store.compact({ revision: 5, physical: false }));
  mustFail(t, store.events(4, 10, false), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", GrpcStatus.OUT_OF_RANGE);
  const groups = must(t, store.events(5, 10, true));
  t.deepEqual(groups.map((g) => [g.revision as number, g.events.map((e) => e.type)]),
    [[5, ["PUT"]], [6, ["DELETE"]]]);
  t.like(groups[1]?.events[0]?.prevKv, { modRevision: 3 }, "prev_kv at 5 is still readable");
});

test("deleteKeys (lease revoke): sorted key order, one revision, absent keys skipped", (t) => {
  const store = newStore();
  for (const key of ["x", "m", "z"]) store.put(putRequest({ key: b(key), lease: liveLease }));
  const keys = store.keysAttachedTo(liveLease);
  t.deepEqual(keys.map((key) => Buffer.from(key).toString()), ["m", "x", "z"]);
  const applied = store.deleteKeys([b("z"), b("absent"), b("m"), b("x")]);
  t.deepEqual(applied.response, { revision: 5, deleted: 3 });
  t.deepEqual(applied.events.map((e) => Buffer.from(e.kv.key).toString()), ["m", "x", "z"]);
  t.true(applied.events.every((e) => e.type === "DELETE" && e.kv.modRevision === 5));
  t.deepEqual(store.deleteKeys([b("m")]).response, { revision: 5, deleted: 0 });
  t.deepEqual(store.keysAttachedTo(liveLease), []);
});

test("hashKv: equal for equal histories, changed by a write, fixed for a past revision", (t) => {
  const first = history();
  const second = history();
  t.deepEqual(must(t, first.hashKv(0)), must(t, second.hashKv(0)));
  const at4 = must(t, first.hashKv(4));
  t.is(at4.revision, 4);
  t.is(at4.compactRevision, -1);
  first.put(putRequest({ key: b("d") }));
  t.notDeepEqual(must(t, first.hashKv(0)).hash, must(t, second.hashKv(0)).hash);
  t.deepEqual(must(t, first.hashKv(4)), at4, "later writes do not change a past hash");
  mustFail(t, first.hashKv(99), "ETCD_FUTURE_REV",
    "etcdserver: mvcc: required revision is a future revision", GrpcStatus.OUT_OF_RANGE);
  must(t, first.compact({ revision: 5, physical: false }));
  t.is(must(t, first.hashKv(0)).compactRevision, 5);
});

test("snapshot: restore answers every read and replay identically, and re-encodes the same", (t) => {
  const store = history();
  store.put(putRequest({ key: b("big\xff"), value: Buffer.alloc(3000, 7), lease: leaseId(-(2n ** 63n)) }));
  must(t, store.compact({ revision: 3, physical: false }));
  const bytes = store.snapshot();
  const restored = must(t, MvccStore.restore(bytes, { leaseExists: () => true }));
  t.deepEqual(Buffer.from(restored.snapshot()), Buffer.from(bytes));
  t.is(restored.revision, store.revision);
  t.is(restored.compactRevision, 3);
  for (let at = 3; at <= store.revision; at += 1) {
    const request = rangeRequest({ key: b("\x00"), rangeEnd: b("\x00"), revision: at });
    t.deepEqual(must(t, restored.range(request)), must(t, store.range(request)), `revision ${at}`);
  }
  t.deepEqual(must(t, restored.events(3, 100, true)), must(t, store.events(3, 100, true)));
  t.deepEqual(must(t, restored.hashKv(0)), must(t, store.hashKv(0)));
  t.false(restored.range(rangeRequest({ key: b("a"), revision: 2 })).ok);
  must(t, restored.put(putRequest({ key: b("a") })));
  t.deepEqual(keysOf(must(t, restored.range(rangeRequest({ key: b("a") }))).kvs), ["a"]);
});

test("snapshot: a flipped byte, truncation or an unknown format is DATA_CORRUPTED", (t) => {
  const bytes = Buffer.from(history().snapshot());
  const flipped = Buffer.from(bytes);
  flipped[20] = (flipped[20] ?? 0) ^ 1;
  for (const [name, corrupt] of [
    ["flipped", flipped], ["truncated", bytes.subarray(0, bytes.length - 9)], ["empty", Buffer.alloc(0)],
  ] as const) {
    const result = MvccStore.restore(corrupt, { leaseExists: () => true });
    t.false(result.ok, name);
    if (!result.ok) t.is(result.error.code, "DATA_CORRUPTED", name);
  }
});
