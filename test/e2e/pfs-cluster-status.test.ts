// Goal: `pfs cluster status` and `pfs cluster remove-node` against a real coordination store
// (etcd 3.4.23): the CLI's --json output is the status the store describes (live, offline and
// faulty nodes, the Raft leader named like its member, masters, lags, under-replication) and
// its table shows it; remove-node refuses an unknown id, a live node without --force and the
// last voting member, changing nothing; and retiring an offline node takes it out of the
// replica map at once (long before the dead time) with the placement controller running, and
// keeps it out when it registers again.
// Method: one single-member etcd; real node registrations on leases and synthetic pfs keys
// written by the test; the real pfs.API handlers (pkg/pfs/api) served by an in-test gRPC
// server with readClusterStatus and removeNode bound to the store; the built CLI
// (dist/cmd/pfs.js) run against it.
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import type { Etcd3 } from "etcd3";
import { SystemClock, silentLogger } from "../../pkg/common/index.js";
// pkg/pfs/index.ts does not re-export these modules yet.
// eslint-disable-next-line pfs/boundaries
import { type ShardRouting, pfsApiHandlers } from "../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries
import { MetaStore } from "../../pkg/pfs/meta/index.js";
// eslint-disable-next-line pfs/boundaries
import { NodeRegistration } from "../../pkg/pfs/placement/index.js";
// eslint-disable-next-line pfs/boundaries
import {
  PlacementController, type ReplicaMap, ReplicaMapKeys, encodeOfflineRecord, encodeReplicaMap,
  encodeReplicaStatus, readOfflineRecords, readReplicaMap, replicaStatusKey,
} from "../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries
import {
  type ClusterStatus, ClusterClient, readClusterStatus, removeNode,
} from "../../pkg/pfs/status/index.js";
import { loadPfsService } from "../../pkg/proto/index.js";
import { eventually } from "./support-etcd3/etcd3-cluster.js";
import { useStores } from "./pfs-replication-support.js";

const storeOf = useStores(["etcd"]);
const shards = 4;
const replicas = 3;
const deadTimeMs = 30_000;
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function pfs(address: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`${repoRoot}dist/cmd/pfs.js`, ...args, "--address", address,
      "--deadline-ms", "10000"], { cwd: repoRoot }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs `pfs cluster status --watch 0.5 --json` until it printed `objects` lines, then sends
 * SIGINT; resolves with the lines and the exit code.
 */
function watchLines(address: string, objects: number): Promise<{ lines: string[]; code: number }> {
  const child = spawn(process.execPath, [`${repoRoot}dist/cmd/pfs.js`, "cluster", "status",
    "--watch", "0.5", "--json", "--address", address], { cwd: repoRoot });
  let stdout = "";
  child.stdout.on("data", (piece: Buffer) => {
    stdout += piece.toString("utf8");
    if (stdout.split("\n").length > objects) child.kill("SIGINT");
  });
  return new Promise((resolve) => {
    child.on("close", (code) => {
      resolve({ lines: stdout.trim().split("\n"), code: code ?? -1 });
    });
  });
}

/** Serves the real pfs.API handlers, with the cluster operations bound to `root`. */
async function serveApi(t: ExecutionContext, client: Etcd3, root: string): Promise<string> {
  const noShards = (): Promise<never> =>
    Promise.reject(new Error("no shards in this test"));
  const router: ShardRouting = { shards, replica: noShards, all: noShards };
  const handlers = pfsApiHandlers({
    meta: new MetaStore(client, { root }), router, logger: silentLogger,
    collectGarbage: () => Promise.resolve({ chunksFreed: 0, bytesFreed: 0 }),
    clusterStatus: () => readClusterStatus({ client, root, shards, deadTimeMs }),
    removeNode: (id, force) => removeNode({ client, root, id, force }),
  });
  const server = new Server();
  server.addService(loadPfsService().service, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
      if (error === null) resolve(bound);
      else reject(error);
    });
  });
  t.teardown(() => { server.forceShutdown(); });
  return `127.0.0.1:${port}`;
}

async function register(t: ExecutionContext, client: Etcd3, root: string, name: string):
  Promise<NodeRegistration> {
  const registration = await NodeRegistration.register(client, root,
    { name, address: `127.0.0.1:${1000 + name.length}` }, silentLogger);
  t.teardown(() => registration.close());
  return registration;
}

test("status: the CLI's JSON and table show what the store says", async (t) => {
  const store = storeOf("etcd");
  const client = store.client();
  const root = `/pfs-status-${process.pid}`;
  const keys = new ReplicaMapKeys(root);
  const memberName = store.cluster.members[0]?.name ?? "";
  t.not(memberName, "");
  for (const name of [memberName, "n1", "n2"]) await register(t, client, root, name);
  const map: ReplicaMap = { shards, replicas, placement: [[memberName, "n1", "n2"],
    ["n1", "n2", "n3"], ["n2", memberName], [memberName, "n1", "n2"]] };
  await client.put(keys.map).value(encodeReplicaMap(map));
  await client.put(`${keys.health}n3`)
    .value(encodeOfflineRecord({ offlineSinceWallMs: Date.now() - 2 * deadTimeMs }));
  await client.put(`${root}/election/shard-master/0/1a`).value("n1");
  await client.put(`${root}/election/shard-master/0/1b`).value("n2");
  await client.put(`${root}/election/shard-master/3/2a`).value(memberName);
  const lags: [number, string, number][] = [[0, memberName, 0], [0, "n1", 3], [0, "n2", 1],
    [3, memberName, 0], [3, "n1", 0], [3, "n2", 0]];
  for (const [shard, node, lag] of lags) {
    await client.put(replicaStatusKey(root, shard, node))
      .value(encodeReplicaStatus({ lag, finished: 10 - lag, updatedMs: Date.now() }));
  }
  const address = await serveApi(t, client, root);

  const json = await pfs(address, ["cluster", "status", "--json"]);
  t.is(json.code, 0, json.stderr);
  t.is(json.stdout.trim().split("\n").length, 1, "exactly one JSON line");
  const status = JSON.parse(json.stdout) as ClusterStatus;
  t.deepEqual(status, await readClusterStatus({ client, root, shards, deadTimeMs }));
  t.deepEqual(status.nodes.map((node) => node.id), [memberName, "n1", "n2", "n3"].sort());
  t.like(status.nodes.find((node) => node.id === memberName),
    { raft_role: "leader", online: true, shards_mastered: [3], shards_held: [0, 2, 3] });
  t.like(status.nodes.find((node) => node.id === "n1"),
    { raft_role: "", online: true, faulty: false, address: "127.0.0.1:1002",
      shards_mastered: [0] });
  t.like(status.nodes.find((node) => node.id === "n3"), { online: false, faulty: true });
  t.like(status.shards[0], { master: "n1", lag: 3, under_replicated: false, r: 3 });
  t.like(status.shards[1], { master: "", lag: -1, under_replicated: true });
  t.like(status.shards[2], { under_replicated: true });
  t.like(status.shards[3], { master: memberName, lag: 0, under_replicated: false });

  const table = await pfs(address, ["cluster", "status"]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^ID +ADDRESS +RAFT +ONLINE +MASTERED +HELD$/m);
  t.regex(table.stdout, /^n3 +- +- +FAULTY +- +1$/m);
  t.regex(table.stdout, /^1 +- +n1,n2,n3 +\? +under-replicated \(2\/3 online\), no master$/m);
  const watched = await watchLines(address, 2);
  t.is(watched.code, 0, "Ctrl-C ends --watch cleanly");
  t.true(watched.lines.length >= 2);
  for (const line of watched.lines) t.deepEqual(JSON.parse(line), status);
  const badWatch = await pfs(address, ["cluster", "status", "--watch", "0"]);
  t.is(badWatch.code, 1);
  t.regex(badWatch.stderr, /--watch must be in/);
});

function settled(map: ReplicaMap | undefined, nodes: readonly string[]): boolean {
  return map !== undefined && map.placement.every((holders) => holders.length === replicas &&
    holders.every((node) => nodes.includes(node)));
}

test("remove-node: refusals change nothing; a retired node leaves the map at once", async (t) => {
  const store = storeOf("etcd");
  const client = store.client();
  const root = `/pfs-retire-${process.pid}`;
  const keys = new ReplicaMapKeys(root);
  const memberName = store.cluster.members[0]?.name ?? "";
  const registrations = new Map<string, NodeRegistration>();
  for (const name of ["n1", "n2", "n3", "n4"]) {
    registrations.set(name, await register(t, client, root, name));
  }
  const controller = new PlacementController({
    client: store.client(), root, node: "c1", shards, replicas, deadTimeMs: 120_000, keys,
    clock: new SystemClock(), logger: silentLogger, rebalanceRoundMs: 100,
  });
  t.teardown(() => controller.close());
  controller.start();
  await eventually("the map covers n1..n4", 15_000, async () =>
    settled((await readReplicaMap(client, keys)).map, ["n1", "n2", "n3", "n4"]) &&
    (await readReplicaMap(client, keys)).map?.placement.flat().includes("n4") === true);
  const address = await serveApi(t, client, root);

  await registrations.get("n4")?.close();
  await eventually("n4 is offline", 10_000, async () =>
    (await readOfflineRecords(client, keys)).has("n4"));
  const before = (await readReplicaMap(client, keys)).map;

  const live = await pfs(address, ["cluster", "remove-node", "n1"]);
  t.is(live.code, 1);
  t.regex(live.stderr, /n1 is online/);
  // The other refusals through the API client (each CLI run costs a node start-up).
  const api = new ClusterClient({ address, callDeadlineMs: 10_000 });
  t.teardown(() => { api.close(); });
  await t.throwsAsync(api.removeNode("nope", false), { message: /no node nope/ });
  await t.throwsAsync(api.removeNode("a/b", true), { message: /node name/ });
  // Known only as the store's member (no pfs node of that name): its removal is refused.
  await t.throwsAsync(api.removeNode(memberName, true), { message: /last voting member/ });
  t.deepEqual(await client.getAll().prefix(keys.retired).keys(), [], "nothing retired");
  t.deepEqual((await readReplicaMap(client, keys)).map, before, "the map is as it was");

  const removed = await pfs(address, ["cluster", "remove-node", "n4"]);
  t.is(removed.code, 0, removed.stderr);
  t.regex(removed.stdout, /^retired node n4\ndeleted its offline record\n/);
  await eventually("n4 leaves the map well before the dead time", 10_000, async () =>
    settled((await readReplicaMap(client, keys)).map, ["n1", "n2", "n3"]));
  t.false((await readOfflineRecords(client, keys)).has("n4"));
  t.is(await client.get(`${keys.retired}n4`).string() !== null, true);

  t.like(await api.removeNode("n4", false),
    { id: "n4", already_retired: true, member_removed: false, health_record_deleted: false });

  // A retired node that registers again is ignored: rounds run (n5 joins), n4 stays out.
  await register(t, client, root, "n4");
  await register(t, client, root, "n5");
  await eventually("n5 takes replicas", 15_000, async () =>
    (await readReplicaMap(client, keys)).map?.placement.flat().includes("n5") === true);
  t.false((await readReplicaMap(client, keys)).map?.placement.flat().includes("n4"));
  const status = await api.clusterStatus();
  t.false(status.nodes.some((node) => node.id === "n4"), "a retired node is not listed");
});
