/**
 * `pfs cluster status`, decided purely from a snapshot of the coordination store: every known
 * node (online, offline or faulty, its Raft role, the shards it masters and holds) and every
 * shard (its master, its replicas from the replica map, their lag, whether it is
 * under-replicated). The answer is the pfs.API ClusterStatusResponse message itself.
 *
 * Rules:
 * - known nodes: live lease keys, offline records, nodes named by the replica map and shard
 *   masters; a retired node is left out unless the map or an election still names it;
 * - health: node-health.ts's `nodeStateOf` (offline for the dead time or longer is faulty);
 * - Raft role: the coordination store's member named like the node: "learner" when it is
 *   one, "leader" when its id is the leader's, else "follower"; "" without such a member;
 * - lag: a replica's is its status record's (-1: no record); a shard's is the largest
 *   reported one (-1: no replica reported);
 * - under-replicated: no map, fewer than R replicas, or a replica that is not online.
 *
 * Invariants of every answer: nodes sorted by id, shards in order 0..S-1, lists ascending.
 */
import { assert } from "../../common/index.js";
import type {
  ClusterStatusResponse, NodeStatusMessage, ReplicaStatusMessage, ShardStatusMessage,
} from "../../proto/index.js";
import {
  type NodeState, type OfflineRecord, type ReplicaMap, type ReplicaStatusRecord, nodeStateOf,
} from "../replication/index.js";
import { wireCountMax } from "./limits.js";

/** The cluster's status: the wire message, snake_case as it goes out. */
export type ClusterStatus = ClusterStatusResponse;

/** A member of the coordination store, as its member list says. */
export interface RaftMember {
  /** The member id, decimal. */
  readonly id: string;
  /** Its --name: a pfs node's id when pfsd runs the member. */
  readonly name: string;
  readonly isLearner: boolean;
}

/** What the status is computed from: one read of each part of the store. */
export interface ClusterSnapshot {
  /** S. */
  readonly shards: number;
  /** Live nodes (lease key present) and their pfs API address. */
  readonly live: ReadonlyMap<string, string>;
  readonly offline: ReadonlyMap<string, OfflineRecord>;
  readonly retired: ReadonlySet<string>;
  readonly map: ReplicaMap | undefined;
  /** Each shard's elected master, when it has one. */
  readonly masters: ReadonlyMap<number, string>;
  /** Replica status records by shard, then node. */
  readonly replicaStatus: ReadonlyMap<number, ReadonlyMap<string, ReplicaStatusRecord>>;
  /** The store's members; empty when they could not be read. */
  readonly members: readonly RaftMember[];
  /** The Raft leader's member id (decimal); "" when unknown. */
  readonly leaderMemberId: string;
  readonly nowWallMs: number;
  /** The dead time, in milliseconds (> 0). */
  readonly deadTimeMs: number;
}

function wireCount(value: number): number {
  return Math.min(value, wireCountMax);
}

function knownNodes(snapshot: ClusterSnapshot): string[] {
  const named = new Set<string>([...(snapshot.map?.placement.flat() ?? []),
    ...snapshot.masters.values()]);
  const known = new Set<string>([...snapshot.live.keys(), ...snapshot.offline.keys()]);
  for (const node of [...known]) if (snapshot.retired.has(node)) known.delete(node);
  for (const node of named) known.add(node);
  return [...known].sort();
}

function raftRoleOf(node: string, snapshot: ClusterSnapshot): NodeStatusMessage["raft_role"] {
  const member = snapshot.members.find((candidate) => candidate.name === node);
  if (member === undefined) return "";
  if (member.isLearner) return "learner";
  return member.id === snapshot.leaderMemberId ? "leader" : "follower";
}

function nodeStatus(node: string, state: NodeState, snapshot: ClusterSnapshot):
  NodeStatusMessage {
  const mastered: number[] = [];
  for (const [shard, master] of snapshot.masters) if (master === node) mastered.push(shard);
  const held: number[] = [];
  snapshot.map?.placement.forEach((holders, shard) => {
    if (holders.includes(node)) held.push(shard);
  });
  return {
    id: node, address: state === "online" ? snapshot.live.get(node) ?? "" : "",
    raft_role: raftRoleOf(node, snapshot), online: state === "online", faulty: state === "faulty",
    shards_mastered: mastered.sort((a, b) => a - b), shards_held: held,
  };
}

function shardStatus(shard: number, states: ReadonlyMap<string, NodeState>,
  snapshot: ClusterSnapshot): ShardStatusMessage {
  const replicas = [...(snapshot.map?.placement[shard] ?? [])];
  const records = snapshot.replicaStatus.get(shard);
  const replicaStatus: ReplicaStatusMessage[] = replicas.map((node) => {
    const record = records?.get(node);
    return { node, lag: record === undefined ? -1 : wireCount(record.lag),
      finished: record === undefined ? -1 : wireCount(record.finished),
      online: states.get(node) === "online" };
  });
  const reported = replicaStatus.filter((replica) => replica.lag >= 0);
  const lag = reported.length === 0 ? -1 : Math.max(...reported.map((replica) => replica.lag));
  const r = snapshot.map?.replicas ?? 0;
  const underReplicated = snapshot.map === undefined || replicas.length < r ||
    replicaStatus.some((replica) => !replica.online);
  return { shard, master: snapshot.masters.get(shard) ?? "", replicas, lag,
    under_replicated: underReplicated, r, replica_status: replicaStatus };
}

/** The status the snapshot describes; see the module comment for the rules. */
export function computeClusterStatus(snapshot: ClusterSnapshot): ClusterStatus {
  assert(Number.isSafeInteger(snapshot.shards) && snapshot.shards >= 1,
    () => `shard count ${snapshot.shards}`);
  assert(snapshot.map === undefined || snapshot.map.shards === snapshot.shards,
    () => `a replica map of ${snapshot.map?.shards} shards in a cluster of ${snapshot.shards}`);
  const states = new Map<string, NodeState>();
  for (const node of knownNodes(snapshot)) {
    states.set(node, nodeStateOf(snapshot.live.has(node) && !snapshot.retired.has(node),
      snapshot.offline.get(node), snapshot.nowWallMs, snapshot.deadTimeMs));
  }
  const nodes = [...states].map(([node, state]) => nodeStatus(node, state, snapshot));
  const shards = Array.from({ length: snapshot.shards },
    (_, shard) => shardStatus(shard, states, snapshot));
  return { nodes, shards };
}
