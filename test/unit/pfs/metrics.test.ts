// Goal: the pfs node's metrics read what they claim: per-shard master, lag and masters held
// from the shard host's standings; chunk store bytes as the sum of the chunk files on disk of
// each held shard (re-walked at most every chunkStoreScanIntervalMs, so a file added since is
// not seen until then); received bytes counted as the parts pass through.
// Method: a real temp dir with chunk files of random sizes (seed printed), a private registry.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Registry } from "prom-client";
import { Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the node's metrics, which pfsd reaches through PfsNode
import { PfsMetrics } from "../../../pkg/pfs/metrics/index.js";
import { parseExposition, sampleSum } from "../../e2e/pfsd-metrics-support.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);

test(`shard gauges, chunk store bytes and received bytes (seed ${seed})`, async (t) => {
  const prng = new Prng(seed);
  const root = await mkdtemp(join(tmpdir(), "pfs-metrics-"));
  try {
    const expected = new Map<number, number>();
    for (const shard of [0, 2]) {
      let total = 0;
      for (const fanOut of ["00", "ab"]) {
        const dir = join(root, `shard-${shard}`, "chunks", fanOut);
        await mkdir(dir, { recursive: true });
        for (let i = 0; i < 3; i++) {
          const size = prng.intBelow(5_000);
          await writeFile(join(dir, `chunk-${i}`), Buffer.alloc(size, 7));
          total += size;
        }
      }
      expected.set(shard, total);
    }
    const registry = new Registry();
    const metrics = new PfsMetrics({ registry,
      chunkDir: (shard) => join(root, `shard-${shard}`, "chunks") });
    metrics.bind(() => [{ shard: 0, master: true, lag: 0 }, { shard: 2, master: false, lag: 3 },
      { shard: 5, master: true, lag: 0 }]);
    const parts = [new Uint8Array(10), new Uint8Array(32)];
    async function* stream(): AsyncIterable<Uint8Array> {
      for (const part of parts) yield await Promise.resolve(part);
    }
    let passed = 0;
    for await (const part of metrics.countReceived("PutFile", stream())) passed += part.length;
    metrics.commitStarted();
    metrics.commitFinished();
    const families = parseExposition(await registry.metrics());
    t.is(passed, 42);
    t.is(sampleSum(families, "pfs_api_received_bytes_total", { method: "PutFile" }), 42);
    t.is(sampleSum(families, "pfs_commits_started_total"), 1);
    t.is(sampleSum(families, "pfs_commits_finished_total"), 1);
    t.is(sampleSum(families, "pfs_masters_held"), 2);
    t.is(sampleSum(families, "pfs_shard_master", { shard: "2" }), 0);
    t.is(sampleSum(families, "pfs_replication_lag_commits", { shard: "2" }), 3);
    t.is(sampleSum(families, "pfs_chunk_store_bytes", { shard: "0" }), expected.get(0) ?? -1);
    t.is(sampleSum(families, "pfs_chunk_store_bytes", { shard: "2" }), expected.get(2) ?? -1);
    t.is(sampleSum(families, "pfs_chunk_store_bytes", { shard: "5" }), 0, "no directory: 0");
    // Within the scan interval the last walk is reused.
    await writeFile(join(root, "shard-0", "chunks", "00", "late"), Buffer.alloc(100));
    const again = parseExposition(await registry.metrics());
    t.is(sampleSum(again, "pfs_chunk_store_bytes", { shard: "0" }), expected.get(0) ?? -1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
