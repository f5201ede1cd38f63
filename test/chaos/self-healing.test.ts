// Goal (issue 6, test 3): with no one acting, a node stopped for good turns FAULTY after the
// dead time and every shard is back to R replicas, all holding every finished commit; and a
// chunk corrupted on one replica's disk is never served (reads through pfs.API from every
// node return the written bytes) and is repaired on that disk.
// Method: 5 real pfsd processes (R=3, W=2, 4 shards, 6 s dead time); writers commit for a few
// seconds; one node holding replicas is killed -9 and never restarted; its state is read from
// `pfs cluster status --json` when the node serves it, else from its offline record and the
// dead time; the replica map and every replica's manifests and chunk files are read on disk
// (checker.ts checkReplicas). Then one byte of a chunk file is flipped on one replica and the
// file is read through every node until that chunk file hashes to its id again. The seed of
// the writers is in the title; PFS_TEST_SEED reproduces it.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { shardOf } from "../../pkg/pfs/index.js";
import { eventually } from "../e2e/pfs-crash-support.js";
import { checkReplicas } from "./checker.js";
import { features, waitingFor } from "./features.js";
import { healMsMax } from "./limits.js";
import { PfsCluster, chaosClusterDefaults } from "./pfs-cluster.js";
import { type CommitRecord, Writers } from "./writers.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
const title = `self-healing: a dead node turns FAULTY, shards return to R replicas, a corrupt ` +
  `chunk is not served and is repaired (seed ${seed})`;
const pfsCli = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));

/** Whether `pfs cluster status --json` (or, without it, the store) calls `node` faulty. */
async function faulty(cluster: PfsCluster, via: string, node: string): Promise<boolean> {
  if (features.clusterStatus) {
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [pfsCli, "cluster", "status", "--json", "--address",
        cluster.address(via)], (error, stdout) => {
        if (error !== null) reject(new Error(`pfs cluster status: ${error.message}`));
        else resolve(stdout);
      });
    });
    const status = JSON.parse(output) as { nodes: { id: string; faulty: boolean }[] };
    return status.nodes.some((entry) => entry.id === node && entry.faulty);
  }
  const since = (await cluster.offlineNodes()).get(node);
  return since !== undefined &&
    Date.now() - since >= cluster.options.deadTimeSeconds * 1000;
}

/** Every shard has R replicas in the map, none on `gone`. */
async function fullyReplicated(cluster: PfsCluster, gone: string): Promise<boolean> {
  const map = await cluster.replicaMap();
  return map !== undefined && map.placement.every((nodes) =>
    nodes.length === cluster.options.replicas && !nodes.includes(gone));
}

async function corruptAndRepair(t: ExecutionContext, cluster: PfsCluster, via: string,
  record: CommitRecord): Promise<void> {
  const file = record.files.find((candidate) => candidate.size > 0) ?? record.files[0];
  if (file === undefined) throw new Error("a commit without files");
  const shard = shardOf(file.path, cluster.options.shards);
  const info = await cluster.client(via).call("InspectFile",
    { file: { commit: { repo: record.repo, commit: record.commit }, path: file.path } });
  const chunk = info.chunks[0]?.id;
  const holder = (await cluster.holders(shard))[0];
  if (chunk === undefined || holder === undefined) throw new Error(`no chunk of ${file.path}`);
  const path = cluster.chunkPath(holder, shard, chunk);
  const bytes = await readFile(path);
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
  t.log(`flipped a byte of chunk ${chunk} of ${file.path} on ${holder}`);
  const nodes = cluster.running();
  const repaired = await eventually(healMsMax, async () => {
    for (const node of nodes) {
      const read = await cluster.client(node).getFile(record.repo, record.commit, file.path);
      const sha = createHash("sha256").update(read).digest("hex");
      t.is(sha, file.sha256, `${file.path} read through ${node} served corrupt bytes`);
    }
    const onDisk = await readFile(path).catch(() => Buffer.of());
    return createHash("sha256").update(onDisk).digest("hex") === chunk;
  });
  t.true(repaired, `chunk ${chunk} on ${holder} was not repaired within ${healMsMax} ms`);
}

if (!features.replication) {
  test.todo(waitingFor(title, "replication wired into pfsd (replica map, catch-up, repair)"));
} else {
  test(title, async (t) => {
    t.timeout(240_000);
    const cluster = await PfsCluster.start(chaosClusterDefaults);
    try {
      const writers = new Writers(cluster, seed, 2);
      await writers.start();
      // Until a few commits finished (a loaded machine is slow), 60 s at most.
      await eventually(60_000, () => Promise.resolve(writers.okTimes().length >= 4));
      await writers.stop();
      const finished = writers.log.records.filter((record) => record.outcome === "ok");
      t.true(finished.length >= 2, `only ${finished.length} commits finished`);
      const victim = (await cluster.holders(0))[0] ?? "";
      await cluster.kill9(victim);
      const via = cluster.names.find((name) => name !== victim) ?? "";
      t.true(await eventually(cluster.options.deadTimeSeconds * 1000 + 60_000,
        () => faulty(cluster, via, victim)), `${victim} never turned faulty`);
      t.true(await eventually(healMsMax, () => fullyReplicated(cluster, victim)),
        JSON.stringify(await cluster.replicaMap()));
      const deadline = Date.now() + healMsMax;
      for (const record of finished) {
        t.deepEqual(await checkReplicas(cluster, via, record, deadline), []);
      }
      const sample = finished[finished.length - 1];
      if (sample !== undefined) await corruptAndRepair(t, cluster, via, sample);
    } finally {
      await cluster.close();
    }
  });
}
