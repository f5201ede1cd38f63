// Goal: the placement controller on both coordination stores (real etcd 3.4.23 and pfsd's
// embedded layer): of two racing controllers only one writes the map; nodes registering fill
// and rebalance it (R distinct replicas per shard, loads within one); a node whose lease goes
// is offline first (nothing moves, its offline record is written) and after the dead time
// faulty (its replicas move); when the leader's lease is revoked the other controller takes
// over and keeps the stored offline clock, and a write fenced with the deposed controller's
// token is refused; deleting a leader's election key deposes it at once.
// Method: one single-member store per kind; real node registrations (pkg/pfs/placement) on
// leases, a 2 s dead time and fast rebalancing rounds; assertions poll the stored map. No
// replica hosts run here, so the test reports every mapped replica of a registered node as
// caught up (lag 0), which lets the add-then-drop moves finish.
import test, { type ExecutionContext } from "ava";
import type { Etcd3 } from "etcd3";
import { SystemClock, silentLogger } from "../../pkg/common/index.js";
// pkg/pfs/index.ts does not re-export these modules yet.
// eslint-disable-next-line pfs/boundaries
import { NodeRegistration } from "../../pkg/pfs/placement/index.js";
// eslint-disable-next-line pfs/boundaries
import {
  PlacementController, type ReplicaMap, ReplicaMapKeys, encodeReplicaStatus, readOfflineRecords,
  readReplicaMap, replicaStatusKey, writeReplicaMapFenced,
} from "../../pkg/pfs/replication/index.js";
import type { MemberKind } from "../support/member-cluster.js";
import { eventually } from "./support-etcd3/etcd3-cluster.js";
import { revokeLeaseOfKey, useStores } from "./pfs-replication-support.js";

const kinds: readonly MemberKind[] = ["etcd", "pfsd"];
const storeOf = useStores(kinds);
const shards = 8;
const replicas = 3;
const deadTimeMs = 2_000;

function controller(client: Etcd3, root: string, node: string): PlacementController {
  return new PlacementController({
    client, root, node, shards, replicas, deadTimeMs, keys: new ReplicaMapKeys(root),
    clock: new SystemClock(), logger: silentLogger, rebalanceRoundMs: 100,
  });
}

function register(client: Etcd3, root: string, name: string): Promise<NodeRegistration> {
  return NodeRegistration.register(client, root, { name, address: `127.0.0.1:${name.length}` },
    silentLogger);
}

function loads(map: ReplicaMap): Map<string, number> {
  const counts = new Map<string, number>();
  for (const holders of map.placement) {
    for (const node of holders) counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  return counts;
}

/** True when every shard has R distinct replicas exactly on `nodes`, loads within one. */
function settledOn(map: ReplicaMap | undefined, nodes: readonly string[]): boolean {
  if (map === undefined) return false;
  const full = map.placement.every((holders) => holders.length === replicas &&
    new Set(holders).size === replicas && holders.every((node) => nodes.includes(node)));
  const counts = nodes.map((node) => loads(map).get(node) ?? 0);
  return full && Math.max(...counts) - Math.min(...counts) <= 1;
}

async function mapOf(client: Etcd3, keys: ReplicaMapKeys): Promise<ReplicaMap | undefined> {
  return (await readReplicaMap(client, keys)).map;
}

/**
 * Until the returned stop is called, every 100 ms: a lag-0 status record for every replica the
 * stored map places on a node of `registered` (what the nodes' replica hosts would report).
 */
function reportCaughtUp(client: Etcd3, root: string, keys: ReplicaMapKeys,
  registered: ReadonlyMap<string, unknown>): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const map = await mapOf(client, keys).catch(() => undefined);
      const puts = (map?.placement ?? []).flatMap((holders, shard) => holders
        .filter((node) => registered.has(node))
        .map((node) => client.put(replicaStatusKey(root, shard, node))
          .value(encodeReplicaStatus({ lag: 0, finished: 0, updatedMs: Date.now() }))));
      await Promise.all(puts).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function controllerFlow(t: ExecutionContext, kind: MemberKind): Promise<void> {
  const store = storeOf(kind);
  // Unique per process: a port race between test processes on one machine can leave a client
  // talking to another process's store, and then keys must still not collide.
  const root = `/pfs-${kind}-${process.pid}`;
  const keys = new ReplicaMapKeys(root);
  const admin = store.client();
  const registrations = new Map<string, NodeRegistration>();
  for (const name of ["n1", "n2", "n3", "n4"]) {
    registrations.set(name, await register(store.client(), root, name));
  }
  const first = controller(store.client(), root, "c1");
  const second = controller(store.client(), root, "c2");
  const stopReporting = reportCaughtUp(admin, root, keys, registrations);
  t.teardown(async () => {
    await stopReporting();
    await Promise.all([first.close(), second.close()]);
    await Promise.all([...registrations.values()].map((r) => r.close()));
  });
  first.start();
  second.start();
  await eventually("the map covers n1..n4", 15_000, async () =>
    settledOn(await mapOf(admin, keys), ["n1", "n2", "n3", "n4"]));
  t.true(first.leading !== second.leading, "exactly one controller leads");
  const [leader, follower] = first.leading ? [first, second] : [second, first];
  // The map can be read between the write's commit and the controller counting it.
  await eventually("the leader counts its write", 10_000, () => leader.stats.writes > 0)
    .catch(() => undefined);
  const stats = `leader ${JSON.stringify(leader.stats)}, other ${JSON.stringify(follower.stats)}`;
  t.is(leader.stats.terms + follower.stats.terms, 1, `one term so far: ${stats}`);
  t.true(leader.stats.writes > 0, stats);
  t.is(follower.stats.writes, 0, `the other controller never wrote: ${stats}`);

  registrations.set("n5", await register(store.client(), root, "n5"));
  await eventually("n5 takes replicas and the load evens out", 15_000, async () =>
    settledOn(await mapOf(admin, keys), ["n1", "n2", "n3", "n4", "n5"]));

  const before = await mapOf(admin, keys);
  await registrations.get("n2")?.close();
  registrations.delete("n2");
  await eventually("n2's offline record is written", 5_000, async () =>
    (await readOfflineRecords(admin, keys)).has("n2"));
  const offline = await mapOf(admin, keys);
  t.deepEqual(offline, before, "an offline node keeps its replicas until the dead time");
  await eventually("n2 turns faulty and its replicas move", 15_000, async () =>
    settledOn(await mapOf(admin, keys), ["n1", "n3", "n4", "n5"]));
  t.true((await readOfflineRecords(admin, keys)).has("n2"), "a faulty node keeps its record");
  t.is(follower.stats.writes, 0, "the other controller still never wrote");

  // Take the leader's lease away: the follower takes over; the old fence is refused.
  const oldFence = leader.fence;
  if (oldFence === undefined) throw new Error("the leader has no fence");
  const since = (await readOfflineRecords(admin, keys)).get("n2");
  await revokeLeaseOfKey(admin, oldFence.key);
  await eventually("the follower leads", 15_000, () => follower.leading);
  const newFence = follower.fence;
  t.true(newFence !== undefined && newFence.revision > oldFence.revision);
  const stored = await readReplicaMap(admin, keys);
  const refused = await writeReplicaMapFenced(admin, keys, oldFence, {
    map: { shards, replicas, placement: Array.from({ length: shards }, () => []) },
    expectedModRevision: stored.modRevision, recordsToPut: new Map(), recordsToDelete: [],
  });
  t.is(refused, "deposed");
  t.deepEqual(await readReplicaMap(admin, keys), stored, "the refused write changed nothing");
  await eventually("the deposed controller knows it", 10_000, () => !leader.leading);
  t.deepEqual((await readOfflineRecords(admin, keys)).get("n2"), since,
    "the new controller keeps the stored offline clock");

  // The new controller places: n2 comes back and takes replicas again.
  registrations.set("n2", await register(store.client(), root, "n2"));
  await eventually("n2 is back in the map, records cleared", 15_000, async () =>
    settledOn(await mapOf(admin, keys), ["n1", "n2", "n3", "n4", "n5"]) &&
    !(await readOfflineRecords(admin, keys)).has("n2"));
  await eventually("the new controller counts its writes", 10_000, () => follower.stats.writes > 0)
    .catch(() => undefined);
  t.true(follower.stats.writes > 0);

  // Deleting the new leader's election key (its lease alive) deposes it at once: it stops,
  // gives up its lease, and the first controller, campaigning again, takes over and places.
  const deletedFence = follower.fence;
  if (deletedFence === undefined) throw new Error("the follower lost its fence");
  await admin.delete().key(deletedFence.key);
  await eventually("the first controller leads again", 15_000, () => leader.leading);
  t.false(follower.leading);
  const writesAfter = follower.stats.writes;
  registrations.set("n6", await register(store.client(), root, "n6"));
  await eventually("n6 is placed by the first controller", 15_000, async () =>
    settledOn(await mapOf(admin, keys), ["n1", "n2", "n3", "n4", "n5", "n6"]));
  t.is(follower.stats.writes, writesAfter, "the deposed controller wrote nothing more");
}

for (const kind of kinds) {
  test(`${kind}: one controller places, heals and hands over`, async (t) => {
    await controllerFlow(t, kind);
  });
}
