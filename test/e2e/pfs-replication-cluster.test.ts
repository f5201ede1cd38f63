// Goal: replication by commit works end to end on real pfsd processes (issue 6): with R=3, W=2
// on 3 nodes, every finished commit is on every replica of each shard with byte-identical
// manifests; any node reads it; a kill -9 of a shard's master hands the shard to another
// replica, and the next commit on it finishes; the killed node catches up after its restart;
// a commit whose staged data was on the killed master cannot finish (FAILED_PRECONDITION) and
// nothing of it becomes visible; a commit that never wrote to the dead master's shard finishes.
// Method: one 3-member pfsd cluster (embedded coordination layer, data in /dev/shm when there is
// one), --shards 4, --master-lease-ttl 2; masters and the map are read from the coordination
// store the way a router sees them; manifests are read from each node through pfs.Shard.
import { createHash } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { Etcd3 } from "etcd3";
import { credentials } from "@grpc/grpc-js";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { shardOf } from "../../pkg/pfs/index.js";
// eslint-disable-next-line pfs/boundaries -- a pfs.Shard client, to read one node's replica.
import { RemoteShard } from "../../pkg/pfs/api/remote-shard.js";
import { loadPfsShardService } from "../../pkg/proto/index.js";
// eslint-disable-next-line pfs/boundaries -- the replica map codec, to read what the controller wrote.
import { decodeReplicaMap } from "../../pkg/pfs/replication/index.js";
import type { MemberCluster } from "../support/member-cluster.js";
import { PfsClient } from "./pfs-api-support.js";
import {
  addressOf, eventually, replicatedSettleMs, startReplicatedCluster,
} from "./pfs-crash-support.js";

const shards = 4;
const failedPrecondition = 9;
/** Generous bound of every wait (failover is about a lease TTL; CI machines are slow). */
const settleMs = replicatedSettleMs;

const seed = Number(process.env["PFS_TEST_SEED"] ?? systemSeed());
const prng = new Prng(seed);

let cluster: MemberCluster;
let etcd: Etcd3;

test.before(async () => {
  cluster = await startReplicatedCluster(shards);
  etcd = new Etcd3({ hosts: cluster.endpoints.split(",") });
});

test.after.always(async () => {
  etcd.close();
  await cluster.stop();
});

/** `size` seeded bytes. */
function bytesOf(size: number): Buffer {
  const bytes = Buffer.alloc(Math.ceil(size / 4) * 4);
  for (let at = 0; at < bytes.length; at += 4) bytes.writeUInt32LE(prng.intBelow(2 ** 30), at);
  return bytes.subarray(0, size);
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The shard's master as its election says, or undefined. */
async function masterOf(shard: number): Promise<string | undefined> {
  const response = await etcd.getAll().prefix(`/pfs/election/shard-master/${shard}/`)
    .sort("Create", "Ascend").limit(1).exec();
  return response.kvs[0]?.value.toString("utf8");
}

async function replicasOf(shard: number): Promise<string[]> {
  const text = await etcd.get("/pfs/replica-map").string();
  if (text === null) return [];
  const decoded = decodeReplicaMap(text);
  return decoded.ok ? [...(decoded.value.placement[shard] ?? [])] : [];
}

/** The manifest bytes of `repo@commit` on `node`'s replica of `shard`, or undefined. */
async function manifestOn(node: string, shard: number, repo: string, commit: string):
  Promise<string | undefined> {
  const address = await addressOf(cluster.endpoints, node);
  const Client = loadPfsShardService().Client;
  const client = new Client(address, credentials.createInsecure());
  try {
    const replica = new RemoteShard(shard, client, address);
    return sha256(Buffer.from(await replica.readManifest({ repo, id: commit })));
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

/** True once every replica of every shard holds `repo@commit` with one manifest. */
async function everywhere(repo: string, commit: string): Promise<boolean> {
  for (let shard = 0; shard < shards; shard += 1) {
    const replicas = await replicasOf(shard);
    if (replicas.length !== 3) return false;
    const hashes = await Promise.all(replicas.map((node) => manifestOn(node, shard, repo, commit)));
    if (hashes.some((hash) => hash === undefined) || new Set(hashes).size !== 1) return false;
  }
  return true;
}

/** A path of `shard`, seeded. */
function pathOn(shard: number): string {
  for (;;) {
    const path = `/f-${prng.intBelow(1_000_000_000)}`;
    if (shardOf(path, shards) === shard) return path;
  }
}

/** Writes `files` (path → bytes) in one commit through `client`; the commit id. */
async function commitFiles(client: PfsClient, repo: string, files: ReadonlyMap<string, Buffer>):
  Promise<string> {
  const open = await client.call("StartCommit", { repo, branch: "master" });
  for (const [path, bytes] of files) {
    await client.putFile({ repo, commit: open.id, path }, [bytes]);
  }
  await client.call("FinishCommit", { commit: { repo, commit: open.id } });
  return open.id;
}

function clientOf(name: string): Promise<PfsClient> {
  return addressOf(cluster.endpoints, name).then((address) => new PfsClient(address));
}

async function readsBack(t: ExecutionContext, client: PfsClient, repo: string, commit: string,
  files: ReadonlyMap<string, Buffer>): Promise<void> {
  for (const [path, bytes] of files) {
    t.is(sha256(await client.getFile(repo, commit, path)), sha256(bytes), `${path} (seed ${seed})`);
  }
}

test.serial("a finished commit is on every replica, identical, and any node reads it", async (t) => {
  const clients = await Promise.all(cluster.members.map((member) => clientOf(member.name)));
  try {
    await clients[0]?.call("CreateRepo", { name: "rep" });
    const files = new Map<string, Buffer>();
    for (let shard = 0; shard < shards; shard += 1) {
      files.set(pathOn(shard), bytesOf(1 + prng.intBelow(300_000)));
    }
    const first = clients[0];
    if (first === undefined) throw new Error("no client");
    const commit = await commitFiles(first, "rep", files);
    t.true(await eventually(settleMs, () => everywhere("rep", commit)),
      `every replica holds ${commit} (seed ${seed})`);
    for (const client of clients) await readsBack(t, client, "rep", commit, files);
  } finally {
    for (const client of clients) client.close();
  }
});

test.serial("kill -9 of a shard master: another replica takes over, the commit staged on " +
  "the dead master fails, new commits finish, and the killed node catches up", async (t) => {
  const shard = 1;
  t.true(await eventually(settleMs, async () => (await masterOf(shard)) !== undefined));
  const victimName = await masterOf(shard);
  const victim = cluster.members.find((member) => member.name === victimName);
  const survivor = cluster.members.find((member) => member.name !== victimName);
  if (victim === undefined || survivor === undefined) throw new Error("no victim");
  const client = await clientOf(survivor.name);
  try {
    await client.call("CreateRepo", { name: "kill" });
    const before = new Map([[pathOn(shard), bytesOf(50_000)], [pathOn(2), bytesOf(10)]]);
    const old = await commitFiles(client, "kill", before);
    // Stage data on the victim's shard, then kill it.
    const doomed = await client.call("StartCommit", { repo: "kill", branch: "master" });
    const doomedPath = pathOn(shard);
    await client.putFile({ repo: "kill", commit: doomed.id, path: doomedPath },
      [bytesOf(1_000)]);
    await victim.kill9();
    t.true(await eventually(settleMs, async () => {
      const master = await masterOf(shard);
      return master !== undefined && master !== victimName;
    }), `a new master for shard ${shard} (seed ${seed})`);
    const failure = await client.failure("FinishCommit",
      { commit: { repo: "kill", commit: doomed.id } });
    t.is(failure.code, failedPrecondition, failure.details);
    t.regex(failure.details, /staged data on shard 1/);
    const info = await client.call("InspectCommit", { commit: { repo: "kill", commit: doomed.id } });
    t.is(info.state, "FAILED");
    const head = await client.call("InspectBranch", { repo: "kill", branch: "master" });
    t.is(head.head, old);
    // W=2 with two live replicas: a new commit on the shard finishes.
    const after = new Map([[pathOn(shard), bytesOf(70_000)]]);
    const next = await commitFiles(client, "kill", after);
    await readsBack(t, client, "kill", old, before);
    await readsBack(t, client, "kill", next, after);
    // The victim comes back and catches up on what it missed.
    await victim.restart();
    await victim.waitServing();
    t.true(await eventually(settleMs, () => everywhere("kill", next)),
      `the restarted node holds ${next} (seed ${seed})`);
    const back = await clientOf(victim.name);
    try {
      await readsBack(t, back, "kill", next, after);
    } finally {
      back.close();
    }
  } finally {
    client.close();
  }
});
