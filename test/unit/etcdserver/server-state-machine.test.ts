// The etcd state machine on its own (no Raft): lease attachments follow every put and
// delete, a revoke deletes all its keys at one revision and publishes their DELETE events
// together, member records and alarms follow etcd's rules, and snapshot → restore gives a
// state that answers and continues identically; corrupt snapshots are refused.
import test from "ava";
import {
  EtcdError, MemoryLogger, SimulatedClock, leaseId, nodeId,
} from "../../../pkg/common/index.js";
import {
  EtcdStateMachine, putRequest, rangeRequest, type ApplyResult, type EtcdRequest, type Member,
  type MvccEvent,
} from "../../../pkg/etcdserver/index.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const s = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

function member(id: bigint, url: string, isLearner = false): Member {
  return { id: nodeId(id), name: `m${id}`, peerUrls: [url], clientUrls: [], isLearner };
}

function machine(published: MvccEvent[][] = []): EtcdStateMachine {
  return new EtcdStateMachine({
    lease: { ttlSecondsMin: 2 }, initialMembers: [member(1n, "http://a:1")],
    clock: new SimulatedClock(), logger: new MemoryLogger(),
    hooks: { onEvents: (events) => { published.push([...events]); } },
  });
}

function ok(result: ApplyResult): void {
  if (!result.ok) throw result.error;
}

const put = (key: string, lease = 0n, extra = {}): EtcdRequest =>
  ({ type: "put", request: putRequest({ key: b(key), value: b("v"), lease: leaseId(lease),
    ...extra }) });

test("puts and deletes move lease attachments; revoke deletes in one revision", (t) => {
  const published: MvccEvent[][] = [];
  const sm = machine(published);
  ok(sm.applyRequest({ type: "leaseGrant", id: leaseId(5n), ttlSeconds: 10n }));
  ok(sm.applyRequest({ type: "leaseGrant", id: leaseId(6n), ttlSeconds: 10n }));
  ok(sm.applyRequest(put("a", 5n)));
  ok(sm.applyRequest(put("b", 5n)));
  ok(sm.applyRequest(put("c", 5n)));
  ok(sm.applyRequest(put("b", 6n))); // moves b to lease 6
  ok(sm.applyRequest(put("c"))); // lease 0 detaches c
  ok(sm.applyRequest(put("a", 0n, { ignoreLease: true }))); // keeps lease 5
  ok(sm.applyRequest({ type: "txn", request: { compare: [], failure: [],
    success: [{ type: "put", request: putRequest({ key: b("d"), lease: leaseId(5n) }) }] } }));
  ok(sm.applyRequest({ type: "deleteRange", request: { key: b("d"), rangeEnd: new Uint8Array(0),
    prevKv: false } }));
  const keys = (id: bigint): string[] =>
    sm.leases.timeToLive(leaseId(id), true, 0).keys.map(s);
  t.deepEqual(keys(5n), ["a"]);
  t.deepEqual(keys(6n), ["b"]);
  ok(sm.applyRequest(put("e", 6n)));
  const before = sm.store.revision;
  published.length = 0;
  ok(sm.applyRequest({ type: "leaseRevoke", id: leaseId(6n) }));
  t.is(sm.store.revision, before + 1);
  t.is(published.length, 1);
  t.deepEqual(published[0]?.map((event) => `${event.type} ${s(event.kv.key)}`),
    ["DELETE b", "DELETE e"]);
  t.false(sm.leases.leaseExists(leaseId(6n)));
  const missing = sm.applyRequest({ type: "leaseRevoke", id: leaseId(6n) });
  t.false(missing.ok);
  t.is(missing.ok ? "" : missing.error.message, "etcdserver: requested lease not found");
  const noLease = sm.applyRequest(put("z", 99n));
  t.is(noLease.ok ? "" : noLease.error.message, "etcdserver: requested lease not found");
});

test("member records and alarms follow etcd's rules", (t) => {
  const sm = machine();
  const fail = (request: EtcdRequest): string => {
    const result = sm.applyRequest(request);
    return result.ok ? "ok" : result.error.message;
  };
  t.is(fail({ type: "memberAdd", member: member(2n, "http://b:1", true) }), "ok");
  t.is(fail({ type: "memberAdd", member: member(2n, "http://c:1") }),
    "etcdserver: member ID already exist");
  t.is(fail({ type: "memberAdd", member: member(3n, "http://b:1") }),
    "etcdserver: Peer URLs already exists");
  t.is(fail({ type: "memberPromote", id: nodeId(1n) }),
    "etcdserver: can only promote a learner member");
  t.is(fail({ type: "memberPromote", id: nodeId(2n) }), "ok");
  t.false(sm.member(nodeId(2n))?.isLearner);
  t.is(fail({ type: "memberUpdate", id: nodeId(2n), peerUrls: ["http://a:1"] }),
    "etcdserver: Peer URLs already exists");
  t.is(fail({ type: "memberAttributes", id: nodeId(2n), name: "two", clientUrls: ["http://x"] }),
    "ok");
  t.is(sm.member(nodeId(2n))?.name, "two");
  t.is(fail({ type: "memberRemove", id: nodeId(9n) }), "etcdserver: member not found");
  t.is(fail({ type: "memberRemove", id: nodeId(2n) }), "ok");
  t.deepEqual(sm.members().map((m) => m.id), [nodeId(1n)]);
  ok(sm.applyRequest({ type: "alarm", action: "ACTIVATE", memberId: nodeId(1n),
    alarm: "NOSPACE" }));
  ok(sm.applyRequest({ type: "alarm", action: "ACTIVATE", memberId: nodeId(1n),
    alarm: "NOSPACE" }));
  t.deepEqual(sm.alarms(), [{ memberId: nodeId(1n), alarm: "NOSPACE" }]);
  t.true(sm.hasAlarm("NOSPACE"));
  ok(sm.applyRequest({ type: "alarm", action: "DEACTIVATE", memberId: nodeId(1n),
    alarm: "NOSPACE" }));
  t.false(sm.hasAlarm("NOSPACE"));
});

test("snapshot and restore give the same state, which continues identically", (t) => {
  const sm = machine();
  ok(sm.applyRequest({ type: "leaseGrant", id: leaseId(5n), ttlSeconds: 10n }));
  for (let i = 0; i < 50; i += 1) ok(sm.applyRequest(put(`k${i % 7}`, i % 3 === 0 ? 5n : 0n)));
  ok(sm.applyRequest({ type: "compact", request: { revision: 20, physical: false } }));
  ok(sm.applyRequest({ type: "memberAdd", member: member(2n, "http://b:1", true) }));
  ok(sm.applyRequest({ type: "alarm", action: "ACTIVATE", memberId: nodeId(1n),
    alarm: "NOSPACE" }));
  const bytes = sm.snapshot();
  const copy = machine();
  copy.restore(bytes);
  t.deepEqual(copy.snapshot(), bytes);
  t.deepEqual(copy.store.hashKv(0), sm.store.hashKv(0));
  t.deepEqual(copy.members(), sm.members());
  t.deepEqual(copy.alarms(), sm.alarms());
  const leaseKeys = (m: EtcdStateMachine): string[] =>
    m.leases.timeToLive(leaseId(5n), true, 0).keys.map(s);
  t.deepEqual(leaseKeys(copy), leaseKeys(sm));
  t.deepEqual(leaseKeys(sm), ["k3", "k6"]);
  for (const target of [sm, copy]) ok(target.applyRequest({ type: "leaseRevoke", id: leaseId(5n) }));
  t.deepEqual(copy.store.hashKv(0), sm.store.hashKv(0));
  const range = (m: EtcdStateMachine) => m.store.range(rangeRequest({ key: b("k0") }));
  t.deepEqual(range(copy), range(sm));
  // Corrupt bytes are refused whole.
  const flipped = Uint8Array.from(bytes);
  flipped[10] = (flipped[10] ?? 0) ^ 1;
  t.throws(() => { machine().restore(flipped); }, { message: /checksum/ });
  t.throws(() => { machine().restore(bytes.subarray(0, 5)); });
  t.true(new EtcdError("ETCD_NO_SPACE").message.includes("database space exceeded"));
});
