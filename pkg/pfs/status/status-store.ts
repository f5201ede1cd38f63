/**
 * Reads the coordination store for `pfs cluster status` and computes the status
 * (cluster-status.ts). One read per part: live nodes (`<root>/nodes/`), offline records
 * (`<root>/node-health/`), retired nodes (`<root>/retired/`), the replica map, shard masters
 * (`<root>/election/shard-master/<shard>/`: the key with the lowest create revision holds the
 * election, its value is the master's node), replica status records
 * (`<root>/replica-status/`), and the store's members and leader (MemberList and Maintenance
 * Status on one endpoint). The reads are not one snapshot: a change between two of them shows
 * up in the next status.
 *
 * Errors: UNAVAILABLE when the store cannot be read, DATA_CORRUPTED when the replica map or
 * an offline record does not parse, LIMIT_EXCEEDED past `statusKeysPerPrefixMax` keys under
 * one prefix. Malformed node records, status records and election keys are skipped: a status
 * shows what it can. Members that cannot be read leave every Raft role "".
 */
import type { Etcd3, IKeyValue } from "etcd3";
import {
  type Clock, LimitError, PfsError, SystemClock, assert,
} from "../../common/index.js";
import { parseNodeRecord } from "../placement/index.js";
import {
  type ReplicaStatusRecord, ReplicaMapKeys, decodeReplicaStatus, parseReplicaStatusKey,
  readOfflineRecords, readReplicaMap, replicaStatusPrefix,
} from "../replication/index.js";
import { type ClusterStatus, type RaftMember, computeClusterStatus } from "./cluster-status.js";
import { statusKeysPerPrefixMax } from "./limits.js";

/** What a status read needs. */
export interface ClusterStatusOptions {
  /** A root client (keys are full keys). */
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  /** S. */
  readonly shards: number;
  /** `--dead-time` in milliseconds: offline this long is faulty. */
  readonly deadTimeMs: number;
  /** Whose wall time decides offline against faulty; default the system clock. */
  readonly clock?: Clock;
}

/** UNAVAILABLE for a store call that failed. */
export function storeUnavailable(what: string, error: unknown): PfsError {
  const detail = error instanceof Error ? error.message : String(error);
  return new PfsError("UNAVAILABLE", `${what}: ${detail}`);
}

/** Every key under `prefix` (sorted by create revision, oldest first), within the bound. */
export async function readPrefix(client: Etcd3, prefix: string): Promise<IKeyValue[]> {
  const response = await client.getAll().prefix(prefix).sort("Create", "Ascend")
    .limit(statusKeysPerPrefixMax).exec()
    .catch((error: unknown) => { throw storeUnavailable(`cannot read ${prefix}`, error); });
  if (response.more) {
    throw new LimitError("statusKeysPerPrefixMax", statusKeysPerPrefixMax, Number(response.count));
  }
  return response.kvs;
}

function suffixOf(kv: IKeyValue, prefix: string): string {
  const key = kv.key.toString("utf8");
  assert(key.startsWith(prefix), () => `${key} is not under ${prefix}`);
  return key.slice(prefix.length);
}

async function liveNodes(client: Etcd3, keys: ReplicaMapKeys): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  for (const kv of await readPrefix(client, keys.nodes)) {
    const record = parseNodeRecord(kv.value.toString("utf8"));
    const name = suffixOf(kv, keys.nodes);
    live.set(name, record?.address ?? "");
  }
  return live;
}

/** The master of each shard with one: the oldest key of its election holds it. */
async function shardMasters(client: Etcd3, root: string, shards: number):
  Promise<Map<number, string>> {
  const prefix = `${root}/election/shard-master/`;
  const masters = new Map<number, string>();
  for (const kv of await readPrefix(client, prefix)) {
    const [shardText = "", leaseText = ""] = suffixOf(kv, prefix).split("/");
    const shard = Number(shardText);
    const valid = /^(0|[1-9][0-9]*)$/.test(shardText) && shard < shards && leaseText !== "";
    if (valid && !masters.has(shard)) masters.set(shard, kv.value.toString("utf8"));
  }
  return masters;
}

async function replicaStatuses(client: Etcd3, root: string):
  Promise<Map<number, Map<string, ReplicaStatusRecord>>> {
  const byShard = new Map<number, Map<string, ReplicaStatusRecord>>();
  for (const kv of await readPrefix(client, replicaStatusPrefix(root))) {
    const parts = parseReplicaStatusKey(root, kv.key.toString("utf8"));
    const record = decodeReplicaStatus(kv.value.toString("utf8"));
    if (!parts.ok || !record.ok) continue;
    const records = byShard.get(parts.value.shard) ?? new Map<string, ReplicaStatusRecord>();
    records.set(parts.value.node, record.value);
    byShard.set(parts.value.shard, records);
  }
  return byShard;
}

/** The store's members and its leader's id; none and "" when they cannot be read. */
export async function raftMembers(client: Etcd3):
  Promise<{ members: RaftMember[]; leaderMemberId: string }> {
  try {
    const [list, status] = await Promise.all([
      client.cluster.memberList({ linearizable: false }), client.maintenance.status(),
    ]);
    const members = list.members.map((member) =>
      ({ id: member.ID, name: member.name, isLearner: member.isLearner }));
    return { members, leaderMemberId: status.leader };
  } catch {
    return { members: [], leaderMemberId: "" };
  }
}

/** Reads the store and computes the cluster's status; errors in the module comment. */
export async function readClusterStatus(options: ClusterStatusOptions): Promise<ClusterStatus> {
  const { client, root, shards, deadTimeMs } = options;
  assert(deadTimeMs > 0, () => `dead time ${deadTimeMs} ms`);
  const keys = new ReplicaMapKeys(root);
  const [live, offline, retiredKeys, stored, masters, replicaStatus, raft] = await Promise.all([
    liveNodes(client, keys), readOfflineRecords(client, keys), readPrefix(client, keys.retired),
    readReplicaMap(client, keys), shardMasters(client, root, shards),
    replicaStatuses(client, root), raftMembers(client),
  ]);
  const map = stored.map !== undefined && stored.map.shards === shards ? stored.map : undefined;
  if (stored.map !== undefined && map === undefined) {
    throw new PfsError("FAILED_PRECONDITION", `the stored replica map has ` +
      `${stored.map.shards} shards; this cluster has ${shards}`);
  }
  return computeClusterStatus({
    shards, live, offline, map, masters, replicaStatus, deadTimeMs,
    retired: new Set(retiredKeys.map((kv) => suffixOf(kv, keys.retired))),
    members: raft.members, leaderMemberId: raft.leaderMemberId,
    nowWallMs: (options.clock ?? new SystemClock()).wallMs(),
  });
}
