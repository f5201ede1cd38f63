/**
 * `pfs cluster remove-node ID`: retires a node for good. In one transaction it writes
 * `<root>/retired/<id>` = `{"retiredWallMs": <wall ms>}` (permanent: never deleted, so the id
 * is never placed again), deletes the node's offline record `<root>/node-health/<id>` and its
 * lease key `<root>/nodes/<id>`; then, when the coordination store has a member named `id`,
 * removes that member. The placement controller watches the retired prefix and drops the
 * node from the replica map at once.
 *
 * Refusals, each before anything is written: an invalid id (INVALID_ARGUMENT); an id no part
 * of the store knows (NOT_FOUND); a node whose lease key is present, unless `force`
 * (FAILED_PRECONDITION; the transaction compares the key still absent, so a node that comes
 * back between the read and the write is refused too); removing the store's last voting
 * member (FAILED_PRECONDITION). Retiring again is allowed: it removes what is left (a member
 * whose removal failed the first time). A member removal that fails after the keys were
 * written is UNAVAILABLE; running the command again finishes it.
 */
import type { Etcd3, IKeyValue } from "etcd3";
import { type Clock, PfsError, SystemClock, assert } from "../../common/index.js";
import type { RemoveNodeResponse } from "../../proto/index.js";
import { checkNodeName } from "../placement/index.js";
import { ReplicaMapKeys, readReplicaMap } from "../replication/index.js";
import type { RaftMember } from "./cluster-status.js";
import { storeUnavailable } from "./status-store.js";

/** What a removal needs. */
export interface RemoveNodeOptions {
  /** A root client (keys are full keys). */
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  /** The node to retire (its --name). */
  readonly id: string;
  /** Retire it even while its lease key says it is online. */
  readonly force: boolean;
  /** Whose wall time the retired record keeps; default the system clock. */
  readonly clock?: Clock;
}

/** The retired record as stored. */
export function encodeRetiredRecord(retiredWallMs: number): string {
  assert(Number.isSafeInteger(retiredWallMs) && retiredWallMs >= 0,
    () => `retired at ${retiredWallMs}`);
  return JSON.stringify({ retiredWallMs });
}

async function readKey(client: Etcd3, key: string): Promise<IKeyValue | undefined> {
  const response = await client.get(key).exec()
    .catch((error: unknown) => { throw storeUnavailable(`cannot read ${key}`, error); });
  return response.kvs[0];
}

async function membersOf(client: Etcd3): Promise<RaftMember[]> {
  const list = await client.cluster.memberList({ linearizable: true })
    .catch((error: unknown) => { throw storeUnavailable("cannot list the members", error); });
  return list.members.map((member) =>
    ({ id: member.ID, name: member.name, isLearner: member.isLearner }));
}

/** What the store says about the node before anything changes. */
interface NodeFacts {
  readonly live: boolean;
  readonly recorded: boolean;
  readonly retired: boolean;
  readonly mapped: boolean;
  readonly member: RaftMember | undefined;
  readonly voters: number;
}

async function factsOf(client: Etcd3, keys: ReplicaMapKeys, id: string): Promise<NodeFacts> {
  const [nodeKey, record, retired, stored, members] = await Promise.all([
    readKey(client, `${keys.nodes}${id}`), readKey(client, `${keys.health}${id}`),
    readKey(client, `${keys.retired}${id}`), readReplicaMap(client, keys), membersOf(client),
  ]);
  return {
    live: nodeKey !== undefined, recorded: record !== undefined, retired: retired !== undefined,
    mapped: stored.map?.placement.some((holders) => holders.includes(id)) ?? false,
    member: members.find((member) => member.name === id),
    voters: members.filter((member) => !member.isLearner).length,
  };
}

function refusal(id: string, facts: NodeFacts, force: boolean): PfsError | undefined {
  const known = facts.live || facts.recorded || facts.retired || facts.mapped ||
    facts.member !== undefined;
  if (!known) return new PfsError("NOT_FOUND", `no node ${id} in the cluster`);
  if (facts.live && !force) {
    return new PfsError("FAILED_PRECONDITION", `node ${id} is online; stop it first, ` +
      "or retire it anyway with --force");
  }
  if (facts.member !== undefined && !facts.member.isLearner && facts.voters <= 1) {
    return new PfsError("FAILED_PRECONDITION",
      `member ${id} is the coordination store's last voting member; it cannot be removed`);
  }
  return undefined;
}

/** Writes the retired record and deletes the node's keys in one transaction. */
async function retireKeys(client: Etcd3, keys: ReplicaMapKeys, id: string, force: boolean,
  retiredWallMs: number | undefined): Promise<{ nodeKeyDeleted: boolean; recordDeleted: boolean }> {
  const nodeKey = `${keys.nodes}${id}`;
  // The deletes come first so their responses sit at known places; the first retirement's
  // record is kept (a second retirement does not move its time).
  const ops = [];
  ops.push(client.delete().key(`${keys.health}${id}`), client.delete().key(nodeKey));
  if (retiredWallMs !== undefined) {
    ops.push(client.put(`${keys.retired}${id}`).value(encodeRetiredRecord(retiredWallMs)));
  }
  // Without force the lease key must still be absent; with it the compare always holds.
  const response = await (force
    ? client.if(`${keys.retired}${id}`, "Version", ">", -1)
    : client.if(nodeKey, "Version", "==", 0))
    .then(...ops)
    .commit()
    .catch((error: unknown) => { throw storeUnavailable(`cannot retire ${id}`, error); });
  if (!response.succeeded) {
    throw new PfsError("FAILED_PRECONDITION", `node ${id} came online; stop it first, ` +
      "or retire it anyway with --force");
  }
  const deleted = (index: number): boolean =>
    Number(response.responses[index]?.response_delete_range.deleted ?? 0) > 0;
  return { recordDeleted: deleted(0), nodeKeyDeleted: deleted(1) };
}

/** Retires node `id`; see the module comment for what it does and refuses. */
export async function removeNode(options: RemoveNodeOptions): Promise<RemoveNodeResponse> {
  const { client, id, force } = options;
  checkNodeName(id);
  const keys = new ReplicaMapKeys(options.root);
  const facts = await factsOf(client, keys, id);
  const refused = refusal(id, facts, force);
  if (refused !== undefined) throw refused;
  const written = await retireKeys(client, keys, id, force,
    facts.retired ? undefined : (options.clock ?? new SystemClock()).wallMs());
  let memberRemoved = false;
  if (facts.member !== undefined) {
    const memberId = facts.member.id;
    await client.cluster.memberRemove({ ID: memberId }).catch((error: unknown) => {
      throw storeUnavailable(`node ${id} is retired, but its member ${memberId} was not ` +
        "removed (run the command again)", error);
    });
    memberRemoved = true;
  }
  return {
    id, was_online: facts.live, already_retired: facts.retired,
    node_key_deleted: written.nodeKeyDeleted, health_record_deleted: written.recordDeleted,
    member_removed: memberRemoved, member_id: facts.member?.id ?? "",
  };
}
