// Goal: a node's ShardHost catches its replica up from the watched finished-commit index:
// a commit that becomes finished in the store while the replica lacks it is copied at once
// (well before the slow re-check, catchUpRecheckMs), and the lag published under
// replica-status follows; a replica that lacks a finished commit no replica can give it never
// becomes master, publishes its lag, and once the commit appears on another replica a retry
// copies it and the replica campaigns and wins; a deleted commit leaves lag and count.
// Method: a real single-member pfsd; a replica map placing shard 0 on nodes "a" and "b"; only
// "b" runs a ShardHost; "a" is a plain local shard in a temp dir that b's host reaches as its
// remote replica. Commits are sealed on "a" directly and marked finished by writing their
// commit record, as a finish would. Files come from a seeded PRNG (seed printed). Waits poll
// with generous bounds.
import * as path from "node:path";
import test, { type ExecutionContext } from "ava";
import type { Etcd3 } from "etcd3";
import { SystemClock, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; meta/index.ts is its API
import { encodeRecord } from "../../../pkg/pfs/meta/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; this is the module's API
import {
  ReplicaDirectory, ReplicaMapKeys, ShardHost, copyCommit, decodeReplicaStatus, encodeReplicaMap,
  replicaStatusKey, replicationLimits, replicateCommit,
} from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import type { LocalShard, ShardCommit } from "../../../pkg/pfs/shard/index.js";
import { type MemberCluster, startCluster } from "../../support/member-cluster.js";
import { memberParentDir, storeClient } from "./replication-store-fixture.js";
import { sealCommit, seeded, seededFiles } from "./replication-transfer-fixture.js";
import { commitId, openShard, withTempDir } from "./shard-fixture.js";

let cluster: MemberCluster | undefined;
const clients: Etcd3[] = [];
let rootsMade = 0;
/** Longest wait for something the host does by itself (generous: the machine is shared). */
const settleMsMax = 30_000;

test.before(async () => {
  cluster = await startCluster({ kind: "pfsd", size: 1, ...memberParentDir });
});

test.after.always(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

function newClient(): Etcd3 {
  if (cluster === undefined) throw new Error("no cluster");
  return storeClient(cluster, clients);
}

/** Node b's host over its replica `local`, with `remoteA` as node a's replica of shard 0. */
interface Node {
  readonly root: string;
  readonly client: Etcd3;
  readonly host: ShardHost;
  readonly directory: ReplicaDirectory;
  readonly local: LocalShard;
  readonly remoteA: LocalShard;
}

async function withNode(dir: string, body: (node: Node) => Promise<void>): Promise<void> {
  rootsMade += 1;
  const root = `/sh-test-${rootsMade}`;
  const client = newClient();
  const keys = new ReplicaMapKeys(root);
  await client.put(keys.map)
    .value(encodeReplicaMap({ shards: 1, replicas: 2, placement: [["a", "b"]] })).exec();
  const clock = new SystemClock();
  const directory = await ReplicaDirectory.open({
    client, root, shards: 1, keys, clock, logger: silentLogger,
  });
  const remoteA = await openShard(path.join(dir, "a"));
  const local = await openShard(path.join(dir, "b"));
  const host = new ShardHost({
    client, sessionClient: client, root, node: "b", identity: "b@1", directory,
    openLocal: () => Promise.resolve(local),
    remote: (node) => node === "a" ? remoteA : undefined,
    replicate: (source, peers, commit, acksNeeded) =>
      replicateCommit(source, peers, commit, acksNeeded, silentLogger),
    copy: (source, target, commit, signal) => copyCommit(source, target, commit, { signal }),
    writeQuorum: 1, masterLeaseTtlSeconds: 2, clock, logger: silentLogger,
  });
  try {
    await host.start();
    await body({ root, client, host, directory, local, remoteA });
  } finally {
    await host.close();
    await directory.close();
    await remoteA.close();
  }
}

/** Marks `commit` finished in the store, as a finish does once every shard sealed it. */
async function markFinished(node: Node, commit: ShardCommit): Promise<void> {
  await node.client.put(`${node.root}/commits/${commit.repo}/${commit.id}`).value(encodeRecord({
    repo: commit.repo, id: commit.id, branch: "master", parent: "", state: "finished",
    description: "", startedMs: 1, finishedMs: 2, sizeBytes: 0, error: "", provenance: [],
  })).exec();
}

/** Polls `check` every 50 ms until it holds; fails the test after settleMsMax. */
async function eventually(t: ExecutionContext, what: string,
  check: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > settleMsMax) t.fail(`${what}: not within ${settleMsMax} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

async function publishedStatus(node: Node): Promise<{ lag: number; finished: number } | null> {
  const text = await node.client.get(replicaStatusKey(node.root, 0, "b")).string();
  if (text === null) return null;
  const decoded = decodeReplicaStatus(text);
  return decoded.ok ? { lag: decoded.value.lag, finished: decoded.value.finished } : null;
}

function standing(node: Node): { master: boolean; lag: number; finished: number } {
  const [first] = node.host.standings();
  if (first === undefined) throw new Error("b holds no replica");
  return first;
}

test("a newly finished commit is copied at once and the published lag follows", async (t) => {
  const prng = seeded(t);
  await withTempDir(async (dir) => withNode(dir, async (node) => {
    await eventually(t, "b publishes its status", async () =>
      (await publishedStatus(node))?.lag === 0);
    // Four commits one after the other: were the re-check driving the copies, they would
    // take three to four re-check periods; the index's changes make them take a fraction of
    // one (about 2 s in all on a loaded machine; the bound is two periods).
    let totalMs = 0;
    for (let n = 1; n <= 4; n += 1) {
      const commit: ShardCommit = { repo: "r", id: commitId(n) };
      await sealCommit(node.remoteA, commit, seededFiles(prng));
      await markFinished(node, commit);
      totalMs += await eventually(t, `b copies commit ${n}`, () => node.local.hasCommit(commit));
    }
    t.log(`4 commits copied in ${totalMs} ms`);
    t.true(totalMs < 2 * replicationLimits.catchUpRecheckMs,
      `4 commits copied in ${totalMs} ms: the index's changes, not the re-check, drove them`);
    await eventually(t, "b's standing counts 4 finished commits", () =>
      standing(node).finished === 4 && standing(node).lag === 0);
    // The published record follows the standing: a commit seen before its copy ended may have
    // been published with lag 1 (CI saw it), so the record is awaited, not read once.
    await eventually(t, "b publishes lag 0", async () =>
      (await publishedStatus(node))?.lag === 0);
  }));
});

test("a replica lacking a finished commit no replica has is never master; it catches up " +
  "once a replica has it, then wins", async (t) => {
  const prng = seeded(t);
  await withTempDir(async (dir) => {
    await withNode(dir, async (node) => {
      const lost: ShardCommit = { repo: "r", id: commitId(9) };
      await markFinished(node, lost);
      await eventually(t, "b publishes lag 1", async () =>
        (await publishedStatus(node))?.lag === 1);
      // Over a few candidate retries it stays a plain replica.
      const until = Date.now() + 4 * replicationLimits.candidateRetryMs;
      while (Date.now() < until) {
        t.false(standing(node).master, "b became master while it lacked a finished commit");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await sealCommit(node.remoteA, lost, seededFiles(prng));
      // No index change now: the retry comes from the candidate (behind, it asks for a pass
      // every candidateRetryMs) or the slow re-check.
      await eventually(t, "b catches up", () => node.local.hasCommit(lost));
      await eventually(t, "b becomes master", () => standing(node).master);
      await eventually(t, "b publishes lag 0", async () =>
        (await publishedStatus(node))?.lag === 0);
      t.deepEqual(node.host.standings(), [{ shard: 0, master: true, lag: 0, finished: 1 }]);
    });
  });
});

test("a deleted finished commit leaves the lag and the count", async (t) => {
  await withTempDir(async (dir) => withNode(dir, async (node) => {
    const gone: ShardCommit = { repo: "r", id: commitId(5) };
    await markFinished(node, gone);
    await eventually(t, "b counts the missing commit", () => standing(node).lag === 1);
    await node.client.delete().key(`${node.root}/commits/r/${gone.id}`).exec();
    await eventually(t, "the lag drops with the record", () => standing(node).lag === 0);
    await eventually(t, "and so does the published lag", async () =>
      (await publishedStatus(node))?.lag === 0);
    t.is(standing(node).finished, 0);
  }));
});
