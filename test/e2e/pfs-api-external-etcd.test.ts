// Goal: pfs runs unchanged on a real etcd 3.4 (DESIGN.md §1): two pfsd processes started with
// --etcd-endpoints pointing at it (no embedded member: they open no etcd port and keep no Raft
// data) pass the core flow through both nodes, and their metadata and placement are in etcd.
// Method: startCluster({kind: "etcd"}) plus two pfsd processes spawned directly, each with its
// own data dir; raw grpc-js clients. The seed of the generated data is printed.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the replica map codec, to read what the controller wrote.
import { decodeReplicaMap } from "../../pkg/pfs/replication/index.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { coreFlow } from "./pfs-api-flow.js";
import { PfsClient, type PfsdProcess, pfsAddresses, spawnPfsd } from "./pfs-api-support.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
let etcd: MemberCluster;
let parent = "";
const nodes: PfsdProcess[] = [];
const clients: PfsClient[] = [];

test.before(async () => {
  etcd = await startCluster({ kind: "etcd", size: 1 });
  parent = await mkdtemp(join(tmpdir(), "pfs-api-external-"));
  for (const name of ["p1", "p2"]) {
    nodes.push(spawnPfsd(["--name", name, "--data-dir", join(parent, name),
      "--etcd-endpoints", etcd.endpoints, "--pfs-address", "127.0.0.1:0", "--shards", "8",
      "--log-level", "warn"]));
  }
  for (const address of await pfsAddresses([etcd.endpoints], 2)) {
    clients.push(new PfsClient(address));
  }
});

test.after.always(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.stop()));
  await etcd.stop();
  if (parent !== "") await rm(parent, { recursive: true, force: true });
});

test(`two pfsd nodes over a real etcd pass the core flow (seed ${seed})`, async (t) => {
  await coreFlow(t, clients, "external", seed);
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    const map = decodeReplicaMap(await client.get("/pfs/replica-map").string() ?? "");
    if (!map.ok) throw new Error(map.error);
    for (const holders of map.value.placement) t.deepEqual([...holders].sort(), ["p1", "p2"]);
    t.not(await client.get("/pfs/config").string(), null);
  } finally {
    client.close();
  }
  // No embedded member: the data dir holds the lock, shard data and the pipeline worker's
  // scratch space, no Raft state.
  const entries = (await readdir(join(parent, "p1"))).sort();
  t.deepEqual(entries, ["pfs", "pfsd.lock", "pps-work"]);
  for (const node of nodes) t.is(node.child.exitCode, null, node.stderr());
});

test("a pfsd given --etcd-endpoints without --pfs-address is a usage error", async (t) => {
  const lone = spawnPfsd(["--name", "lone", "--data-dir", join(parent, "lone"),
    "--etcd-endpoints", etcd.endpoints]);
  t.is(await lone.exited, 2);
  t.regex(lone.stderr(), /give --pfs-address too/);
});
