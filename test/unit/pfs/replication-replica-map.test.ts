// Goal: the replica map keeps its invariants through any history of nodes joining, going
// offline, turning faulty, coming back, being retired (gone at once) or drained (retired while
// online), and replicas catching up: no two replicas of a shard on one node, only usable nodes
// hold replicas, every shard has R staying replicas whenever enough online nodes exist, moves
// are add-then-drop (a move never leaves a shard with fewer replicas holding its data than
// min(R, what it had)), a brief outage moves nothing, a lost node moves exactly its own
// replicas, and moves and drains settle within one replica of even with nothing on drained
// nodes.
// Method: fast-check over random event sequences on a pool of 8 nodes (seed printed; replay
// with PFS_SEED=<n>), each step checked against the previous map and a model of which
// replicas hold the shard's data (the replica status given to the map is derived from it);
// worked examples pin the tie-break, the add-then-drop steps and the codec.
import test from "ava";
import fc from "fast-check";
// pkg/pfs/index.ts does not re-export the replication module yet.
// eslint-disable-next-line pfs/boundaries
import {
  type NodeState, type ReplicaMap, type ReplicaStatusRecord, computeReplicaMap,
  decodeReplicaMap, encodeReplicaMap, replicationLimits,
} from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries
import type { ReplicaMove, ReplicaStatusView } from "../../../pkg/pfs/replication/replica-map.js";
// eslint-disable-next-line pfs/boundaries
import { rebalanceMovesInFlightMax } from "../../../pkg/pfs/replication/rebalance-limits.js";
import { testSeed } from "./storage-fixtures.js";

const pool = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"];

type Event =
  | { kind: "join" | "offline" | "faulty" | "retire" | "drain" | "sync"; node: string }
  | { kind: "sync-one"; node: string; shard: number }
  | { kind: "round" };

const eventArbitrary: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("join", "offline", "faulty", "retire", "drain", "sync", "sync"),
    node: fc.constantFrom(...pool),
  }) as fc.Arbitrary<Event>,
  fc.record({ kind: fc.constant("sync-one"), node: fc.constantFrom(...pool), shard: fc.nat() }) as
    fc.Arbitrary<Event>,
  fc.constant<Event>({ kind: "round" }),
);

/** The simulated cluster: node states, the draining nodes and which replicas hold data. */
class Cluster {
  readonly nodes = new Map<string, NodeState>();
  readonly draining = new Set<string>();
  /** `shard/node` of every replica holding all of its shard's data. */
  readonly holds = new Set<string>();
  map: ReplicaMap | undefined;

  forget(node: string): void {
    for (const key of [...this.holds]) if (key.endsWith(`/${node}`)) this.holds.delete(key);
  }

  apply(event: Event): void {
    if (event.kind === "round") return;
    const { node } = event;
    const state = this.nodes.get(node);
    switch (event.kind) {
      case "join": if (state !== "online") this.nodes.set(node, "online"); break;
      case "offline":
        // a draining node that goes offline is no longer live: the controller drops it
        if (this.draining.has(node)) this.retire(node);
        else if (state === "online") this.nodes.set(node, "offline");
        break;
      case "faulty":
        if (state !== undefined && !this.draining.has(node)) {
          this.nodes.set(node, "faulty");
          this.forget(node);
        }
        break;
      case "retire": this.retire(node); break;
      case "drain": if (state === "online") this.draining.add(node); break;
      case "sync": this.sync(node); break;
      case "sync-one": {
        const shards = this.map?.shards ?? 1;
        const shard = event.shard % shards;
        if (state === "online" && holdersOf(this.map, shard).includes(node)) {
          this.holds.add(`${shard}/${node}`);
        }
        break;
      }
    }
  }

  retire(node: string): void {
    this.nodes.delete(node);
    this.draining.delete(node);
    this.forget(node);
  }

  /** Every replica the map lists on `node` catches up (if the node is online). */
  sync(node: string): void {
    if (this.nodes.get(node) !== "online") return;
    this.map?.placement.forEach((holders, shard) => {
      if (holders.includes(node)) this.holds.add(`${shard}/${node}`);
    });
  }

  /** What online replicas report: lag 0 when they hold the data, else 1. */
  status(): ReplicaStatusView {
    const view = new Map<number, Map<string, ReplicaStatusRecord>>();
    this.map?.placement.forEach((holders, shard) => {
      const records = new Map<string, ReplicaStatusRecord>();
      for (const node of holders) {
        if (this.nodes.get(node) !== "online") continue;
        const held = this.holds.has(`${shard}/${node}`);
        records.set(node, { lag: held ? 0 : 1, finished: held ? 1 : 0, updatedMs: 0 });
      }
      view.set(shard, records);
    });
    return view;
  }

  /** Listed replicas of `shard` in `map` that hold its data on a usable node. */
  dataHolders(map: ReplicaMap | undefined, shard: number): number {
    return (map?.placement[shard] ?? []).filter((node) => {
      const state = this.nodes.get(node);
      return (state === "online" || state === "offline") && this.holds.has(`${shard}/${node}`);
    }).length;
  }
}

function holdersOf(map: ReplicaMap | undefined, shard: number): readonly string[] {
  return map?.placement[shard] ?? [];
}

function movesOf(map: ReplicaMap | undefined, shard: number): ReplicaMove[] {
  return (map?.moves ?? []).filter((move) => move.shard === shard);
}

function stayingOf(map: ReplicaMap, shard: number): string[] {
  const leaving = movesOf(map, shard).map((move) => move.from);
  return holdersOf(map, shard).filter((node) => !leaving.includes(node));
}

/** Throws with a description of the first broken invariant of `next` made from `previous`. */
function checkStep(previous: ReplicaMap | undefined, next: ReplicaMap, shards: number,
  replicas: number, cluster: Cluster, movesInFlightMax: number): void {
  const { nodes, draining } = cluster;
  if (next.placement.length !== shards) throw new Error(`${next.placement.length} shards`);
  const targets = [...nodes].filter(([node, state]) => state === "online" && !draining.has(node))
    .map(([node]) => node);
  if ((next.moves ?? []).length > movesInFlightMax) throw new Error(`${next.moves?.length} moves`);
  next.placement.forEach((holders, shard) => {
    if (new Set(holders).size !== holders.length) throw new Error(`shard ${shard}: ${holders.join()}`);
    const moves = movesOf(next, shard);
    for (const move of moves) {
      if (!holders.includes(move.from) || !holders.includes(move.to)) {
        throw new Error(`move ${JSON.stringify(move)} off the list ${holders.join()}`);
      }
    }
    const staying = stayingOf(next, shard);
    if (staying.length > replicas) throw new Error(`shard ${shard} keeps ${staying.join()}`);
    if (holders.length > replicas + moves.length) throw new Error(`shard ${shard}: ${holders.join()}`);
    const before = holdersOf(previous, shard);
    for (const node of holders) {
      const state = nodes.get(node);
      if (state !== "online" && state !== "offline") throw new Error(`${node} is ${state}`);
      if (!before.includes(node) && (state === "offline" || draining.has(node))) {
        throw new Error(`new replica of shard ${shard} on ${state} ${node}`);
      }
    }
    const full = staying.length === replicas || targets.every((node) => holders.includes(node));
    if (!full) throw new Error(`shard ${shard} short with spare online nodes: ${holders.join()}`);
    const had = cluster.dataHolders(previous, shard);
    const has = cluster.dataHolders(next, shard);
    if (previous !== undefined && has < Math.min(replicas, had)) {
      throw new Error(`shard ${shard}: ${has} replicas hold its data, ${had} did before ` +
        `(${before.join()} -> ${holders.join()})`);
    }
  });
  const decoded = decodeReplicaMap(encodeReplicaMap(next));
  if (!decoded.ok || JSON.stringify(decoded.value) !== JSON.stringify(next)) {
    throw new Error(`the codec does not round-trip ${encodeReplicaMap(next)}`);
  }
}

test("invariants hold through random joins, outages, faults, retirements, drains and catch-ups",
  (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
    const property = fc.property(
      fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(0, 1, replicationLimits.rebalanceMovesPerRoundMax),
      fc.integer({ min: 0, max: rebalanceMovesInFlightMax }),
      fc.integer({ min: 0, max: 5 }),
      fc.array(eventArbitrary, { minLength: 1, maxLength: 60 }),
      (shards, replicas, movesMax, inFlight, first, events) => {
        // half the runs start from a settled cluster of `first` nodes whose replicas hold data
        const cluster = new Cluster();
        for (const node of pool.slice(0, first)) cluster.nodes.set(node, "online");
        if (first > 0) settle(cluster, shards, replicas, 1_000);
        for (const event of events) {
          cluster.apply(event);
          const previous = cluster.map;
          const outcome = computeReplicaMap({ previous, shards, replicas, nodes: cluster.nodes,
            rebalanceMovesMax: movesMax, draining: cluster.draining, status: cluster.status(),
            movesInFlightMax: inFlight });
          checkStep(previous, outcome.map, shards, replicas, cluster, inFlight);
          if (outcome.rebalanced > movesMax) throw new Error(`${outcome.rebalanced} moves`);
          const short = outcome.map.placement.flatMap((_, shard) =>
            stayingOf(outcome.map, shard).length < replicas ? [shard] : []);
          if (JSON.stringify(short) !== JSON.stringify(outcome.underReplicated)) {
            throw new Error(`under-replicated ${outcome.underReplicated.join()} vs ${short.join()}`);
          }
          cluster.map = outcome.map;
          // a new shard has no data yet: its first replicas hold all of it
          if (previous === undefined) for (const node of pool) cluster.sync(node);
        }
      });
    t.notThrows(() => { fc.assert(property, { seed, numRuns: 300 }); }, `seed ${seed}`);
  });

/**
 * Runs rounds, every listed replica catching up after each, until nothing moves; checks every
 * step. Throws past `roundsMax`.
 */
function settle(cluster: Cluster, shards: number, replicas: number, roundsMax: number): number {
  for (let round = 0; round < roundsMax; round += 1) {
    const previous = cluster.map;
    const outcome = computeReplicaMap({ previous, shards, replicas, nodes: cluster.nodes,
      rebalanceMovesMax: replicationLimits.rebalanceMovesPerRoundMax,
      draining: cluster.draining, status: cluster.status() });
    checkStep(previous, outcome.map, shards, replicas, cluster, rebalanceMovesInFlightMax);
    cluster.map = outcome.map;
    for (const node of pool) cluster.sync(node);
    if (outcome.added === 0 && outcome.removed === 0 && (outcome.map.moves ?? []).length === 0) {
      return round;
    }
  }
  throw new Error(`did not settle in ${roundsMax} rounds`);
}

/** A settled map of `shards` × `replicas` over the online nodes `names`. */
function settled(shards: number, replicas: number, names: readonly string[]): ReplicaMap {
  const cluster = new Cluster();
  for (const node of names) cluster.nodes.set(node, "online");
  settle(cluster, shards, replicas, 1_000);
  if (cluster.map === undefined) throw new Error("no map");
  return cluster.map;
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

test("joins and drains settle within one replica of even, nothing left on drained nodes",
  (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
    const property = fc.property(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 3, max: 6 }), fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 2 }),
      (shards, replicas, first, joined, drained) => {
        // a cluster of `first` nodes settles, then `joined` more arrive empty and `drained`
        // of the first are retired while online
        const cluster = new Cluster();
        for (const node of pool.slice(0, first)) cluster.nodes.set(node, "online");
        settle(cluster, shards, replicas, 1_000);
        for (const node of pool.slice(first, first + joined)) cluster.nodes.set(node, "online");
        const leaving = pool.slice(0, Math.min(drained, first + joined - replicas));
        for (const node of leaving) cluster.draining.add(node);
        settle(cluster, shards, replicas, 4 * shards * replicas + 4);
        const map = cluster.map;
        if (map === undefined) throw new Error("no map");
        const names = pool.slice(0, first + joined).filter((node) => !leaving.includes(node));
        map.placement.forEach((holders, shard) => {
          if (holders.length !== replicas || holders.some((node) => !names.includes(node))) {
            throw new Error(`shard ${shard} on ${holders.join()}`);
          }
        });
        const loads = names.map((node) => map.placement.filter((h) => h.includes(node)).length);
        if (Math.max(...loads) - Math.min(...loads) > 1) throw new Error(`loads ${loads.join()}`);
      });
    t.notThrows(() => { fc.assert(property, { seed, numRuns: 100 }); }, `seed ${seed}`);
  });

test("moves in flight survive faults and partial catch-ups without losing data holders",
  (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
    const steps = fc.array(fc.oneof(
      fc.record({ kind: fc.constant("faulty"), node: fc.constantFrom(...pool.slice(0, 5)) }),
      fc.record({ kind: fc.constant("sync-one"), node: fc.constantFrom(...pool.slice(0, 7)),
        shard: fc.nat() }),
    ), { minLength: 1, maxLength: 16 });
    const property = fc.property(
      fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 3 }),
      fc.integer({ min: 3, max: 5 }), fc.integer({ min: 1, max: 2 }), steps,
      (shards, replicas, first, joined, events) => {
        // a settled cluster holding data; new nodes arrive; moves start; then nodes fail and
        // single replicas catch up, one round after each event
        const cluster = new Cluster();
        for (const node of pool.slice(0, first)) cluster.nodes.set(node, "online");
        settle(cluster, shards, replicas, 1_000);
        for (const node of pool.slice(first, first + joined)) cluster.nodes.set(node, "online");
        for (const event of [{ kind: "round" } as Event, ...events]) {
          cluster.apply(event);
          const previous = cluster.map;
          const outcome = computeReplicaMap({ previous, shards, replicas, nodes: cluster.nodes,
            rebalanceMovesMax: replicationLimits.rebalanceMovesPerRoundMax,
            status: cluster.status() });
          checkStep(previous, outcome.map, shards, replicas, cluster, rebalanceMovesInFlightMax);
          cluster.map = outcome.map;
        }
      });
    t.notThrows(() => { fc.assert(property, { seed, numRuns: 300 }); }, `seed ${seed}`);
  });

test("worked example: a move lists the new replica first and drops the old one once it and " +
  "R staying replicas caught up", (t) => {
  const shards = 4;
  const replicas = 3;
  const cluster = new Cluster();
  for (const node of ["n0", "n1", "n2"]) cluster.nodes.set(node, "online");
  settle(cluster, shards, replicas, 10);
  const before = cluster.map;
  cluster.nodes.set("n3", "online");
  const input = { shards, replicas, nodes: cluster.nodes, rebalanceMovesMax: 4 };
  const first = computeReplicaMap({ ...input, previous: before, status: cluster.status() });
  t.is(first.removed, 0, "the first map drops nothing");
  t.is(first.rebalanced, 3, "three moves even 12 replicas out over 4 nodes");
  t.is(first.added, 3);
  t.is(first.map.moves?.length, 3);
  for (const move of first.map.moves ?? []) {
    t.is(move.to, "n3");
    t.deepEqual([...(first.map.placement[move.shard] ?? [])].sort(), ["n0", "n1", "n2", "n3"]);
  }
  cluster.map = first.map;
  const waiting = computeReplicaMap({ ...input, previous: first.map, status: cluster.status() });
  t.deepEqual(waiting.map, first.map, "nothing changes before n3 caught up");
  const [one, two, three] = first.map.moves ?? [];
  if (one === undefined || two === undefined || three === undefined) {
    throw new Error("three moves expected");
  }
  cluster.holds.add(`${one.shard}/n3`);
  const half = computeReplicaMap({ ...input, previous: first.map, status: cluster.status() });
  t.is(half.movesDone, 1);
  t.deepEqual(half.map.moves, [two, three]);
  t.false(half.map.placement[one.shard]?.includes(one.from));
  cluster.map = half.map;
  // one staying replica behind (its node's status says lag 1): the second move waits
  cluster.holds.add(`${two.shard}/n3`);
  const stayer = (half.map.placement[two.shard] ?? []).find((node) =>
    node !== "n3" && node !== two.from) ?? "n0";
  cluster.holds.delete(`${two.shard}/${stayer}`);
  const behind = computeReplicaMap({ ...input, previous: half.map, status: cluster.status() });
  t.deepEqual(behind.map, half.map, "a drop waits for R caught-up staying replicas");
  // n3 goes faulty: the move is forgotten and the old replica stays
  const faulty = new Map(cluster.nodes).set("n3", "faulty");
  const lost = computeReplicaMap({ ...input, nodes: faulty, previous: half.map,
    status: cluster.status(), rebalanceMovesMax: 0 });
  t.deepEqual([...(lost.map.placement[two.shard] ?? [])].sort(), ["n0", "n1", "n2"]);
  t.is(lost.map.moves, undefined);
});

test("worked example: a drained node keeps its replicas until replacements caught up; a " +
  "node gone or retired with --force is dropped at once", (t) => {
  const shards = 2;
  const replicas = 2;
  const cluster = new Cluster();
  for (const node of ["n0", "n1"]) cluster.nodes.set(node, "online");
  settle(cluster, shards, replicas, 10);
  cluster.nodes.set("n2", "online");
  cluster.draining.add("n0");
  const input = { shards, replicas, nodes: cluster.nodes, draining: cluster.draining,
    rebalanceMovesMax: 4 };
  const first = computeReplicaMap({ ...input, previous: cluster.map, status: cluster.status() });
  t.is(first.removed, 0);
  t.is(first.drains, 2);
  t.deepEqual(first.map.placement.map((holders) => [...holders].sort()),
    [["n0", "n1", "n2"], ["n0", "n1", "n2"]]);
  const gone = new Map(cluster.nodes);
  gone.delete("n0");
  const forced = computeReplicaMap({ ...input, nodes: gone, draining: new Set(),
    previous: first.map, status: cluster.status() });
  t.deepEqual(forced.map.placement.map((holders) => [...holders].sort()),
    [["n1", "n2"], ["n1", "n2"]], "gone: dropped at once");
  t.is(forced.map.moves, undefined);
  cluster.map = first.map;
  cluster.sync("n2");
  const done = computeReplicaMap({ ...input, previous: first.map, status: cluster.status() });
  t.deepEqual(done.map.placement.map((holders) => [...holders].sort()),
    [["n1", "n2"], ["n1", "n2"]]);
  t.is(done.movesDone, 2);
  const alone = new Map<string, NodeState>([["n0", "online"], ["n1", "online"]]);
  const stuck = computeReplicaMap({ ...input, nodes: alone, previous: cluster.map,
    status: cluster.status() });
  t.deepEqual(stuck.map.placement.map((holders) => [...holders].sort()),
    [["n0", "n1"], ["n0", "n1"]], "with no node to move to, a drained node keeps its replicas");
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
  const moving: ReplicaMap = { shards: 2, replicas: 2, placement: [["a", "b", "c"], ["c"]],
    moves: [{ shard: 0, from: "a", to: "c" }] };
  t.deepEqual(decodeReplicaMap(encodeReplicaMap(moving)), { ok: true, value: moving });
  const bad = [
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]],"moves":[]}',
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]],"moves":[{"shard":1,"from":"a","to":"c"}]}',
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]],"moves":[{"shard":0,"from":"a","to":"d"}]}',
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]],"moves":[{"shard":0,"from":"a","to":"a"}]}',
    '{"shards":2,"replicas":1,"placement":[["a","b","c"],[]],"moves":[{"shard":0,"from":"a","to":"c"},{"shard":0,"from":"b","to":"c"}]}',
    '{"shards":2,"replicas":2,"placement":[["a","b","c"],[]],"moves":{"shard":0}}',
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
