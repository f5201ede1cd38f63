// Goal: the KV wire codec reads proto-loader objects as etcd does (enum names of etcd and of
// etcd3, numbers; int64 decimal strings clamped into the safe range; lease IDs as exact bigints;
// a Compare operand only from the oneof member matching the target; an empty RequestOp), refuses
// malformed fields with INVALID_ARGUMENT, and writes responses that the real etcd proto
// serializer accepts (int64 as decimal strings, the header fill only on the top-level header).
import type { MethodDefinition, ServiceClientConstructor } from "@grpc/grpc-js";
import test from "ava";
import { leaseId, revision } from "../../../pkg/common/index.js";
import {
  decodeCompactionRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  encodeTxnResponse,
} from "../../../pkg/etcdserver/index.js";
import { loadEtcdProtos } from "../../../pkg/proto/index.js";
import { b, must } from "./store-fixture.js";

function kvMethod(name: string): MethodDefinition<object, Record<string, unknown>> {
  const root = loadEtcdProtos() as unknown as { etcdserverpb: { KV: ServiceClientConstructor } };
  const method = root.etcdserverpb.KV.service[name];
  if (method === undefined) throw new Error(name);
  return method as MethodDefinition<object, Record<string, unknown>>;
}

/** The request as a server's proto-loader decodes it. */
function wire(name: string, request: object): unknown {
  const method = kvMethod(name);
  return method.requestDeserialize(method.requestSerialize(request));
}

test("range: wire defaults, enum names in etcd's and etcd3's spelling, and numbers", (t) => {
  const plain = must(t, decodeRangeRequest(wire("Range", { key: b("k") })));
  t.like(plain, { limit: 0, revision: 0, sortOrder: "NONE", sortTarget: "KEY", countOnly: false });
  t.is(plain.rangeEnd.length, 0);
  for (const [order, target] of [["DESCEND", "CREATE"], ["Descend", "Create"], [2, 2]] as const) {
    const request = must(t, decodeRangeRequest({ key: b("k"), sort_order: order, sort_target: target }));
    t.like(request, { sortOrder: "DESCEND", sortTarget: "CREATE" });
  }
  t.is(must(t, decodeTxnRequest({ compare: [{ key: b("k"), result: "NotEqual" }] }))
    .compare[0]?.result, "NOT_EQUAL");
});

test("int64 fields: decimal strings, clamped into the safe range, malformed refused", (t) => {
  const extreme = must(t, decodeRangeRequest(wire("Range", {
    key: b("k"), revision: "9223372036854775807", limit: "-9223372036854775808",
  })));
  t.is(extreme.revision, Number.MAX_SAFE_INTEGER);
  t.is(extreme.limit, -Number.MAX_SAFE_INTEGER);
  t.is(must(t, decodeCompactionRequest({ revision: "42", physical: true })).revision, 42);
  for (const bad of [
    { key: b("k"), revision: "12x" },
    { key: b("k"), revision: "9223372036854775808" },
    { key: b("k"), sort_order: "SIDEWAYS" },
    { key: b("k"), sort_target: 9 },
    { key: 5 },
  ]) {
    const result = decodeRangeRequest(bad);
    t.false(result.ok, JSON.stringify(bad));
    if (!result.ok) t.is(result.error.code, "INVALID_ARGUMENT");
  }
});

test("lease IDs stay exact bigints, negatives included", (t) => {
  t.is(must(t, decodePutRequest(wire("Put", { key: b("k"), lease: "9007199254740993" }))).lease,
    leaseId(9007199254740993n));
  t.is(must(t, decodePutRequest(wire("Put", { key: b("k"), lease: "-2" }))).lease, leaseId(-2n));
});

test("compare operands come only from the member matching the target; empty ops", (t) => {
  const request = must(t, decodeTxnRequest(wire("Txn", {
    compare: [
      { key: b("k"), target: "VERSION", version: "3" },
      { key: b("k"), target: "VERSION", create_revision: "3" },
      { key: b("k"), target: "VALUE", lease: "7" },
      { key: b("k"), target: "LEASE", lease: "7", range_end: b("\0") },
      { key: b("k"), target: "MOD", mod_revision: "9" },
    ],
    success: [{}, { request_put: { key: b("p") } }],
    failure: [{ request_txn: { success: [{ request_delete_range: { key: b("d") } }] } }],
  })));
  t.deepEqual(request.compare.map((c) => [c.target, c.operand]), [
    ["VERSION", 3], ["VERSION", 0], ["VALUE", new Uint8Array(0)], ["LEASE", 7n], ["MOD", 9],
  ]);
  t.deepEqual([...(request.compare[3]?.rangeEnd ?? [])], [0]);
  t.deepEqual(request.success.map((op) => op.type), ["empty", "put"]);
  const inner = request.failure[0];
  t.is(inner?.type === "txn" ? inner.request.success[0]?.type : undefined, "deleteRange");
});

test("responses serialize with etcd's protos; the header fill is on the top level only", (t) => {
  const kv = {
    key: b("k"), createRevision: revision(2), modRevision: revision(3), version: 2,
    value: b("v"), lease: leaseId(9007199254740993n),
  };
  const encoded = encodeTxnResponse({
    header: { revision: revision(3) },
    succeeded: true,
    responses: [
      { type: "range", response: { header: { revision: revision(3) }, kvs: [kv], more: true, count: 4 } },
      { type: "put", response: { header: { revision: revision(3) }, prevKv: kv } },
      { type: "deleteRange", response: { header: { revision: revision(3) }, deleted: 0, prevKvs: [] } },
      { type: "txn", response: { header: { revision: revision(0) }, succeeded: false, responses: [] } },
    ],
  }, { clusterId: 2n ** 64n - 1n, memberId: 5n, raftTerm: 7n });
  const method = kvMethod("Txn");
  const decoded = method.responseDeserialize(method.responseSerialize(encoded as Record<string, unknown>));
  t.like(decoded, {
    header: { cluster_id: "18446744073709551615", member_id: "5", revision: "3", raft_term: "7" },
    succeeded: true,
  });
  const responses = decoded["responses"] as Record<string, Record<string, unknown>>[];
  t.like(responses[0]?.["response_range"], {
    header: { cluster_id: "0", revision: "3" }, more: true, count: "4",
    kvs: [{ create_revision: "2", mod_revision: "3", version: "2", lease: "9007199254740993" }],
  });
  t.like(responses[1]?.["response_put"], { prev_kv: { lease: "9007199254740993" } });
  t.like(responses[2]?.["response_delete_range"], { deleted: "0", prev_kvs: [] });
  t.like(responses[3]?.["response_txn"], { header: { revision: "0" }, succeeded: false });
});
