/**
 * The replica map and the offline records in the coordination store: where they live, how
 * they are read, and the one fenced transaction that writes them.
 *
 * Keys: `<root>/replica-map` (the map, replica-map.ts's JSON),
 * `<root>/node-health/<node>` (an offline record, node-health.ts) and `<root>/retired/<node>`
 * (a node retired for good by `pfs cluster remove-node`; written by pkg/pfs/status, never
 * deleted, only its presence counts). Only the elected placement
 * controller writes them, and only through `writeReplicaMapFenced`: a transaction that
 * succeeds only if the controller's election key still has its create revision (it is still
 * the controller) and the map's mod revision is the one it read (nobody wrote in between).
 */
import type { Etcd3 } from "etcd3";
import { PfsError, assert } from "../../common/index.js";
import { type Fence, fenceHeld, fencedIf, unavailable } from "./leader-term.js";
import {
  type OfflineRecord, decodeOfflineRecord, encodeOfflineRecord,
} from "./node-health.js";
import { type ReplicaMap, decodeReplicaMap, encodeReplicaMap } from "./replica-map.js";

/** The keys of one cluster's map and records. */
export class ReplicaMapKeys {
  readonly map: string;
  /** Prefix of the offline records, ending in "/". */
  readonly health: string;
  /** Prefix of the node lease keys (node-registry.ts), ending in "/". */
  readonly nodes: string;
  /** Prefix of the retired nodes' keys, ending in "/"; a retired node is gone for good. */
  readonly retired: string;

  constructor(root: string) {
    assert(root.startsWith("/") && !root.endsWith("/"), () => `key root ${root}`);
    this.map = `${root}/replica-map`;
    this.health = `${root}/node-health/`;
    this.nodes = `${root}/nodes/`;
    this.retired = `${root}/retired/`;
  }
}

/** The stored map and the revision it was read at (0 when there is none yet). */
export interface StoredReplicaMap {
  readonly map: ReplicaMap | undefined;
  /** The map key's mod revision; 0n when absent. */
  readonly modRevision: bigint;
}

/** Reads the map; UNAVAILABLE when the store fails, DATA_CORRUPTED when it does not parse. */
export async function readReplicaMap(client: Etcd3, keys: ReplicaMapKeys):
  Promise<StoredReplicaMap> {
  const response = await client.get(keys.map).exec().catch((error: unknown) => {
    throw unavailable(`cannot read ${keys.map}`, error);
  });
  const kv = response.kvs[0];
  if (kv === undefined) return { map: undefined, modRevision: 0n };
  const decoded = decodeReplicaMap(kv.value.toString("utf8"));
  if (!decoded.ok) {
    throw new PfsError("DATA_CORRUPTED", `${keys.map} is not a replica map: ${decoded.error}`);
  }
  return { map: decoded.value, modRevision: BigInt(kv.mod_revision) };
}

/** Reads every offline record; a malformed one is DATA_CORRUPTED. */
export async function readOfflineRecords(client: Etcd3, keys: ReplicaMapKeys):
  Promise<Map<string, OfflineRecord>> {
  const entries = await client.getAll().prefix(keys.health).strings()
    .catch((error: unknown) => { throw unavailable(`cannot read ${keys.health}`, error); });
  const records = new Map<string, OfflineRecord>();
  for (const [key, value] of Object.entries(entries)) {
    const decoded = decodeOfflineRecord(value);
    if (!decoded.ok) throw new PfsError("DATA_CORRUPTED", `${key}: ${decoded.error}`);
    records.set(key.slice(keys.health.length), decoded.value);
  }
  return records;
}

/** What one fenced write changes. */
export interface ReplicaMapWrite {
  /** The new map; undefined leaves the map as it is (only the records change). */
  readonly map: ReplicaMap | undefined;
  /** The map's mod revision as read (0n: the map must still be absent). */
  readonly expectedModRevision: bigint;
  readonly recordsToPut: ReadonlyMap<string, OfflineRecord>;
  readonly recordsToDelete: readonly string[];
}

/** How a fenced write ended: the term is over, or the map changed since it was read. */
export type ReplicaMapWriteOutcome = "written" | "deposed" | "conflict";

/**
 * Writes the map and the record changes in one transaction fenced by `fence` and by the map's
 * mod revision. "deposed": the fence is no longer held (nothing was written; stop writing);
 * "conflict": the map changed since it was read (nothing was written; read again).
 */
export async function writeReplicaMapFenced(client: Etcd3, keys: ReplicaMapKeys, fence: Fence,
  write: ReplicaMapWrite): Promise<ReplicaMapWriteOutcome> {
  assert(write.expectedModRevision >= 0n, () => `mod revision ${write.expectedModRevision}`);
  const ops = [];
  if (write.map !== undefined) ops.push(client.put(keys.map).value(encodeReplicaMap(write.map)));
  for (const [node, record] of write.recordsToPut) {
    ops.push(client.put(`${keys.health}${node}`).value(encodeOfflineRecord(record)));
  }
  for (const node of write.recordsToDelete) ops.push(client.delete().key(`${keys.health}${node}`));
  assert(ops.length > 0, "a fenced write with nothing to write");
  const response = await fencedIf(client, fence)
    .and(keys.map, "Mod", "==", write.expectedModRevision.toString())
    .then(...ops)
    .commit()
    .catch((error: unknown) => { throw unavailable(`cannot write ${keys.map}`, error); });
  if (response.succeeded) return "written";
  return (await fenceHeld(client, fence)) ? "conflict" : "deposed";
}
