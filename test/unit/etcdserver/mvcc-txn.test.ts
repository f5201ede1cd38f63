// Goal: every Txn rule of etcd-api.md §5: compares (each target and result, missing keys, range
// compares), branch choice against the state before the txn (nested too), later ops seeing
// earlier writes, one revision per txn and only for effective writes, sub-response headers, and
// every check before anything applies (op limits, empty ops, duplicate keys (a)(b)(c) and the
// allowed overlaps, leases, ignore_* flags, compacted and future ranges), with exact errors.
import test from "ava";
import { GrpcStatus, type LeaseId, limits } from "../../../pkg/common/index.js";
import {
  type Compare,
  type RequestOp,
  type TxnRequest,
  deleteRangeRequest,
  putRequest,
  rangeRequest,
} from "../../../pkg/etcdserver/index.js";
import { b, keysOf, liveLease, missingLease, must, mustFail, newStore } from "./store-fixture.js";

const S = GrpcStatus;

function put(key: string, value = "", lease: LeaseId = 0n as LeaseId): RequestOp {
  return { type: "put", request: putRequest({ key: b(key), value: b(value), lease }) };
}
function del(key: string, rangeEnd = ""): RequestOp {
  return { type: "deleteRange", request: deleteRangeRequest({ key: b(key), rangeEnd: b(rangeEnd) }) };
}
function get(key: string, revision = 0): RequestOp {
  return { type: "range", request: rangeRequest({ key: b(key), revision }) };
}
function txn(request: Partial<TxnRequest>): TxnRequest {
  return { compare: [], success: [], failure: [], ...request };
}
function nested(request: Partial<TxnRequest>): RequestOp {
  return { type: "txn", request: txn(request) };
}
function cmp(
  key: string,
  target: "VERSION" | "CREATE" | "MOD",
  result: Compare["result"],
  operand: number,
  rangeEnd = "",
): Compare {
  return { key: b(key), rangeEnd: b(rangeEnd), target, result, operand };
}

/** k1 (rev 2, version 1, value "b", lease 7), k2 (rev 3), k2 again (rev 4, version 2, "a"). */
function seeded(): ReturnType<typeof newStore> {
  const store = newStore();
  store.put(putRequest({ key: b("k1"), value: b("b"), lease: liveLease }));
  store.put(putRequest({ key: b("k2"), value: b("x") }));
  store.put(putRequest({ key: b("k2"), value: b("a") }));
  return store;
}

const compareCases: readonly [string, Compare, boolean][] = [
  ["version == 1", cmp("k1", "VERSION", "EQUAL", 1), true],
  ["version > 0", cmp("k1", "VERSION", "GREATER", 0), true],
  ["version < 1 fails", cmp("k1", "VERSION", "LESS", 1), false],
  ["version != 2", cmp("k1", "VERSION", "NOT_EQUAL", 2), true],
  ["create == 2", cmp("k1", "CREATE", "EQUAL", 2), true],
  ["mod > 3 (k2 mod 4)", cmp("k2", "MOD", "GREATER", 3), true],
  ["mod < 4 fails", cmp("k2", "MOD", "LESS", 4), false],
  ["missing key: create == 0", cmp("zz", "CREATE", "EQUAL", 0), true],
  ["missing key: version < 1", cmp("zz", "VERSION", "LESS", 1), true],
  ["missing key: mod != 0 fails", cmp("zz", "MOD", "NOT_EQUAL", 0), false],
  ["range: every key version >= 1", cmp("k", "VERSION", "GREATER", 0, "l"), true],
  ["range: one key fails version == 1", cmp("k", "VERSION", "EQUAL", 1, "l"), false],
  ["range \\0 from k2", cmp("k2", "VERSION", "EQUAL", 2, "\x00"), true],
  ["empty range compares as a missing key", cmp("x", "CREATE", "EQUAL", 0, "y"), true],
  ["value == b", { key: b("k1"), rangeEnd: b(""), target: "VALUE", result: "EQUAL", operand: b("b") },
    true],
  ["value > a", { key: b("k1"), rangeEnd: b(""), target: "VALUE", result: "GREATER", operand: b("a") },
    true],
  ["value < c over a range", {
    key: b("k"), rangeEnd: b("l"), target: "VALUE", result: "LESS", operand: b("c"),
  }, true],
  ["value on a missing key is false, even != ", {
    key: b("zz"), rangeEnd: b(""), target: "VALUE", result: "NOT_EQUAL", operand: b("q"),
  }, false],
  ["value == empty on a missing key is false", {
    key: b("zz"), rangeEnd: b(""), target: "VALUE", result: "EQUAL", operand: b(""),
  }, false],
  ["lease == 7", { key: b("k1"), rangeEnd: b(""), target: "LEASE", result: "EQUAL", operand: liveLease },
    true],
  ["lease of k2 == 0", {
    key: b("k2"), rangeEnd: b(""), target: "LEASE", result: "EQUAL", operand: 0n as LeaseId,
  }, true],
  ["missing key lease < 7", {
    key: b("zz"), rangeEnd: b(""), target: "LEASE", result: "LESS", operand: liveLease,
  }, true],
];

for (const [name, compare, expected] of compareCases) {
  test(`compare: ${name}`, (t) => {
    const applied = must(t, seeded().txn(txn({ compare: [compare] })));
    t.is(applied.response.succeeded, expected);
  });
}

test("compares are an AND; the branch that ran gives one response per op", (t) => {
  const store = seeded();
  const request = txn({
    compare: [cmp("k1", "VERSION", "EQUAL", 1), cmp("k2", "VERSION", "EQUAL", 1)],
    success: [put("s")],
    failure: [get("k1"), put("f", "v"), del("k2")],
  });
  const response = must(t, store.txn(request)).response;
  t.false(response.succeeded);
  t.deepEqual(response.responses.map((op) => op.type), ["range", "put", "deleteRange"]);
  t.is(store.revision, 5);
});

test("later ops see earlier writes; all share one revision with sub-revisions in order", (t) => {
  const store = seeded();
  const applied = must(t, store.txn(txn({
    success: [get("k1"), put("n", "1"), get("n"), del("k1"), get("k1"), put("k3")],
  })));
  const ops = applied.response.responses;
  const range = (index: number): string[] => {
    const op = ops[index];
    return op?.type === "range" ? keysOf(op.response.kvs) : ["not a range"];
  };
  t.deepEqual([range(0), range(2), range(4)], [["k1"], ["n"], []]);
  t.is(Number(applied.response.header.revision), 5);
  t.is(store.revision, 5);
  t.deepEqual(applied.events.map((event) => [event.type, event.kv.modRevision as number]),
    [["PUT", 5], ["DELETE", 5], ["PUT", 5]]);
  const headers = ops.map((op) => op.response.header.revision as number);
  t.deepEqual(headers, [4, 5, 5, 5, 5, 5], "sub-headers: the revision seen at that point");
});

test("a txn without effective writes keeps the revision; its delete header too", (t) => {
  const store = seeded();
  const applied = must(t, store.txn(txn({ success: [del("nothing"), get("k1")] })));
  t.is(Number(applied.response.header.revision), 4);
  t.is(store.revision, 4);
  t.deepEqual(applied.response.responses.map((op) => op.response.header.revision as number), [4, 4]);
  t.deepEqual(applied.events, []);
});

test("nested txns decide against the state before the txn; nested headers are 0", (t) => {
  const store = seeded();
  const applied = must(t, store.txn(txn({
    success: [
      put("new"),
      nested({ compare: [cmp("new", "CREATE", "EQUAL", 0)], success: [put("saw-old")],
        failure: [put("saw-new")] }),
    ],
  })));
  const inner = applied.response.responses[1];
  t.is(inner?.type, "txn");
  if (inner?.type !== "txn") return;
  t.true(inner.response.succeeded, "the compare saw the state before the txn");
  t.is(Number(inner.response.header.revision), 0);
  t.is(keysOf(must(t, store.range(rangeRequest({ key: b("saw-old") }))).kvs).length, 1);
});

test("too many ops: compare, success or failure above the limit; nested limit is what is left",
  (t) => {
    const many = (count: number): RequestOp[] =>
      Array.from({ length: count }, (_, i) => get(`k${i}`));
    const store = seeded();
    must(t, store.txn(txn({ success: many(limits.etcdTxnOpsMax) })));
    for (const request of [
      txn({ success: many(limits.etcdTxnOpsMax + 1) }),
      txn({ failure: many(limits.etcdTxnOpsMax + 1) }),
      txn({ compare: Array.from({ length: limits.etcdTxnOpsMax + 1 }, () => cmp("a", "MOD", "EQUAL", 0)) }),
      txn({ success: [...many(100), nested({ success: many(28) })] }),
    ]) {
      mustFail(t, store.txn(request), "ETCD_TOO_MANY_OPS",
        "etcdserver: too many operations in txn request", S.INVALID_ARGUMENT);
    }
    must(t, store.txn(txn({ success: [...many(100), nested({ success: many(27) })] })));
  });

test("an empty RequestOp or an empty key is refused before anything applies", (t) => {
  const store = seeded();
  mustFail(t, store.txn(txn({ success: [put("a"), { type: "empty" }] })), "ETCD_KEY_NOT_FOUND",
    "etcdserver: key not found", S.INVALID_ARGUMENT);
  mustFail(t, store.txn(txn({ failure: [nested({ success: [{ type: "empty" }] })] })),
    "ETCD_KEY_NOT_FOUND", "etcdserver: key not found", S.INVALID_ARGUMENT);
  mustFail(t, store.txn(txn({ compare: [cmp("", "MOD", "EQUAL", 0)] })), "ETCD_KEY_NOT_PROVIDED",
    "etcdserver: key is not provided", S.INVALID_ARGUMENT);
  mustFail(t, store.txn(txn({ success: [put("")] })), "ETCD_KEY_NOT_PROVIDED",
    "etcdserver: key is not provided", S.INVALID_ARGUMENT);
  t.is(store.revision, 4);
});

const duplicateCases: readonly [string, TxnRequest, boolean][] = [
  ["(a) two puts on one key", txn({ success: [put("a"), put("a")] }), true],
  ["(a) checked in failure too, whatever the compares", txn({ failure: [put("a"), put("a")] }), true],
  ["(b) put inside a delete range of the same list", txn({ success: [del("a", "c"), put("b")] }), true],
  ["(b) put before the delete", txn({ success: [put("b"), del("b")] }), true],
  ["(b) put in a nested txn inside an enclosing delete",
    txn({ success: [del("a", "c"), nested({ success: [put("b")] })] }), true],
  ["(b) put at the outer level inside a nested delete",
    txn({ success: [nested({ failure: [del("b")] }), put("b")] }), true],
  ["(c) nested put collides with an outer put", txn({ success: [put("b"), nested({ success: [put("b")] })] }),
    true],
  ["(c) puts in two nested txns", txn({ success: [nested({ success: [put("b")] }),
    nested({ failure: [put("b")] })] }), true],
  ["allowed: overlapping deletes", txn({ success: [del("a", "c"), del("b", "d")] }), false],
  ["allowed: then and else of one nested txn", txn({ success: [nested({ success: [put("b")],
    failure: [put("b")] })] }), false],
  ["allowed: put and delete in different branches", txn({ success: [put("b")], failure: [del("b")] }),
    false],
  ["allowed: a \\0 delete range is not an interval to etcd", txn({ success: [del("a", "\x00"), put("b")] }),
    false],
  ["allowed: an inverted delete range contains nothing", txn({ success: [del("c", "a"), put("b")] }),
    false],
];

for (const [name, request, duplicate] of duplicateCases) {
  test(`duplicate keys: ${name}`, (t) => {
    const store = seeded();
    const result = store.txn(request);
    if (duplicate) {
      mustFail(t, result, "ETCD_DUPLICATE_KEY", "etcdserver: duplicate key given in txn request",
        S.INVALID_ARGUMENT);
      t.is(store.revision, 4);
    } else {
      t.true(result.ok);
    }
  });
}

test("state checks of the chosen branch: lease, ignore_* and range revisions", (t) => {
  const store = seeded();
  must(t, store.compact({ revision: 3, physical: false }));
  const failNotTaken = txn({ compare: [cmp("k1", "VERSION", "EQUAL", 1)],
    failure: [put("a", "", missingLease)] });
  t.true(must(t, store.txn(failNotTaken)).response.succeeded, "untaken branches are not checked");
  mustFail(t, store.txn(txn({ success: [put("a"), put("b", "", missingLease)] })),
    "ETCD_LEASE_NOT_FOUND", "etcdserver: requested lease not found", S.NOT_FOUND);
  const ignore = { type: "put", request: putRequest({ key: b("zz"), ignoreValue: true }) } as const;
  mustFail(t, store.txn(txn({ success: [ignore] })), "ETCD_KEY_NOT_FOUND",
    "etcdserver: key not found", S.INVALID_ARGUMENT);
  mustFail(t, store.txn(txn({ success: [put("a"), get("k1", 5)] })), "ETCD_FUTURE_REV",
    "etcdserver: mvcc: required revision is a future revision", S.OUT_OF_RANGE);
  mustFail(t, store.txn(txn({ success: [get("k1", 2)] })), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", S.OUT_OF_RANGE);
  mustFail(t, store.txn(txn({ success: [get("k1", -1)] })), "ETCD_COMPACTED",
    "etcdserver: mvcc: required revision has been compacted", S.OUT_OF_RANGE,
  );
  mustFail(t, store.txn(txn({ success: [get("k1", 2), put("c", "", missingLease)] })),
    "ETCD_LEASE_NOT_FOUND", "etcdserver: requested lease not found", S.NOT_FOUND);
  t.is(store.revision, 4, "no failed txn applied anything");
  t.is(must(t, store.txn(txn({ success: [get("k1", 3)] }))).response.succeeded, true);
});

test("an ignore_* put after a \\0 delete of its key is refused (etcd 3.4 panics here)", (t) => {
  const store = seeded();
  const ignore = { type: "put", request: putRequest({ key: b("k2"), ignoreValue: true }) } as const;
  mustFail(t, store.txn(txn({ success: [del("k", "\x00"), ignore] })), "ETCD_KEY_NOT_FOUND",
    "etcdserver: key not found", S.INVALID_ARGUMENT);
  t.is(store.revision, 4);
  const plain = must(t, store.txn(txn({ success: [del("k", "\x00"), put("k2", "new")] })));
  t.is(Number(plain.response.header.revision), 5);
  t.like(must(t, store.range(rangeRequest({ key: b("k2") }))).kvs[0], { version: 1, createRevision: 5 });
});
