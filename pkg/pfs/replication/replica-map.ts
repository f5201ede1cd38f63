/**
 * The replica map (DESIGN.md §4): which distinct nodes hold each of the S shards, the moves in
 * flight, and the pure function that computes the next map from the previous one, the nodes'
 * health and the replicas' reported status. No I/O; the placement controller stores the
 * result under `<root>/replica-map`.
 *
 * Moves are add-then-drop (like a Kubernetes maxSurge rollout or a Ceph backfill): a move
 * `{shard, from, to}` first lists `to` next to `from`, so the shard transiently lists more
 * than R nodes (every consumer treats every listed node as a replica: `to` catches up like any
 * newly placed replica); `from` is dropped in a later map, once `to` is online and reports lag
 * 0 with at least as many finished commits as `from` reports, and at least R staying
 * replicas of the shard are online with lag 0. So a move never leaves a shard with fewer than
 * R replicas that hold its data.
 *
 * The decision, in order, for every shard:
 * 1. keep each replica whose node is still usable (online, or offline for less than the dead
 *    time): a brief outage moves nothing, so the moves are as few as possible; a faulty, gone
 *    or force-retired node (absent from the input) is dropped at once;
 * 2. settle the previous moves: drop the `from` of each move that is done (above); forget a
 *    move whose `from` or `to` is gone, and cancel (drop `to`) one whose `to` is draining and
 *    not caught up;
 * 3. when the staying replicas (all but the `from` of moves in flight) exceed R (R went down),
 *    drop the surplus: offline first, then draining nodes, then the last listed;
 * 4. fill each missing replica on the online, non-draining node holding the fewest replicas
 *    that does not list the shard yet, ties broken by a stable hash of (shard, node) so equal
 *    nodes share the load; with fewer such nodes than R the shard stays under-replicated;
 * 5. while fewer than `movesInFlightMax` moves are in flight: start a move off each replica on
 *    a draining node (a retired node still online), then at most `rebalanceMovesMax` moves
 *    from the most loaded online node to the least loaded one while their loads differ by more
 *    than one (a shard with a move in flight is not rebalanced again). Loads count staying
 *    replicas only, so a move in flight already counts as done.
 *
 * Invariants of every map made here: `placement.length === shards`; each shard's nodes are
 * distinct and each is a node the input called online or offline; at most
 * `movesInFlightMax` moves, each `from` and `to` listed on its shard, no node in two moves of
 * one shard; a shard lists at most R + (its moves) nodes and at most R staying ones; a listed
 * replica is dropped only if its node left the input, went faulty, R went down, it is the
 * `from` of a move that is done, or the `to` (not caught up) of a cancelled one.
 */
import { assert, err, limits, ok, type Result } from "../../common/index.js";
import { checkNodeName, placementRank } from "../placement/index.js";
import { parseJsonRecord } from "./json-record.js";
import type { NodeState } from "./node-health.js";
import { replicaMapBytesMax } from "./limits.js";
import { rebalanceMovesInFlightMax } from "./rebalance-limits.js";
import type { ReplicaStatusRecord } from "./replica-status.js";

/** A replica move in flight: `to` is listed next to `from` until it has caught up. */
export interface ReplicaMove {
  readonly shard: number;
  /** The node leaving: dropped once `to` caught up. */
  readonly from: string;
  /** The node arriving: listed from the start, catching up. */
  readonly to: string;
}

/** Where every shard's replicas live. */
export interface ReplicaMap {
  /** S, the cluster's shard count. */
  readonly shards: number;
  /** R, the replicas each shard should have. */
  readonly replicas: number;
  /**
   * `placement[s]`: the distinct nodes holding shard s: at most R staying ones (fewer:
   * under-replicated) plus the `from` of each of its moves in flight.
   */
  readonly placement: readonly (readonly string[])[];
  /** The moves in flight, by shard then `to`; absent (as stored) when there are none. */
  readonly moves?: readonly ReplicaMove[];
}

/** Replica status as reported: `status.get(shard)?.get(node)`. */
export type ReplicaStatusView = ReadonlyMap<number, ReadonlyMap<string, ReplicaStatusRecord>>;

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
  /**
   * Nodes to empty (retired but still online; each must be in `nodes`): they keep their
   * replicas until replacements caught up and take no new ones. Default none.
   */
  readonly draining?: ReadonlySet<string>;
  /** What the replicas report (lag and finished commits); default nothing reported. */
  readonly status?: ReplicaStatusView;
  /** Most moves in flight, in [0, rebalanceMovesInFlightMax]; default that constant. */
  readonly movesInFlightMax?: number;
}

/** The next map and what it changed. */
export interface ReplicaMapOutcome {
  readonly map: ReplicaMap;
  /** Replicas placed on a node that did not hold the shard before (copies to make). */
  readonly added: number;
  /** Replicas of the previous map that are gone from this one. */
  readonly removed: number;
  /** How many of the added replicas start rebalancing moves. */
  readonly rebalanced: number;
  /** How many of the added replicas start moves off draining nodes. */
  readonly drains: number;
  /** Moves of the previous map that finished here (their `from` dropped). */
  readonly movesDone: number;
  /** Shards with fewer than R staying replicas, ascending. */
  readonly underReplicated: readonly number[];
  /** True when the online nodes' loads differ by at most one (nothing left to rebalance). */
  readonly balanced: boolean;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One shard while the next map is made: every listed node and the moves in flight. */
interface ShardPlan {
  readonly shard: number;
  holders: string[];
  moves: ReplicaMove[];
}

/** The nodes of a shard that stay: every listed one but the `from` of its moves. */
function stayingOf(plan: ShardPlan): string[] {
  return plan.holders.filter((node) => !plan.moves.some((move) => move.from === node));
}

function without(nodes: readonly string[], node: string): string[] {
  return nodes.filter((other) => other !== node);
}

/** Staying replicas held per node (every node of `nodes` appears). */
function loadsOf(plans: readonly ShardPlan[], nodes: ReadonlyMap<string, NodeState>):
  Map<string, number> {
  const loads = new Map<string, number>();
  for (const node of nodes.keys()) loads.set(node, 0);
  for (const plan of plans) {
    for (const node of stayingOf(plan)) loads.set(node, (loads.get(node) ?? 0) + 1);
  }
  return loads;
}

function addLoad(loads: Map<string, number>, node: string, delta: number): void {
  loads.set(node, (loads.get(node) ?? 0) + delta);
}

/** The previous replicas of a shard whose nodes are still usable, distinct, in order. */
function usableReplicas(previous: readonly string[], nodes: ReadonlyMap<string, NodeState>):
  string[] {
  const usable: string[] = [];
  for (const node of previous) {
    const state = nodes.get(node);
    if ((state === "online" || state === "offline") && !usable.includes(node)) usable.push(node);
  }
  return usable;
}

/** True when `node` is online and reports lag 0 for its replica of `shard`. */
function caughtUp(shard: number, node: string, nodes: ReadonlyMap<string, NodeState>,
  status: ReplicaStatusView | undefined): boolean {
  return nodes.get(node) === "online" && status?.get(shard)?.get(node)?.lag === 0;
}

/**
 * True when a move may drop its `from`: `to` caught up, with at least the finished commits
 * `from` reports (when it reports), and at least R staying replicas of the shard (the moves'
 * `from` left out) caught up, so the drop leaves R replicas that hold the shard's data.
 */
function moveDone(plan: ShardPlan, move: ReplicaMove, replicas: number,
  nodes: ReadonlyMap<string, NodeState>, status: ReplicaStatusView | undefined): boolean {
  if (!caughtUp(move.shard, move.to, nodes, status)) return false;
  const records = status?.get(move.shard);
  const leaving = records?.get(move.from);
  if (leaving !== undefined && (records?.get(move.to)?.finished ?? 0) < leaving.finished) {
    return false;
  }
  const current = stayingOf(plan).filter((node) => caughtUp(move.shard, node, nodes, status));
  return current.length >= replicas;
}

/**
 * Step 2: finishes, forgets or cancels the previous moves; returns how many finished. A move
 * whose `to` is draining and not caught up is cancelled (its `to` dropped: it holds nothing).
 */
function settleMoves(plans: readonly ShardPlan[], previous: readonly ReplicaMove[],
  replicas: number, nodes: ReadonlyMap<string, NodeState>, draining: ReadonlySet<string>,
  status: ReplicaStatusView | undefined): number {
  for (const move of previous) {
    const plan = plans[move.shard];
    if (plan?.holders.includes(move.from) === true && plan.holders.includes(move.to)) {
      plan.moves.push(move);
    }
  }
  let done = 0;
  for (const plan of plans) {
    for (const move of [...plan.moves]) {
      if (moveDone(plan, move, replicas, nodes, status)) {
        plan.holders = without(plan.holders, move.from);
        plan.moves = plan.moves.filter((other) => other !== move);
        done += 1;
      } else if (draining.has(move.to) && !caughtUp(move.shard, move.to, nodes, status)) {
        plan.holders = without(plan.holders, move.to);
        plan.moves = plan.moves.filter((other) => other !== move);
      }
    }
  }
  return done;
}

/**
 * Step 3: with more than R staying replicas (R went down) the shard's moves are cancelled
 * (their `to` dropped) and the surplus dropped: offline nodes first, then draining ones, then
 * the last listed.
 */
function dropSurplus(plan: ShardPlan, replicas: number, nodes: ReadonlyMap<string, NodeState>,
  draining: ReadonlySet<string>): void {
  if (stayingOf(plan).length <= replicas) return;
  for (const move of plan.moves) plan.holders = without(plan.holders, move.to);
  plan.moves = [];
  while (plan.holders.length > replicas) {
    const drop = plan.holders.find((node) => nodes.get(node) === "offline") ??
      plan.holders.find((node) => draining.has(node)) ?? plan.holders[plan.holders.length - 1];
    assert(drop !== undefined, "a surplus without replicas");
    plan.holders = without(plan.holders, drop);
  }
}

/** The target node to add to `holders` of `shard`: fewest replicas, then smallest rank. */
function chooseTarget(shard: number, holders: readonly string[], targets: readonly string[],
  loads: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const node of targets) {
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

/** The most and least loaded target nodes (ties by name), or undefined with none. */
function extremes(targets: readonly string[], loads: ReadonlyMap<string, number>):
  { most: string; least: string; spread: number } | undefined {
  const first = targets[0];
  if (first === undefined) return undefined;
  let most = first;
  let least = first;
  for (const node of targets) {
    const load = loads.get(node) ?? 0;
    if (load > (loads.get(most) ?? 0)) most = node;
    if (load < (loads.get(least) ?? 0)) least = node;
  }
  return { most, least, spread: (loads.get(most) ?? 0) - (loads.get(least) ?? 0) };
}

/** Starts the move of `from`'s replica of `plan` to `to`. */
function startMove(plan: ShardPlan, from: string, to: string, loads: Map<string, number>): void {
  plan.holders.push(to);
  plan.moves.push({ shard: plan.shard, from, to });
  addLoad(loads, from, -1);
  addLoad(loads, to, 1);
}

function movesIn(plans: readonly ShardPlan[]): number {
  return plans.reduce((sum, plan) => sum + plan.moves.length, 0);
}

/** Step 5, draining: a move off every staying replica on a draining node, within `room`. */
function drain(plans: readonly ShardPlan[], draining: ReadonlySet<string>,
  targets: readonly string[], loads: Map<string, number>, room: number): number {
  let started = 0;
  for (const plan of plans) {
    for (const node of stayingOf(plan)) {
      if (started >= room) return started;
      if (!draining.has(node)) continue;
      const target = chooseTarget(plan.shard, plan.holders, targets, loads);
      if (target === undefined) continue;
      startMove(plan, node, target, loads);
      started += 1;
    }
  }
  return started;
}

/**
 * Step 5, rebalancing: at most `movesMax` moves from the most to the least loaded target node
 * while their loads differ by more than one, each on a shard without a move in flight that
 * the fuller node holds and the emptier one does not list.
 */
function rebalance(plans: readonly ShardPlan[], targets: readonly string[],
  loads: Map<string, number>, movesMax: number): number {
  let moves = 0;
  while (moves < movesMax) {
    const ends = extremes(targets, loads);
    if (ends === undefined || ends.spread <= 1) break;
    let chosen: ShardPlan | undefined;
    let chosenRank = Number.POSITIVE_INFINITY;
    for (const plan of plans) {
      if (plan.moves.length > 0 || !plan.holders.includes(ends.most) ||
        plan.holders.includes(ends.least)) continue;
      const rank = placementRank(plan.shard, ends.least);
      if (rank < chosenRank) {
        chosen = plan;
        chosenRank = rank;
      }
    }
    if (chosen === undefined) break;
    startMove(chosen, ends.most, ends.least, loads);
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

function compareMoves(a: ReplicaMove, b: ReplicaMove): number {
  return a.shard - b.shard || compareNames(a.to, b.to);
}

/** Computes the next replica map; see the module comment for the rules. Pure. */
export function computeReplicaMap(input: ReplicaMapInput): ReplicaMapOutcome {
  const { previous, shards, replicas, nodes } = input;
  const draining = input.draining ?? new Set<string>();
  const movesInFlightMax = input.movesInFlightMax ?? rebalanceMovesInFlightMax;
  assert(Number.isSafeInteger(shards) && shards >= 1, () => `shard count ${shards}`);
  assert(Number.isSafeInteger(replicas) && replicas >= 1, () => `replica count ${replicas}`);
  assert(previous === undefined || previous.shards === shards,
    () => `previous map has ${previous?.shards} shards, not ${shards}`);
  assert(Number.isSafeInteger(movesInFlightMax) && movesInFlightMax >= 0 &&
    movesInFlightMax <= rebalanceMovesInFlightMax, () => `moves in flight ${movesInFlightMax}`);
  const online = [...nodes].filter(([, state]) => state === "online").map(([node]) => node)
    .sort(compareNames);
  const targets = online.filter((node) => !draining.has(node));
  const plans: ShardPlan[] = [];
  for (let shard = 0; shard < shards; shard += 1) {
    plans.push({ shard, holders: usableReplicas(previous?.placement[shard] ?? [], nodes),
      moves: [] });
  }
  const movesDone = settleMoves(plans, previous?.moves ?? [], replicas, nodes, draining,
    input.status);
  for (const plan of plans) dropSurplus(plan, replicas, nodes, draining);
  const loads = loadsOf(plans, nodes);
  for (const plan of plans) {
    while (stayingOf(plan).length < replicas) {
      const target = chooseTarget(plan.shard, plan.holders, targets, loads);
      if (target === undefined) break;
      plan.holders.push(target);
      addLoad(loads, target, 1);
    }
  }
  const drains = drain(plans, draining, targets, loads,
    Math.max(0, movesInFlightMax - movesIn(plans)));
  const rebalanced = rebalance(plans, targets, loads,
    Math.min(input.rebalanceMovesMax, Math.max(0, movesInFlightMax - movesIn(plans))));
  const placement = plans.map((plan) => plan.holders);
  const moves = plans.flatMap((plan) => plan.moves).sort(compareMoves);
  const added = countNew(previous?.placement, placement);
  const kept = placement.reduce((sum, holders) => sum + holders.length, 0) - added;
  const before = previous?.placement.reduce((sum, holders) => sum + holders.length, 0) ?? 0;
  assert(kept <= before, () => `kept ${kept} replicas of ${before}`);
  const spread = extremes(targets, loads)?.spread ?? 0;
  const underReplicated = plans.filter((plan) => stayingOf(plan).length < replicas)
    .map((plan) => plan.shard);
  return {
    map: moves.length === 0 ? { shards, replicas, placement }
      : { shards, replicas, placement, moves },
    added, removed: before - kept, rebalanced, drains, movesDone, underReplicated,
    balanced: spread <= 1,
  };
}

/** The map as stored: JSON, one object (`moves` only when some are in flight). */
export function encodeReplicaMap(map: ReplicaMap): string {
  const moves = map.moves ?? [];
  const text = JSON.stringify(moves.length === 0
    ? { shards: map.shards, replicas: map.replicas, placement: map.placement }
    : { shards: map.shards, replicas: map.replicas, placement: map.placement,
      moves: moves.map((move) => ({ shard: move.shard, from: move.from, to: move.to })) });
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

function checkNodeLists(placement: unknown, shards: number): Result<string[][], string> {
  if (!Array.isArray(placement) || placement.length !== shards) {
    return err(`placement must be an array of ${shards} shards`);
  }
  const checked: string[][] = [];
  for (const [shard, holders] of (placement as unknown[]).entries()) {
    if (!Array.isArray(holders)) return err(`shard ${shard} must have an array of nodes`);
    const names = holders as unknown[];
    if (!names.every(isNodeName)) return err(`shard ${shard} names an invalid node`);
    if (new Set(names).size !== names.length) return err(`shard ${shard} repeats a node`);
    checked.push(names);
  }
  return ok(checked);
}

/** Checks the stored moves against the placement: listed nodes, no node in two moves. */
function checkMoves(moves: unknown, placement: readonly (readonly string[])[]):
  Result<ReplicaMove[], string> {
  if (moves === undefined) return ok([]);
  if (!Array.isArray(moves) || moves.length > rebalanceMovesInFlightMax) {
    return err(`moves must be an array of at most ${rebalanceMovesInFlightMax}`);
  }
  const checked: ReplicaMove[] = [];
  for (const [index, value] of (moves as unknown[]).entries()) {
    if (typeof value !== "object" || value === null) return err(`move ${index} is not an object`);
    const { shard, from, to } = value as Record<string, unknown>;
    const holders = typeof shard === "number" ? placement[shard] : undefined;
    if (holders === undefined || !Number.isSafeInteger(shard)) {
      return err(`move ${index} names no shard of the map`);
    }
    if (!isNodeName(from) || !isNodeName(to) || from === to || !holders.includes(from) ||
      !holders.includes(to)) return err(`move ${index} must join two nodes its shard lists`);
    const move = { shard: shard as number, from, to };
    const busy = checked.some((other) => other.shard === move.shard &&
      [other.from, other.to].some((node) => node === from || node === to));
    if (busy) return err(`move ${index} shares a node with another move of shard ${move.shard}`);
    checked.push(move);
  }
  return ok(checked);
}

/** Parses a stored map; an error string says what is wrong (the caller maps it). */
export function decodeReplicaMap(text: string): Result<ReplicaMap, string> {
  if (text.length > replicaMapBytesMax) return err(`${text.length} B above ${replicaMapBytesMax}`);
  const parsed = parseJsonRecord(text);
  if (!parsed.ok) return parsed;
  const { shards, replicas, placement, moves } = parsed.value;
  if (typeof shards !== "number" || !Number.isSafeInteger(shards) || shards < 1 ||
    shards > limits.pfsShardsMax) return err(`shards ${String(shards)} outside [1, ${limits.pfsShardsMax}]`);
  if (typeof replicas !== "number" || !Number.isSafeInteger(replicas) || replicas < 1 ||
    replicas > limits.pfsReplicasMax) {
    return err(`replicas ${String(replicas)} outside [1, ${limits.pfsReplicasMax}]`);
  }
  const lists = checkNodeLists(placement, shards);
  if (!lists.ok) return lists;
  const checkedMoves = checkMoves(moves, lists.value);
  if (!checkedMoves.ok) return checkedMoves;
  for (const [shard, holders] of lists.value.entries()) {
    const leaving = checkedMoves.value.filter((move) => move.shard === shard).length;
    if (holders.length > replicas + leaving) {
      return err(`shard ${shard} lists ${holders.length} nodes: more than ${replicas} ` +
        `replicas and ${leaving} moves`);
    }
  }
  return ok(checkedMoves.value.length === 0
    ? { shards, replicas, placement: lists.value }
    : { shards, replicas, placement: lists.value, moves: checkedMoves.value });
}
