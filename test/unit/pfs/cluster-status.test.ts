// Goal: the cluster status follows the store's records exactly: nodes online, offline and
// faulty (dead time from the offline record), Raft roles from the members and the leader id,
// masters and held shards, per-replica and per-shard lags (no record: -1), under-replication
// (short of R, or a replica not online), retired nodes left out; and the tables and JSON that
// `pfs cluster status` prints from it.
// Method: a synthetic snapshot (fake records, fixed wall time) through the pure computation,
// then the formatting; a seeded property test checks the invariants over random snapshots.
import test from "ava";
import fc from "fast-check";
// pkg/pfs/index.ts does not re-export these modules yet.
// eslint-disable-next-line pfs/boundaries
import type { ReplicaStatusRecord } from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries
import {
  type ClusterSnapshot, computeClusterStatus, formatClusterStatus, formatRemoveNode,
  formatShardList,
} from "../../../pkg/pfs/status/index.js";

const nowWallMs = 1_700_000_000_000;
const deadTimeMs = 30_000;

function records(entries: [string, number, number][]): Map<string, ReplicaStatusRecord> {
  return new Map(entries.map(([node, lag, finished]) =>
    [node, { lag, finished, updatedMs: nowWallMs }]));
}

/** a, b live; c offline 10 s; d faulty (offline 60 s); e retired; 4 shards, R = 3. */
function snapshot(): ClusterSnapshot {
  return {
    shards: 4,
    live: new Map([["a", "10.0.0.1:30650"], ["b", "10.0.0.2:30650"], ["e", "10.0.0.5:1"]]),
    offline: new Map([["c", { offlineSinceWallMs: nowWallMs - 10_000 }],
      ["d", { offlineSinceWallMs: nowWallMs - 60_000 }]]),
    retired: new Set(["e", "gone"]),
    map: { shards: 4, replicas: 3, placement: [["a", "b", "c"], ["b", "a", "d"], ["a", "b"],
      ["c", "a", "b"]] },
    masters: new Map([[0, "a"], [1, "b"], [3, "a"]]),
    replicaStatus: new Map([[0, records([["a", 0, 5], ["b", 2, 3], ["c", 1, 4]])],
      [1, records([["b", 0, 7], ["a", 0, 7]])], [3, records([["a", 0, 1], ["b", 0, 1], ["c", 0, 1]])]]),
    members: [{ id: "11", name: "a", isLearner: false }, { id: "12", name: "b", isLearner: false },
      { id: "13", name: "c", isLearner: true }, { id: "14", name: "etcd-x", isLearner: false }],
    leaderMemberId: "12",
    nowWallMs, deadTimeMs,
  };
}

test("nodes: health, roles, masters and held shards; retired nodes left out", (t) => {
  const status = computeClusterStatus(snapshot());
  t.deepEqual(status.nodes, [
    { id: "a", address: "10.0.0.1:30650", raft_role: "follower", online: true, faulty: false,
      shards_mastered: [0, 3], shards_held: [0, 1, 2, 3] },
    { id: "b", address: "10.0.0.2:30650", raft_role: "leader", online: true, faulty: false,
      shards_mastered: [1], shards_held: [0, 1, 2, 3] },
    { id: "c", address: "", raft_role: "learner", online: false, faulty: false,
      shards_mastered: [], shards_held: [0, 3] },
    { id: "d", address: "", raft_role: "", online: false, faulty: true,
      shards_mastered: [], shards_held: [1] },
  ]);
});

test("shards: lag, unknown lag, under-replication, masters", (t) => {
  const status = computeClusterStatus(snapshot());
  const [s0, s1, s2, s3] = status.shards;
  t.is(status.shards.length, 4);
  t.like(s0, { shard: 0, master: "a", replicas: ["a", "b", "c"], lag: 2, r: 3,
    under_replicated: true });
  t.deepEqual(s0?.replica_status, [{ node: "a", lag: 0, finished: 5, online: true },
    { node: "b", lag: 2, finished: 3, online: true }, { node: "c", lag: 1, finished: 4, online: false }]);
  // d (faulty) reported nothing: its lag is unknown, the shard's is the largest reported.
  t.like(s1, { master: "b", lag: 0, under_replicated: true });
  t.deepEqual(s1?.replica_status[2], { node: "d", lag: -1, finished: -1, online: false });
  // Two replicas of R = 3, nobody reported, no master.
  t.like(s2, { master: "", replicas: ["a", "b"], lag: -1, under_replicated: true });
  t.like(s3, { lag: 0, under_replicated: true });

  const healthy = { ...snapshot(), live: new Map([["a", "x"], ["b", "y"], ["c", "z"]]),
    offline: new Map() };
  t.like(computeClusterStatus(healthy).shards[3], { under_replicated: false, lag: 0 });
  const noMap = computeClusterStatus({ ...snapshot(), map: undefined });
  t.true(noMap.shards.every((shard) => shard.under_replicated && shard.r === 0 &&
    shard.replicas.length === 0));
  t.throws(() => computeClusterStatus({ ...snapshot(), map: { shards: 2, replicas: 1,
    placement: [[], []] } }));
});

test("raft roles are empty when the members are unknown (external etcd without them)", (t) => {
  const status = computeClusterStatus({ ...snapshot(), members: [], leaderMemberId: "" });
  t.true(status.nodes.every((node) => node.raft_role === ""));
});

test("tables: node and shard rows, yes/NO/FAULTY, ranges, notes", (t) => {
  const text = formatClusterStatus(computeClusterStatus(snapshot()));
  const lines = text.split("\n");
  t.regex(lines[0] ?? "", /^ID +ADDRESS +RAFT +ONLINE +MASTERED +HELD$/);
  t.regex(lines[1] ?? "", /^a +10\.0\.0\.1:30650 +follower +yes +0,3 +0-3$/);
  t.regex(lines[2] ?? "", /^b +10\.0\.0\.2:30650 +leader +yes +1 +0-3$/);
  t.regex(lines[3] ?? "", /^c +- +learner +NO +- +0,3$/);
  t.regex(lines[4] ?? "", /^d +- +- +FAULTY +- +1$/);
  t.is(lines[5], "");
  t.regex(lines[6] ?? "", /^SHARD +MASTER +REPLICAS +LAG +NOTE$/);
  t.regex(lines[7] ?? "", /^0 +a +a,b,c +2 +under-replicated \(2\/3 online\)$/);
  t.regex(lines[9] ?? "", /^2 +- +a,b +\? +under-replicated \(2\/3 online\), no master$/);
  t.true(text.endsWith("\n"));
  t.is(formatShardList([]), "-");
  t.is(formatShardList([7, 0, 1, 2, 5, 6]), "0-2,5-7");
});

test("JSON: one object with the documented fields", (t) => {
  const json: unknown = JSON.parse(JSON.stringify(computeClusterStatus(snapshot())));
  t.like(json, { nodes: [{ id: "a", raft_role: "follower", online: true, faulty: false }],
    shards: [{ shard: 0, master: "a", lag: 2, under_replicated: true }] });
});

test("remove-node output says what was done", (t) => {
  const text = formatRemoveNode({ id: "d", was_online: false, already_retired: false,
    node_key_deleted: false, health_record_deleted: true, member_removed: true, member_id: "14" });
  t.regex(text, /^retired node d\ndeleted its offline record\nremoved coordination store member 14\n/);
  t.regex(formatRemoveNode({ id: "d", was_online: false, already_retired: true,
    node_key_deleted: false, health_record_deleted: false, member_removed: false, member_id: "" }),
  /^node d was already retired\n/);
});

test("property: invariants over random snapshots", (t) => {
  const seed = Date.now() % 1_000_000;
  const names = ["n0", "n1", "n2", "n3", "n4", "n5"];
  const node = fc.constantFrom(...names);
  const arbitrary = fc.record({
    live: fc.subarray(names), offline: fc.subarray(names), retired: fc.subarray(names),
    placement: fc.array(fc.uniqueArray(node, { maxLength: 3 }), { minLength: 5, maxLength: 5 }),
    masters: fc.array(fc.option(node, { nil: undefined }), { minLength: 5, maxLength: 5 }),
    lags: fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), node, fc.nat(9)), { maxLength: 12 }),
    offlineForMs: fc.integer({ min: 0, max: 60_000 }),
  });
  const result = fc.check(fc.property(arbitrary, (input) => {
    const replicaStatus = new Map<number, Map<string, ReplicaStatusRecord>>();
    for (const [shard, holder, lag] of input.lags) {
      const byNode = replicaStatus.get(shard) ?? new Map<string, ReplicaStatusRecord>();
      byNode.set(holder, { lag, finished: 1, updatedMs: nowWallMs });
      replicaStatus.set(shard, byNode);
    }
    const masters = new Map<number, string>();
    input.masters.forEach((master, shard) => { if (master !== undefined) masters.set(shard, master); });
    const status = computeClusterStatus({
      shards: 5, live: new Map(input.live.map((name) => [name, `${name}:1`])),
      offline: new Map(input.offline.map((name) => [name, { offlineSinceWallMs: nowWallMs -
        input.offlineForMs }])),
      retired: new Set(input.retired), map: { shards: 5, replicas: 3, placement: input.placement },
      masters, replicaStatus, members: [], leaderMemberId: "", nowWallMs, deadTimeMs,
    });
    const ids = status.nodes.map((entry) => entry.id);
    const sorted = [...ids].sort();
    return ids.every((id, index) => id === sorted[index]) &&
      status.nodes.every((entry) => !(entry.online && entry.faulty) &&
        (entry.online || entry.address === "") &&
        entry.shards_held.every((shard) => input.placement[shard]?.includes(entry.id)) &&
        entry.shards_mastered.every((shard) => masters.get(shard) === entry.id)) &&
      status.shards.every((shard) => {
        const lags = shard.replica_status.map((replica) => replica.lag).filter((lag) => lag >= 0);
        const expected = lags.length === 0 ? -1 : Math.max(...lags);
        return shard.lag === expected && shard.under_replicated ===
          (shard.replicas.length < 3 || shard.replica_status.some((replica) => !replica.online));
      }) &&
      input.placement.flat().every((name) => ids.includes(name));
  }), { seed, numRuns: 300 });
  t.false(result.failed, `seed ${seed}: counterexample ${JSON.stringify(result.counterexample)}`);
});
