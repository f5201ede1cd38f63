// Goal: the pfs API served by real pfsd processes with the embedded coordination layer, on a
// 1-node and a 3-node cluster: the core flow (pfs-api-flow.ts) passes on both, with every
// request of the 3-node run sent to a different node than the last; the 3-node cluster places
// each of its 16 shards on all three nodes (R=3, the default) and elects a master for each.
// Method: startCluster with `--pfs-address 127.0.0.1:0` (each node registers the port it
// got); raw grpc-js clients of pfs.API. The seed of the generated data is printed.
import test from "ava";
import { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the replica map codec, to read what the controller wrote.
import { decodeReplicaMap } from "../../pkg/pfs/replication/index.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { coreFlow } from "./pfs-api-flow.js";
import { PfsClient, pfsAddresses } from "./pfs-api-support.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
const clusters: MemberCluster[] = [];
const clients: PfsClient[] = [];

test.after.always(async () => {
  for (const client of clients) client.close();
  await Promise.all(clusters.map((cluster) => cluster.stop()));
});

async function pfsCluster(size: number, shards: number): Promise<PfsClient[]> {
  const cluster = await startCluster({ kind: "pfsd", size,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", String(shards)] });
  clusters.push(cluster);
  const addresses = await pfsAddresses(cluster.members.map((member) => member.clientUrl), size);
  const made = addresses.map((address) => new PfsClient(address));
  clients.push(...made);
  return made;
}

test(`1 node: the core flow (seed ${seed})`, async (t) => {
  await coreFlow(t, await pfsCluster(1, 4), "one", seed);
});

test(`3 nodes: the core flow through every node, every shard replicated (seed ${seed})`, async (t) => {
  const nodes = await pfsCluster(3, 16);
  t.is(nodes.length, 3);
  await coreFlow(t, nodes, "three", seed);
  const cluster = clusters.find((candidate) => candidate.members.length === 3);
  if (cluster === undefined) throw new Error("no 3-node cluster");
  const client = new Etcd3({ hosts: cluster.members.map((member) => member.clientUrl) });
  try {
    // R=3 (the default) on 3 nodes: every shard on every node, each with a live master.
    const map = decodeReplicaMap(await client.get("/pfs/replica-map").string() ?? "");
    if (!map.ok) throw new Error(map.error);
    t.is(map.value.placement.length, 16);
    for (const holders of map.value.placement) {
      t.deepEqual([...holders].sort(), ["m1", "m2", "m3"]);
    }
    const masters = await client.getAll().prefix("/pfs/election/shard-master/").strings();
    const mastered = new Set(Object.keys(masters).map((key) => key.split("/")[4]));
    t.is(mastered.size, 16, JSON.stringify(masters));
  } finally {
    client.close();
  }
});
