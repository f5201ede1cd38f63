/**
 * The placement controller (DESIGN.md §4): one process in the cluster, elected through the
 * etcd election API (`<root>/election/placement-controller/`), keeps the replica map current.
 *
 * While it holds the election it runs rounds, one at a time: read the live nodes (a watched
 * copy of `<root>/nodes/`), the stored map and the offline records; decide the nodes' health
 * (node-health.ts) and the next map (replica-map.ts); write what changed in one transaction
 * fenced by its election key's create revision and the map's mod revision
 * (replica-map-store.ts). A round runs when a node's lease key appears or goes, when an
 * offline node reaches its dead time, when a node is retired, while the load is uneven every
 * `rebalanceRoundMs`, and while moves are in flight whenever a replica status record
 * (`<root>/replica-status/`, a watched copy) changes and at least every `movesRecheckMs`.
 *
 * Moves are add-then-drop (replica-map.ts): the new replica is listed next to the old one,
 * and the old one is dropped by a later round once the replica status says the new one
 * caught up, so a shard never lists fewer than R replicas that hold its data because of a
 * move.
 *
 * Retired nodes (`<root>/retired/<node>`, written by `pfs cluster remove-node`, a watched copy
 * like the live nodes) are left out of the health decision and their offline records are
 * deleted. One whose lease key is gone (stopped, or retired with `--force`, which deletes the
 * key) is dropped from the map at once, without waiting for the dead time. One still online
 * that the map lists is drained: it keeps its replicas, takes no new ones, and each is moved
 * away add-then-drop. A retired node online that the map does not list is ignored, with a
 * warning.
 *
 * When its lease is lost (or a fenced write finds it deposed) it stops at once, writes nothing
 * more, and campaigns again after `controllerRecampaignMs`. A deposed controller that has not
 * noticed yet cannot write either: the store refuses its fence.
 */
import type { Etcd3 } from "etcd3";
import {
  type Clock, type Logger, LimitError, PfsError, type Timer, assert,
} from "../../common/index.js";
import { PrefixCache, checkNodeName } from "../placement/index.js";
import { type Fence, type LeaderTerm, campaignForTerm } from "./leader-term.js";
import {
  controllerLeaseTtlSeconds, controllerRecampaignMs, healthRecordWritesPerRoundMax, nodesMax,
  placementTxnAttemptsMax, rebalanceMovesPerRoundMax, rebalanceRoundMs,
} from "./limits.js";
import {
  type NodeHealthOutcome, type NodeState, type OfflineRecord, decideNodeHealth,
} from "./node-health.js";
import { movesRecheckMs, rebalanceMovesInFlightMax } from "./rebalance-limits.js";
import {
  type ReplicaMapKeys, readOfflineRecords, readReplicaMap, writeReplicaMapFenced,
} from "./replica-map-store.js";
import {
  type ReplicaMap, type ReplicaStatusView, computeReplicaMap, encodeReplicaMap,
} from "./replica-map.js";
import {
  type ReplicaStatusRecord, decodeReplicaStatus, parseReplicaStatusKey, replicaStatusPrefix,
} from "./replica-status.js";

/** A fenced write found the term over: the round ends the term instead of retrying. */
class DeposedError extends PfsError {
  constructor(key: string) {
    super("FAILED_PRECONDITION", `deposed: the election key ${key} is gone`);
  }
}

export interface PlacementControllerOptions {
  /** A root client (fence keys are full keys). */
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  /** This node's name: what the election announces. */
  readonly node: string;
  /** S: fixed for the cluster's life; a stored map with another S stops the controller. */
  readonly shards: number;
  /** R. */
  readonly replicas: number;
  /** `--dead-time` in milliseconds. */
  readonly deadTimeMs: number;
  readonly keys: ReplicaMapKeys;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default `rebalanceMovesPerRoundMax`; 0 turns rebalancing off. */
  readonly rebalanceMovesPerRound?: number;
  /** Default `rebalanceRoundMs`. */
  readonly rebalanceRoundMs?: number;
  /** Default `rebalanceMovesInFlightMax` (its maximum); 0 starts no moves. */
  readonly movesInFlight?: number;
  /** Default `controllerLeaseTtlSeconds`. */
  readonly leaseTtlSeconds?: number;
}

/** What the controller has done, for status and tests. */
export interface PlacementControllerStats {
  readonly terms: number;
  readonly rounds: number;
  readonly writes: number;
  readonly deposed: number;
}

/**
 * The health writes of one round (plus deleting the records of retired nodes), cut to what
 * one transaction may carry.
 */
function boundedRecordWrites(health: NodeHealthOutcome, retiredRecords: readonly string[]): {
  put: Map<string, { offlineSinceWallMs: number }>; remove: string[]; cut: boolean;
} {
  const deletes = [...retiredRecords, ...health.recordsToDelete];
  const put = new Map([...health.recordsToPut].slice(0, healthRecordWritesPerRoundMax));
  const remove = deletes.slice(0, healthRecordWritesPerRoundMax - put.size);
  const cut = put.size + remove.length < health.recordsToPut.size + deletes.length;
  return { put, remove, cut };
}

/** Splits the offline records into those of nodes in service and the retired nodes' ones. */
function withoutRetired(all: ReadonlyMap<string, OfflineRecord>, retired: ReadonlySet<string>):
  { records: Map<string, OfflineRecord>; retiredRecords: string[] } {
  const records = new Map<string, OfflineRecord>();
  const retiredRecords: string[] = [];
  for (const [node, record] of all) {
    if (retired.has(node)) retiredRecords.push(node);
    else records.set(node, record);
  }
  return { records, retiredRecords };
}

/**
 * The replica status records of a watched copy of `<root>/replica-status/`, by shard and node;
 * a record whose key or value does not parse is left out (its replica's lag is unknown).
 */
function statusView(root: string, entries: ReadonlyMap<string, string>): ReplicaStatusView {
  const prefix = replicaStatusPrefix(root);
  const view = new Map<number, Map<string, ReplicaStatusRecord>>();
  for (const [suffix, value] of entries) {
    const parts = parseReplicaStatusKey(root, `${prefix}${suffix}`);
    const record = decodeReplicaStatus(value);
    if (!parts.ok || !record.ok) continue;
    let records = view.get(parts.value.shard);
    if (records === undefined) {
      records = new Map();
      view.set(parts.value.shard, records);
    }
    records.set(parts.value.node, record.value);
  }
  return view;
}

/**
 * What the moves in flight of `map` wait for, as a string that changes when it does: the lag
 * and finished count each listed replica of a shard with a move reports (entries keyed
 * `<shard>/<node>` as in the watched status prefix); undefined when no move is in flight.
 */
function movesStatusDigest(map: ReplicaMap | undefined, entries: ReadonlyMap<string, string>):
  string | undefined {
  const moves = map?.moves ?? [];
  if (moves.length === 0) return undefined;
  const parts: string[] = [];
  for (const shard of new Set(moves.map((move) => move.shard))) {
    for (const node of map?.placement[shard] ?? []) {
      const text = entries.get(`${shard}/${node}`);
      const record = text === undefined ? undefined : decodeReplicaStatus(text);
      parts.push(record?.ok === true ? `${shard}/${node}:${record.value.lag}/` +
        `${record.value.finished}` : `${shard}/${node}:-`);
    }
  }
  return parts.join(",");
}

/** The node states the map is computed from: the health decision plus the draining nodes. */
function mapStates(health: ReadonlyMap<string, NodeState>, draining: ReadonlySet<string>):
  Map<string, NodeState> {
  const states = new Map(health);
  for (const node of draining) states.set(node, "online");
  return states;
}

export class PlacementController {
  readonly #options: PlacementControllerOptions;
  readonly #closing = new AbortController();
  #term: LeaderTerm | undefined;
  #run: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stats = { terms: 0, rounds: 0, writes: 0, deposed: 0 };
  /** The last map this term computed, while it has moves in flight. */
  #moving: ReplicaMap | undefined;
  /** Retired nodes seen live, already warned about (so a round does not warn again). */
  readonly #warnedRetiredLive = new Set<string>();

  constructor(options: PlacementControllerOptions) {
    assert(options.deadTimeMs > 0, () => `dead time ${options.deadTimeMs} ms`);
    const movesInFlight = options.movesInFlight ?? rebalanceMovesInFlightMax;
    assert(Number.isSafeInteger(movesInFlight) && movesInFlight >= 0 &&
      movesInFlight <= rebalanceMovesInFlightMax, () => `moves in flight ${movesInFlight}`);
    assert(options.shards >= 1 && options.replicas >= 1, "S and R must be positive");
    checkNodeName(options.node);
    this.#options = options;
  }

  /** Starts campaigning; the controller then leads whenever it holds the election. */
  start(): void {
    assert(this.#run === undefined, "placement controller started twice");
    this.#run = this.#campaignLoop().catch((error: unknown) => {
      this.#options.logger.error("the placement controller stopped", { error });
    });
  }

  /** True while this process holds the election as far as it knows. */
  get leading(): boolean {
    return this.#term !== undefined && !this.#term.over.aborted;
  }

  /** The fence of the current term, when leading. */
  get fence(): Fence | undefined {
    return this.leading ? this.#term?.fence : undefined;
  }

  get stats(): PlacementControllerStats {
    return { ...this.#stats };
  }

  #closed(): boolean {
    return this.#closing.signal.aborted;
  }

  async #campaignLoop(): Promise<void> {
    const { logger, clock } = this.#options;
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      try {
        const term = await campaignForTerm({
          client: this.#options.client, root: this.#options.root, name: "placement-controller",
          value: this.#options.node, logger,
          leaseTtlSeconds: this.#options.leaseTtlSeconds ?? controllerLeaseTtlSeconds, signal,
        });
        this.#term = term;
        this.#stats.terms += 1;
        try {
          await this.#lead(term);
        } finally {
          // A term that ends here for any other reason than a lost lease is given up, so
          // the next campaign (ours or another's) is not stuck behind our own key.
          this.#term = undefined;
          if (!term.over.aborted) {
            await term.resign().catch((error: unknown) => {
              logger.warn("cannot resign the controller term (its lease will expire)", { error });
            });
          }
        }
      } catch (error: unknown) {
        if (!this.#closed()) logger.warn("placement controller term ended", { error });
      }
      this.#term = undefined;
      if (!this.#closed()) await clock.sleep(controllerRecampaignMs, signal).catch(() => undefined);
    }
  }

  /** Runs rounds until the term is over or the controller closes. */
  async #lead(term: LeaderTerm): Promise<void> {
    const { client, keys, logger, clock } = this.#options;
    const nodes = new PrefixCache(client, keys.nodes, logger);
    const retired = new PrefixCache(client, keys.retired, logger);
    const status = new PrefixCache(client, replicaStatusPrefix(this.#options.root), logger);
    const caches = [nodes, retired, status];
    for (const [index, cache] of caches.entries()) {
      await cache.start().catch(async (error: unknown) => {
        await Promise.all(caches.slice(0, index).map((started) => started.close()));
        throw error;
      });
    }
    let dirty = true;
    this.#moving = undefined;
    const wake = (): void => {
      dirty = true;
      this.#wake?.();
    };
    // Status records are written every catch-up scan; a round runs only when one that a move
    // in flight waits for says something new.
    let lastDigest: string | undefined;
    const wakeForMoves = (): void => {
      const digest = movesStatusDigest(this.#moving, status.entries);
      if (digest === undefined || digest === lastDigest) return;
      lastDigest = digest;
      wake();
    };
    const removeListeners = [nodes.onChange(wake), retired.onChange(wake),
      status.onChange(wakeForMoves)];
    const stop = (): void => { this.#wake?.(); };
    term.over.addEventListener("abort", stop);
    this.#closing.signal.addEventListener("abort", stop);
    try {
      while (!term.over.aborted && !this.#closing.signal.aborted) {
        let nextMs: number | undefined;
        if (dirty) {
          dirty = false;
          const retiredNow = new Set(retired.entries.keys());
          const statusNow = statusView(this.#options.root, status.entries);
          nextMs = await this.#round(term, nodes, retiredNow, statusNow).catch((error: unknown) => {
            if (error instanceof DeposedError) throw error;
            logger.error("placement round failed; retrying", { error });
            return this.#options.rebalanceRoundMs ?? rebalanceRoundMs;
          });
        }
        await new Promise<void>((resolve) => {
          let timer: Timer | undefined;
          this.#wake = () => {
            timer?.cancel();
            resolve();
          };
          if (term.over.aborted || this.#closing.signal.aborted || dirty) resolve();
          else if (nextMs !== undefined) timer = clock.setTimer(nextMs, wake);
        });
      }
    } finally {
      this.#wake = undefined;
      for (const removeListener of removeListeners) removeListener();
      term.over.removeEventListener("abort", stop);
      this.#closing.signal.removeEventListener("abort", stop);
      await Promise.all(caches.map((cache) => cache.close()));
    }
  }

  /**
   * The names under `<root>/nodes/` that can name a node: `live` those not retired, `retiredLive`
   * the retired ones.
   */
  #liveNodes(nodes: PrefixCache, retired: ReadonlySet<string>):
    { live: Set<string>; retiredLive: Set<string> } {
    const live = new Set<string>();
    const retiredLive = new Set<string>();
    for (const name of nodes.entries.keys()) {
      try {
        checkNodeName(name);
      } catch {
        this.#options.logger.warn("ignoring a node key with an invalid name", { name });
        continue;
      }
      if (retired.has(name)) retiredLive.add(name);
      else live.add(name);
    }
    for (const name of this.#warnedRetiredLive) {
      if (!nodes.entries.has(name)) this.#warnedRetiredLive.delete(name);
    }
    return { live, retiredLive };
  }

  /**
   * The retired nodes to drain: online ones the map lists. A retired node online that the map
   * does not list is warned about once while it stays online.
   */
  #draining(retiredLive: ReadonlySet<string>, map: ReplicaMap | undefined): Set<string> {
    const mapped = new Set(map?.placement.flat() ?? []);
    const draining = new Set<string>();
    for (const name of retiredLive) {
      if (mapped.has(name)) {
        draining.add(name);
      } else if (!this.#warnedRetiredLive.has(name)) {
        this.#warnedRetiredLive.add(name);
        this.#options.logger.warn("ignoring a retired node that is online " +
          "(pfs cluster remove-node retires a node for good; give it a new --name)", { name });
      }
    }
    return draining;
  }

  /**
   * One round: decide and write. Resolves with the wait before the next timed round
   * (undefined: only a change wakes it). Ends the term when the store says it is deposed.
   */
  async #round(term: LeaderTerm, nodes: PrefixCache, retired: ReadonlySet<string>,
    status: ReplicaStatusView): Promise<number | undefined> {
    const { client, keys, shards, replicas, clock, logger } = this.#options;
    for (let attempt = 0; attempt < placementTxnAttemptsMax; attempt += 1) {
      if (term.over.aborted) return undefined;
      this.#stats.rounds += 1;
      const stored = await readReplicaMap(client, keys);
      if (stored.map !== undefined && stored.map.shards !== shards) {
        throw new PfsError("FAILED_PRECONDITION", `the stored replica map has ` +
          `${stored.map.shards} shards; this cluster has ${shards}`);
      }
      const { records, retiredRecords } = withoutRetired(
        await readOfflineRecords(client, keys), retired);
      const nowWallMs = clock.wallMs();
      const { live, retiredLive } = this.#liveNodes(nodes, retired);
      const draining = this.#draining(retiredLive, stored.map);
      const health = decideNodeHealth({
        live, records, nowWallMs,
        deadTimeMs: this.#options.deadTimeMs,
        mapped: new Set((stored.map?.placement.flat() ?? []).filter((node) => !retired.has(node))),
      });
      if (health.states.size > nodesMax) {
        throw new LimitError("nodesMax", nodesMax, health.states.size);
      }
      const movesMax = this.#options.rebalanceMovesPerRound ?? rebalanceMovesPerRoundMax;
      const next = computeReplicaMap({ previous: stored.map, shards, replicas,
        nodes: mapStates(health.states, draining), rebalanceMovesMax: movesMax, draining, status,
        movesInFlightMax: this.#options.movesInFlight ?? rebalanceMovesInFlightMax });
      const moving = (next.map.moves?.length ?? 0) > 0;
      this.#moving = moving ? next.map : undefined;
      const changed = stored.map === undefined ||
        encodeReplicaMap(stored.map) !== encodeReplicaMap(next.map);
      const recordWrites = boundedRecordWrites(health, retiredRecords);
      const roundMs = this.#options.rebalanceRoundMs ?? rebalanceRoundMs;
      const timed = [
        ...(recordWrites.cut || (movesMax > 0 && !next.balanced) ? [roundMs] : []),
        ...(moving ? [movesRecheckMs] : []),
      ];
      const again = timed.length === 0 ? undefined : Math.min(...timed);
      const faultyInMs = health.nextChangeWallMs === undefined
        ? undefined : Math.max(0, health.nextChangeWallMs - nowWallMs);
      const nextMs = again === undefined ? faultyInMs : Math.min(again, faultyInMs ?? again);
      const nothingToWrite = !changed && recordWrites.put.size === 0 &&
        recordWrites.remove.length === 0;
      if (nothingToWrite) return nextMs;
      const outcome = await writeReplicaMapFenced(client, keys, term.fence, {
        map: changed ? next.map : undefined, expectedModRevision: stored.modRevision,
        recordsToPut: recordWrites.put, recordsToDelete: recordWrites.remove,
      });
      if (outcome === "written") {
        this.#stats.writes += 1;
        logger.info("replica map written", { added: next.added, removed: next.removed,
          rebalanced: next.rebalanced, drains: next.drains, movesDone: next.movesDone,
          movesInFlight: next.map.moves?.length ?? 0,
          underReplicated: next.underReplicated.length });
        return nextMs;
      }
      if (outcome === "deposed") {
        this.#stats.deposed += 1;
        throw new DeposedError(term.fence.key);
      }
    }
    logger.warn("the replica map kept changing under the controller; retrying later");
    return this.#options.rebalanceRoundMs ?? rebalanceRoundMs;
  }

  /** Stops: ends the current term (revoking its lease) and waits for the loop to finish. */
  async close(): Promise<void> {
    this.#closing.abort(new PfsError("FAILED_PRECONDITION", "placement controller closed"));
    this.#wake?.();
    await this.#run;
  }
}
