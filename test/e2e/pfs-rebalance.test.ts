// Goal (issue 6, open item 2): replica moves are add-then-drop on real pfsd processes. A
// 3-node cluster (R=3, W=2, 4 shards) holds finished commits; a 4th node joins and the
// controller rebalances onto it; then one live node is retired while it runs and drained.
// At every revision of the replica map, each shard lists at least R nodes that already held
// every finished commit of the shard on disk (a move never drops the old replica before the
// new one has the data); some revision lists R+1 nodes for a shard (the transient surplus);
// afterwards every shard has exactly R replicas, each with every finished commit on disk and
// reporting lag 0, none on the retired node, and the new node holds some.
// Method: a watch on `/pfs/replica-map` records every revision. A poller checks, for every
// (shard, node), that the manifests of all finished commits are on the node's disk, and then
// reads the store's revision v: the data was there before revision v + 1, so a node counts
// as holding at map revision r when it was verified with v < r (data only grows). The
// controller can act on a new replica's report faster than the poller sees its disk, so a
// node the poller verified only later counts when, at revision r - 1, its own status record
// said lag 0 with every commit (a historical read), and the poller did verify its disk. The
// retirement writes the retired record as `pfs cluster remove-node` does but keeps the node's
// lease key: a retirement that drains (remove-node without --force refuses a live node
// today; with --force it deletes the key and the controller drops the node at once).
// The seed is printed; PFS_TEST_SEED reproduces the data.
import { access } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import type { Watcher } from "etcd3";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { shardOf } from "../../pkg/pfs/index.js";
// eslint-disable-next-line pfs/boundaries -- the map codec and status records, as stored.
import {
  type ReplicaMap, decodeReplicaMap, decodeReplicaStatus, replicaStatusKey,
} from "../../pkg/pfs/replication/index.js";
import { PfsCluster, pfsRoot } from "../chaos/pfs-cluster.js";
import type { PfsdProcess } from "./pfs-api-support.js";
import { eventually } from "./pfs-crash-support.js";

const shards = 4;
const replicas = 3;
/** Generous bound of each wait (catch-up scans every 2 s, rebalancing rounds every 5 s). */
const settleMs = 120_000;
const seed = Number(process.env["PFS_TEST_SEED"] ?? systemSeed());

interface Revision {
  readonly revision: bigint;
  readonly map: ReplicaMap;
}

/** A path of `shard`, seeded. */
function pathOn(prng: Prng, shard: number): string {
  for (;;) {
    const path = `/f-${prng.intBelow(1_000_000_000)}`;
    if (shardOf(path, shards) === shard) return path;
  }
}

/** Every (shard, node) found holding all `commits` on disk, with the revision read after. */
class HoldingPoller {
  readonly verifiedBefore = new Map<string, bigint>();
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(private readonly cluster: PfsCluster, private readonly nodes: () => string[],
    private readonly commits: readonly { repo: string; id: string }[]) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** True when `node`'s replica of `shard` held the data before map revision `revision`. */
  heldBefore(shard: number, node: string, revision: bigint): boolean {
    const verified = this.verifiedBefore.get(`${shard}/${node}`);
    return verified !== undefined && verified < revision;
  }

  async #holds(shard: number, node: string): Promise<boolean> {
    for (const commit of this.commits) {
      const ok = await access(this.cluster.manifestPath(node, shard, commit.repo, commit.id))
        .then(() => true, () => false);
      if (!ok) return false;
    }
    return true;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      for (const node of this.nodes()) {
        for (let shard = 0; shard < shards; shard += 1) {
          const key = `${shard}/${node}`;
          if (this.verifiedBefore.has(key) || !await this.#holds(shard, node)) continue;
          const response = await this.cluster.etcd.get(`${pfsRoot}/replica-map`).exec();
          this.verifiedBefore.set(key, BigInt(response.header.revision));
        }
      }
      await PfsCluster.sleep(50);
    }
  }
}


/**
 * True when, at store revision `at`, `node`'s status record for `shard` said lag 0 with at
 * least `finished` finished commits.
 */
async function reportedCaughtUp(cluster: PfsCluster, shard: number, node: string, at: bigint,
  finished: number): Promise<boolean> {
  const text = await cluster.etcd.get(replicaStatusKey(pfsRoot, shard, node))
    .revision(String(at)).string();
  const record = text === null ? undefined : decodeReplicaStatus(text);
  return record?.ok === true && record.value.lag === 0 && record.value.finished >= finished;
}

/** True when every shard lists exactly R nodes of `nodes`, with no move in flight. */
function settledOn(map: ReplicaMap | undefined, nodes: readonly string[]): boolean {
  return map !== undefined && (map.moves ?? []).length === 0 &&
    map.placement.every((holders) => holders.length === replicas &&
      holders.every((node) => nodes.includes(node)));
}

test(`a join and a live retirement move replicas add-then-drop (seed ${seed})`, async (t) => {
  t.timeout(300_000);
  const prng = new Prng(seed);
  const cluster = await PfsCluster.start({
    nodes: 3, shards, replicas, writeQuorum: 2, masterLeaseTtlSeconds: 2, deadTimeSeconds: 600,
  });
  const dir = await mkdtemp(join(tmpdir(), "pfs-rebalance-"));
  const revisions: Revision[] = [];
  let watcher: Watcher | undefined;
  let joiner: PfsdProcess | undefined;
  let poller: HoldingPoller | undefined;
  try {
    // Data first: two commits, each with a file on every shard.
    const client = cluster.client("m1");
    await client.call("CreateRepo", { name: "data" });
    const commits: { repo: string; id: string }[] = [];
    for (let round = 0; round < 2; round += 1) {
      const open = await client.call("StartCommit", { repo: "data", branch: "master" });
      for (let shard = 0; shard < shards; shard += 1) {
        const bytes = Buffer.alloc(1 + prng.intBelow(50_000), prng.intBelow(256));
        await client.putFile({ repo: "data", commit: open.id, path: pathOn(prng, shard) },
          [bytes]);
      }
      await client.call("FinishCommit", { commit: { repo: "data", commit: open.id } });
      commits.push({ repo: "data", id: open.id });
    }
    const live = ["m1", "m2", "m3"];
    poller = new HoldingPoller(cluster, () => [...live], commits);
    poller.start();
    const initial = await eventually(settleMs, async () => {
      const map = await cluster.replicaMap();
      return settledOn(map, live) && live.every((node) => [...Array(shards).keys()]
        .every((shard) => poller?.verifiedBefore.has(`${shard}/${node}`) === true));
    });
    t.true(initial, `the first replicas never held the data: ${JSON.stringify(
      await cluster.replicaMap())}`);

    watcher = await cluster.etcd.watch().key(`${pfsRoot}/replica-map`).create();
    watcher.on("put", (kv) => {
      const decoded = decodeReplicaMap(kv.value.toString("utf8"));
      if (decoded.ok) revisions.push({ revision: BigInt(kv.mod_revision), map: decoded.value });
      else t.fail(`an undecodable map: ${decoded.error}`);
    });

    // A 4th node joins: the load evens out over m1..m4.
    joiner = await cluster.spawnJoiner("m4", join(dir, "m4"));
    await cluster.adopt("m4", join(dir, "m4"));
    live.push("m4");
    const joined = await eventually(settleMs, async () => {
      const map = await cluster.replicaMap();
      return settledOn(map, live) && map?.placement.some((holders) => holders.includes("m4")) ===
        true;
    });
    t.true(joined, `m4 took no replicas: ${JSON.stringify(await cluster.replicaMap())}\n` +
      joiner.stderr().slice(-3_000));

    // m2 is retired while it runs: drained onto the others.
    await cluster.etcd.put(`${pfsRoot}/retired/m2`)
      .value(JSON.stringify({ retiredWallMs: Date.now() }));
    const rest = ["m1", "m3", "m4"];
    const drained = await eventually(settleMs, async () =>
      settledOn(await cluster.replicaMap(), rest));
    t.true(drained, `m2 was not drained: ${JSON.stringify(await cluster.replicaMap())}`);

    // Afterwards: R up-to-date replicas per shard, on disk and as reported.
    const map = await cluster.replicaMap();
    const reported = await eventually(settleMs, async () => {
      for (let shard = 0; shard < shards; shard += 1) {
        for (const node of map?.placement[shard] ?? []) {
          const text = await cluster.etcd.get(replicaStatusKey(pfsRoot, shard, node)).string();
          const record = text === null ? undefined : decodeReplicaStatus(text);
          if (record?.ok !== true || record.value.lag !== 0) return false;
          if (poller?.verifiedBefore.has(`${shard}/${node}`) !== true) return false;
        }
      }
      return true;
    });
    t.true(reported, "every replica reports lag 0 and holds every commit on disk");

    // Every revision: at least R listed nodes held the data before it.
    await PfsCluster.sleep(200);
    watcher.removeAllListeners();
    t.true(revisions.length >= 2, `${revisions.length} map revisions recorded`);
    const short: string[] = [];
    let surplus = 0;
    for (const { revision, map: at } of revisions) {
      for (const [shard, holders] of at.placement.entries()) {
        if (holders.length > replicas) surplus += 1;
        const holding: string[] = [];
        for (const node of holders) {
          if (poller.heldBefore(shard, node, revision) ||
            (poller.verifiedBefore.has(`${shard}/${node}`) &&
              await reportedCaughtUp(cluster, shard, node, revision - 1n, commits.length))) {
            holding.push(node);
          }
        }
        if (holding.length < replicas) {
          short.push(`revision ${revision} shard ${shard}: ${holders.join(",")} of which ` +
            `${holding.join(",")} held the data`);
        }
      }
    }
    t.deepEqual(short, [], "no revision lists fewer than R replicas holding the data");
    t.true(surplus > 0, "some revision lists R+1 replicas (a move in flight)");
  } finally {
    await watcher?.cancel();
    await poller?.stop();
    await joiner?.stop();
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
});
