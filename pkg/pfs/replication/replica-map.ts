/**
 * The replica map (DESIGN.md §4): which R distinct nodes hold each of the S shards, and the
 * pure function that computes the next map from the previous one and the nodes' health. No
 * I/O; the placement controller stores the result under `<root>/replica-map`.
 *
 * The decision, in order, for every shard:
 * 1. keep each replica whose node is still usable (online, or offline for less than the dead
 *    time): a brief outage moves nothing, so the moves are as few as possible;
 * 2. when R went down, drop the surplus (replicas on offline nodes first);
 * 3. fill each missing replica on the online node holding the fewest replicas that does not
 *    hold the shard yet, ties broken by a stable hash of (shard, node) so equal nodes share
 *    the load; with fewer usable nodes than R the shard stays under-replicated;
 * 4. then, at most `rebalanceMovesMax` times, move one replica from the most loaded online
 *    node to the least loaded one while their loads differ by more than one.
 *
 * Invariants of every map made here: `placement.length === shards`; each shard's nodes are
 * distinct, at most `replicas` of them, and each is a node the input called online or offline.
 */
import { assert, err, limits, ok, type Result } from "../../common/index.js";
import { checkNodeName, placementRank } from "../placement/index.js";
import { parseJsonRecord } from "./json-record.js";
import type { NodeState } from "./node-health.js";
import { replicaMapBytesMax } from "./limits.js";

/** Where every shard's replicas live. */
export interface ReplicaMap {
  /** S, the cluster's shard count. */
  readonly shards: number;
  /** R, the replicas each shard should have. */
  readonly replicas: number;
  /** `placement[s]`: the distinct nodes holding shard s, at most R (fewer: under-replicated). */
  readonly placement: readonly (readonly string[])[];
}

/** What the next map is computed from. */
export interface ReplicaMapInput {
  /** The map in force, or undefined for a new cluster. Its shard count must be `shards`. */
  readonly previous: ReplicaMap | undefined;
  readonly shards: number;
  readonly replicas: number;
  /** Every node the controller knows and its state; a node missing here counts as gone. */
  readonly nodes: ReadonlyMap<string, NodeState>;
  /** Most rebalancing moves this round (0: none). */
  readonly rebalanceMovesMax: number;
}

/** The next map and what it changed. */
export interface ReplicaMapOutcome {
  readonly map: ReplicaMap;
  /** Replicas placed on a node that did not hold the shard before (copies to make). */
  readonly added: number;
  /** Replicas of the previous map that are gone from this one. */
  readonly removed: number;
  /** How many of the added replicas are rebalancing moves. */
  readonly rebalanced: number;
  /** Shards with fewer than R replicas, ascending. */
  readonly underReplicated: readonly number[];
  /** True when the online nodes' loads differ by at most one (nothing left to rebalance). */
  readonly balanced: boolean;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Replicas held per node, over the given placement (every node of `nodes` appears). */
function loadsOf(placement: readonly (readonly string[])[],
  nodes: ReadonlyMap<string, NodeState>): Map<string, number> {
  const loads = new Map<string, number>();
  for (const node of nodes.keys()) loads.set(node, 0);
  for (const holders of placement) {
    for (const node of holders) loads.set(node, (loads.get(node) ?? 0) + 1);
  }
  return loads;
}

/** The previous replicas of a shard that stay: usable, distinct, at most R. */
function keptReplicas(previous: readonly string[], replicas: number,
  nodes: ReadonlyMap<string, NodeState>): string[] {
  const usable: string[] = [];
  for (const node of previous) {
    const state = nodes.get(node);
    if ((state === "online" || state === "offline") && !usable.includes(node)) usable.push(node);
  }
  while (usable.length > replicas) {
    const offline = usable.findIndex((node) => nodes.get(node) === "offline");
    usable.splice(offline >= 0 ? offline : usable.length - 1, 1);
  }
  return usable;
}

/** The online node to add to `holders` of `shard`: fewest replicas, then smallest rank. */
function chooseTarget(shard: number, holders: readonly string[], online: readonly string[],
  loads: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const node of online) {
    if (holders.includes(node)) continue;
    const load = loads.get(node) ?? 0;
    if (load > bestLoad) continue;
    const rank = placementRank(shard, node);
    if (load < bestLoad || rank < bestRank) {
      best = node;
      bestLoad = load;
      bestRank = rank;
    }
  }
  return best;
}

/** The most and least loaded online nodes (ties by name), or undefined with none. */
function extremes(online: readonly string[], loads: ReadonlyMap<string, number>):
  { most: string; least: string; spread: number } | undefined {
  const first = online[0];
  if (first === undefined) return undefined;
  let most = first;
  let least = first;
  for (const node of online) {
    const load = loads.get(node) ?? 0;
    if (load > (loads.get(most) ?? 0)) most = node;
    if (load < (loads.get(least) ?? 0)) least = node;
  }
  return { most, least, spread: (loads.get(most) ?? 0) - (loads.get(least) ?? 0) };
}

/**
 * Moves at most `movesMax` replicas from the most to the least loaded online node while their
 * loads differ by more than one; returns the number of moves. A move always exists then: the
 * fuller node holds more shards, so at least one of them is not on the emptier node.
 */
function rebalance(placement: string[][], online: readonly string[], loads: Map<string, number>,
  movesMax: number): number {
  let moves = 0;
  while (moves < movesMax) {
    const ends = extremes(online, loads);
    if (ends === undefined || ends.spread <= 1) break;
    let chosen = -1;
    let chosenRank = Number.POSITIVE_INFINITY;
    for (let shard = 0; shard < placement.length; shard += 1) {
      const holders = placement[shard] ?? [];
      if (!holders.includes(ends.most) || holders.includes(ends.least)) continue;
      const rank = placementRank(shard, ends.least);
      if (rank < chosenRank) {
        chosen = shard;
        chosenRank = rank;
      }
    }
    const holders = placement[chosen];
    assert(holders !== undefined, () => `no shard movable from ${ends.most} to ${ends.least}`);
    holders[holders.indexOf(ends.most)] = ends.least;
    loads.set(ends.most, (loads.get(ends.most) ?? 0) - 1);
    loads.set(ends.least, (loads.get(ends.least) ?? 0) + 1);
    moves += 1;
  }
  return moves;
}

/** Counts the (shard, node) pairs of `next` that `previous` lacks. */
function countNew(previous: readonly (readonly string[])[] | undefined,
  next: readonly (readonly string[])[]): number {
  let count = 0;
  next.forEach((holders, shard) => {
    const before = previous?.[shard] ?? [];
    for (const node of holders) if (!before.includes(node)) count += 1;
  });
  return count;
}

/** Computes the next replica map; see the module comment for the rules. Pure. */
export function computeReplicaMap(input: ReplicaMapInput): ReplicaMapOutcome {
  const { previous, shards, replicas, nodes } = input;
  assert(Number.isSafeInteger(shards) && shards >= 1, () => `shard count ${shards}`);
  assert(Number.isSafeInteger(replicas) && replicas >= 1, () => `replica count ${replicas}`);
  assert(previous === undefined || previous.shards === shards,
    () => `previous map has ${previous?.shards} shards, not ${shards}`);
  const online = [...nodes].filter(([, state]) => state === "online").map(([node]) => node)
    .sort(compareNames);
  const placement: string[][] = [];
  for (let shard = 0; shard < shards; shard += 1) {
    placement.push(keptReplicas(previous?.placement[shard] ?? [], replicas, nodes));
  }
  const loads = loadsOf(placement, nodes);
  const underReplicated: number[] = [];
  placement.forEach((holders, shard) => {
    while (holders.length < replicas) {
      const target = chooseTarget(shard, holders, online, loads);
      if (target === undefined) break;
      holders.push(target);
      loads.set(target, (loads.get(target) ?? 0) + 1);
    }
    if (holders.length < replicas) underReplicated.push(shard);
  });
  const rebalanced = rebalance(placement, online, loads, input.rebalanceMovesMax);
  const added = countNew(previous?.placement, placement);
  const kept = placement.reduce((sum, holders) => sum + holders.length, 0) - added;
  const before = previous?.placement.reduce((sum, holders) => sum + holders.length, 0) ?? 0;
  assert(kept <= before, () => `kept ${kept} replicas of ${before}`);
  const spread = extremes(online, loads)?.spread ?? 0;
  return {
    map: { shards, replicas, placement },
    added, removed: before - kept, rebalanced, underReplicated, balanced: spread <= 1,
  };
}

/** The map as stored: JSON, one object. */
export function encodeReplicaMap(map: ReplicaMap): string {
  const text = JSON.stringify({ shards: map.shards, replicas: map.replicas,
    placement: map.placement });
  assert(text.length <= replicaMapBytesMax, () => `replica map of ${text.length} B`);
  return text;
}

function isNodeName(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    checkNodeName(value);
    return true;
  } catch {
    return false;
  }
}

function checkPlacement(placement: unknown, shards: number, replicas: number):
  Result<string[][], string> {
  if (!Array.isArray(placement) || placement.length !== shards) {
    return err(`placement must be an array of ${shards} shards`);
  }
  const checked: string[][] = [];
  for (const [shard, holders] of (placement as unknown[]).entries()) {
    if (!Array.isArray(holders) || holders.length > replicas) {
      return err(`shard ${shard} must have an array of at most ${replicas} nodes`);
    }
    const names = holders as unknown[];
    if (!names.every(isNodeName)) return err(`shard ${shard} names an invalid node`);
    if (new Set(names).size !== names.length) return err(`shard ${shard} repeats a node`);
    checked.push(names);
  }
  return ok(checked);
}

/** Parses a stored map; an error string says what is wrong (the caller maps it). */
export function decodeReplicaMap(text: string): Result<ReplicaMap, string> {
  if (text.length > replicaMapBytesMax) return err(`${text.length} B above ${replicaMapBytesMax}`);
  const parsed = parseJsonRecord(text);
  if (!parsed.ok) return parsed;
  const { shards, replicas, placement } = parsed.value;
  if (typeof shards !== "number" || !Number.isSafeInteger(shards) || shards < 1 ||
    shards > limits.pfsShardsMax) return err(`shards ${String(shards)} outside [1, ${limits.pfsShardsMax}]`);
  if (typeof replicas !== "number" || !Number.isSafeInteger(replicas) || replicas < 1 ||
    replicas > limits.pfsReplicasMax) {
    return err(`replicas ${String(replicas)} outside [1, ${limits.pfsReplicasMax}]`);
  }
  const checked = checkPlacement(placement, shards, replicas);
  if (!checked.ok) return checked;
  return ok({ shards, replicas, placement: checked.value });
}
