// Goal: the replica map keeps its invariants through any history of nodes joining, going
// offline, turning faulty, coming back and being retired: no two replicas of a shard on one
// node, only usable nodes hold replicas, every shard has R replicas whenever enough online
// nodes exist, a brief outage moves nothing, a lost node moves exactly its own replicas, and
// rebalancing settles within one replica of even.
// Method: fast-check over random event sequences on a pool of 8 nodes (seed printed; replay
// with PFS_SEED=<n>), each step checked against the previous map; worked examples pin the
// tie-break and the codec.
import test from "ava";
import fc from "fast-check";
// pkg/pfs/index.ts does not re-export the replication module yet.
// eslint-disable-next-line pfs/boundaries
import {
  type NodeState, type ReplicaMap, computeReplicaMap, decodeReplicaMap, encodeReplicaMap,
  replicationLimits,
} from "../../../pkg/pfs/replication/index.js";
import { testSeed } from "./storage-fixtures.js";

const pool = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"];

type Event =
  | { kind: "join" | "offline" | "faulty" | "retire"; node: string }
  | { kind: "round" };

const eventArbitrary: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("join", "offline", "faulty", "retire"),
    node: fc.constantFrom(...pool),
  }) as fc.Arbitrary<Event>,
  fc.constant<Event>({ kind: "round" }),
);

function apply(nodes: Map<string, NodeState>, event: Event): void {
  switch (event.kind) {
    case "join": nodes.set(event.node, "online"); break;
    case "offline": if (nodes.has(event.node)) nodes.set(event.node, "offline"); break;
    case "faulty": if (nodes.has(event.node)) nodes.set(event.node, "faulty"); break;
    case "retire": nodes.delete(event.node); break;
    case "round": break;
  }
}

function holdersOf(map: ReplicaMap | undefined, shard: number): readonly string[] {
  return map?.placement[shard] ?? [];
}

/** Throws with a description of the first broken invariant of `next` made from `previous`. */
function checkStep(previous: ReplicaMap | undefined, next: ReplicaMap, shards: number,
  replicas: number, nodes: ReadonlyMap<string, NodeState>, rebalanced: number): void {
  if (next.placement.length !== shards) throw new Error(`${next.placement.length} shards`);
  const online = [...nodes].filter(([, state]) => state === "online").map(([node]) => node);
  let dropped = 0;
  next.placement.forEach((holders, shard) => {
    if (new Set(holders).size !== holders.length) throw new Error(`shard ${shard}: ${holders.join()}`);
    if (holders.length > replicas) throw new Error(`shard ${shard} has ${holders.length}`);
    const before = holdersOf(previous, shard);
    for (const node of holders) {
      const state = nodes.get(node);
      if (state !== "online" && state !== "offline") throw new Error(`${node} is ${state}`);
      if (state === "offline" && !before.includes(node)) throw new Error(`new on offline ${node}`);
    }
    for (const node of before) {
      const state = nodes.get(node);
      const usable = state === "online" || state === "offline";
      if (usable && !holders.includes(node)) dropped += 1;
    }
    const full = holders.length === replicas || online.every((node) => holders.includes(node));
    if (!full) throw new Error(`shard ${shard} short with spare online nodes: ${holders.join()}`);
  });
  if (dropped > rebalanced) throw new Error(`${dropped} usable replicas dropped, ${rebalanced} moves`);
}

test("invariants hold through random joins, outages, faults and retirements", (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
  const property = fc.property(
    fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 4 }),
    fc.constantFrom(0, 1, replicationLimits.rebalanceMovesPerRoundMax),
    fc.array(eventArbitrary, { minLength: 1, maxLength: 40 }),
    (shards, replicas, movesMax, events) => {
      const nodes = new Map<string, NodeState>();
      let map: ReplicaMap | undefined;
      for (const event of events) {
        apply(nodes, event);
        const outcome = computeReplicaMap({ previous: map, shards, replicas, nodes,
          rebalanceMovesMax: movesMax });
        checkStep(map, outcome.map, shards, replicas, nodes, outcome.rebalanced);
        if (outcome.rebalanced > movesMax) throw new Error(`${outcome.rebalanced} moves`);
        const short = outcome.map.placement.flatMap((holders, shard) =>
          holders.length < replicas ? [shard] : []);
        if (JSON.stringify(short) !== JSON.stringify(outcome.underReplicated)) {
          throw new Error(`under-replicated ${outcome.underReplicated.join()} vs ${short.join()}`);
        }
        map = outcome.map;
      }
    });
  t.notThrows(() => { fc.assert(property, { seed, numRuns: 300 }); }, `seed ${seed}`);
});

/** A settled map of `shards` × `replicas` over the online nodes `names`. */
function settled(shards: number, replicas: number, names: readonly string[]): ReplicaMap {
  const nodes = new Map<string, NodeState>(names.map((node) => [node, "online"]));
  let map: ReplicaMap | undefined;
  for (let round = 0; round < 1_000; round += 1) {
    const outcome = computeReplicaMap({ previous: map, shards, replicas, nodes,
      rebalanceMovesMax: replicationLimits.rebalanceMovesPerRoundMax });
    map = outcome.map;
    if (outcome.balanced && outcome.added === 0) return map;
  }
  throw new Error("rebalancing did not settle in 1,000 rounds");
}

test("a node that goes offline moves nothing; one that turns faulty moves only its replicas",
  (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
    const property = fc.property(
      fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 4, max: 8 }), fc.nat(),
      (shards, replicas, count, pick) => {
        const names = pool.slice(0, count);
        const map = settled(shards, replicas, names);
        const lost = names[pick % names.length] ?? "n0";
        const nodes = new Map<string, NodeState>(names.map((node) => [node, "online"]));
        nodes.set(lost, "offline");
        const outage = computeReplicaMap({ previous: map, shards, replicas, nodes,
          rebalanceMovesMax: 0 });
        if (outage.added !== 0 || outage.removed !== 0) throw new Error("an outage moved data");
        nodes.set(lost, "faulty");
        const fault = computeReplicaMap({ previous: map, shards, replicas, nodes,
          rebalanceMovesMax: 0 });
        const held = map.placement.filter((holders) => holders.includes(lost)).length;
        if (fault.removed !== held || fault.added !== held) {
          throw new Error(`lost ${held} replicas; removed ${fault.removed}, added ${fault.added}`);
        }
        map.placement.forEach((holders, shard) => {
          const next = fault.map.placement[shard] ?? [];
          const same = holders.filter((node) => node !== lost);
          if (!same.every((node) => next.includes(node))) throw new Error(`shard ${shard} moved`);
          if (!holders.includes(lost) && next.length !== holders.length) {
            throw new Error(`untouched shard ${shard} changed`);
          }
        });
      });
    t.notThrows(() => { fc.assert(property, { seed, numRuns: 100 }); }, `seed ${seed}`);
  });

test("rebalancing settles within one replica of even, and a settled map is a fixed point",
  (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
    const property = fc.property(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 3, max: 6 }), fc.integer({ min: 1, max: 2 }),
      (shards, replicas, first, joined) => {
        // a cluster of `first` nodes settles, then `joined` more arrive empty
        const before = settled(shards, replicas, pool.slice(0, first));
        const names = pool.slice(0, first + joined);
        const nodes = new Map<string, NodeState>(names.map((node) => [node, "online"]));
        let map = before;
        for (let round = 0; ; round += 1) {
          if (round > shards * replicas) throw new Error("did not settle");
          const outcome = computeReplicaMap({ previous: map, shards, replicas, nodes,
            rebalanceMovesMax: replicationLimits.rebalanceMovesPerRoundMax });
          checkStep(map, outcome.map, shards, replicas, nodes, outcome.rebalanced);
          map = outcome.map;
          if (outcome.added === 0) break;
        }
        const loads = names.map((node) => map.placement.filter((h) => h.includes(node)).length);
        if (Math.max(...loads) - Math.min(...loads) > 1) throw new Error(`loads ${loads.join()}`);
      });
    t.notThrows(() => { fc.assert(property, { seed, numRuns: 100 }); }, `seed ${seed}`);
  });

test("worked example: 16 shards × 3 on 5 nodes is even, deterministic, short when nodes are few",
  (t) => {
    const nodes = new Map<string, NodeState>(pool.slice(0, 5).map((node) => [node, "online"]));
    const input = { previous: undefined, shards: 16, replicas: 3, nodes, rebalanceMovesMax: 0 };
    const first = computeReplicaMap(input);
    t.deepEqual(computeReplicaMap(input), first, "the same input gives the same map");
    const loads = [...nodes.keys()].map((node) =>
      first.map.placement.filter((holders) => holders.includes(node)).length);
    t.deepEqual([...loads].sort((a, b) => a - b), [9, 9, 10, 10, 10], `loads ${loads.join()}`);
    t.is(first.added, 48);
    t.deepEqual(first.underReplicated, []);
    const two = new Map<string, NodeState>([["n0", "online"], ["n1", "online"], ["n2", "faulty"]]);
    const short = computeReplicaMap({ ...input, previous: first.map, nodes: two });
    t.deepEqual(short.underReplicated, [...Array(16).keys()]);
    for (const holders of short.map.placement) t.deepEqual([...holders].sort(), ["n0", "n1"]);
    const fewer = computeReplicaMap({ ...input, previous: first.map, replicas: 2 });
    t.true(fewer.map.placement.every((holders, shard) => holders.length === 2 &&
      holders.every((node) => first.map.placement[shard]?.includes(node) === true)));
    t.is(fewer.added, 0);
    t.is(fewer.removed, 16);
  });

test("the codec round-trips a map and refuses malformed ones", (t) => {
  const map: ReplicaMap = { shards: 2, replicas: 2, placement: [["a", "b"], ["c"]] };
  const decoded = decodeReplicaMap(encodeReplicaMap(map));
  t.deepEqual(decoded, { ok: true, value: map });
  const bad = [
    "", "[]", "null", '{"shards":2,"replicas":2,"placement":[["a","a"],[]]}',
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]]}',
    '{"shards":2,"replicas":2,"placement":[["a"]]}',
    '{"shards":0,"replicas":2,"placement":[]}',
    '{"shards":1,"replicas":99,"placement":[[]]}',
    '{"shards":1,"replicas":1,"placement":[["../x"]]}',
    '{"shards":1,"replicas":1,"placement":[[7]]}',
  ];
  for (const text of bad) t.false(decodeReplicaMap(text).ok, text);
});
