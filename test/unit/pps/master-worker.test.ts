// Goal: the pps master and the real pps workers (pkg/pps/worker) interlock as the runtime
// rules say: a word count over a repo of text files and a second stage summing its output (a
// DAG) give exactly the right outputs with real child processes on two workers; the input's
// second commit, one file changed, skips the unchanged datums (counted) and the second stage
// runs again on the new output; a failing command fails its job with the datum's stderr in
// the logs branch and the output commit failed.
// Method: one 1-node pfsd; a master and two workers on their own pps key root per test; `sh`
// commands. File contents come from a seeded PRNG.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { SystemClock, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the tests drive pfs through its client
import { commitRef } from "../../../pkg/pfs/client/index.js";
import { type PpsKeys, logsBranch } from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- the real worker, from its own index
import { PpsWorker } from "../../../pkg/pps/worker/index.js";
import {
  type Node, fileSetup, commitFiles, commitParts, freshKeys, jobWhere, newMaster, putPipeline,
  readFiles, words,
} from "./master-support.js";

const { seed, prng, node } = fileSetup((stop) => { test.after.always(stop); });

/** A master and two workers on `keys`, closed (and their work dirs removed) by teardown. */
async function startPps(t: { teardown(fn: () => Promise<void>): void }, n: Node,
  keys: PpsKeys): Promise<void> {
  const workRoot = await mkdtemp(join(tmpdir(), "pps-master-worker-"));
  const master = newMaster(n, keys, "m1");
  const workers = ["w1", "w2"].map((name) => new PpsWorker({
    client: n.etcd, keys, pfs: n.pfs, node: name, workRoot: join(workRoot, name),
    holdsShard: () => true, clock: new SystemClock(), logger: silentLogger,
    leaseTtlSeconds: 5,
  }));
  await Promise.all(workers.map((worker) => worker.start()));
  t.teardown(async () => {
    await master.close();
    await Promise.all(workers.map((worker) => worker.close()));
    await rm(workRoot, { recursive: true, force: true });
  });
}

const countWords = "f=$(find \"$PFS_IN\" -type f); " +
  "wc -w < \"$f\" | tr -d ' ' > \"$PFS_OUT/$(basename \"$f\").n\"";
const sumCounts = "cat $(find \"$PFS_IN\" -type f | sort) | " +
  "awk '{ s += $1 } END { print s }' > \"$PFS_OUT/total\"";

test(`word count and a sum stage with real workers; a second commit skips (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "wc");
    const sizes = new Map([["/a.txt", 3], ["/b.txt", 5], ["/c.txt", 8]]);
    const files = new Map([...sizes].map(([path, count]) => [path, words(prng, count)]));
    await commitFiles(n.pfs, "wc-in", files);
    await putPipeline(n, keys, "wc", "wc-in", "/*", 1,
      { transform: { cmd: ["sh", "-c", countWords] }, parallelism: 2 });
    await putPipeline(n, keys, "wc-sum", "wc", "/", 1,
      { transform: { cmd: ["sh", "-c", sumCounts] } });
    await startPps(t, n, keys);
    const counted = await jobWhere(n, keys, "wc success", (job) =>
      job.pipeline === "wc" && job.state === "success");
    const output = commitParts(counted.outputCommit);
    t.deepEqual(await readFiles(n.pfs, output.repo, output.id),
      new Map([["/a.txt.n", "3\n"], ["/b.txt.n", "5\n"], ["/c.txt.n", "8\n"]]));
    const summed = await jobWhere(n, keys, "sum success", (job) =>
      job.pipeline === "wc-sum" && job.state === "success");
    t.is(summed.inputCommit, counted.outputCommit);
    const total = commitParts(summed.outputCommit);
    t.deepEqual(await readFiles(n.pfs, total.repo, total.id), new Map([["/total", "16\n"]]));

    await commitFiles(n.pfs, "wc-in", new Map([["/b.txt", words(prng, 10)]]));
    const again = await jobWhere(n, keys, "second wc success", (job) =>
      job.pipeline === "wc" && job.id !== counted.id && job.state === "success");
    t.is(again.datumsTotal, 3);
    t.is(again.datumsSkipped, 2);
    t.is(again.datumsProcessed, 1);
    const recount = commitParts(again.outputCommit);
    t.deepEqual(await readFiles(n.pfs, recount.repo, recount.id),
      new Map([["/a.txt.n", "3\n"], ["/b.txt.n", "10\n"], ["/c.txt.n", "8\n"]]));
    const resummed = await jobWhere(n, keys, "second sum success", (job) =>
      job.pipeline === "wc-sum" && job.inputCommit === again.outputCommit &&
      job.state === "success");
    const newTotal = commitParts(resummed.outputCommit);
    t.deepEqual(await readFiles(n.pfs, newTotal.repo, newTotal.id),
      new Map([["/total", "21\n"]]));
  });

test(`a failing command fails its job; its stderr is in the logs (seed ${seed})`, async (t) => {
  const n = await node();
  const keys = freshKeys(prng, "bad");
  await commitFiles(n.pfs, "bad-in", new Map([["/x", words(prng, 2)]]));
  await putPipeline(n, keys, "bad", "bad-in", "/*", 1,
    { transform: { cmd: ["sh", "-c", "echo oops-$PFS_DATUM_ID >&2; exit 4"] }, datum_tries: 1 });
  await startPps(t, n, keys);
  const failed = await jobWhere(n, keys, "job failure", (job) => job.state === "failure");
  t.regex(failed.error, /datum \/x failed after 1 attempt\(s\) on w[12]/);
  t.is(failed.datumsFailed, 1);
  const output = commitParts(failed.outputCommit);
  t.is((await n.pfs.inspectCommit(commitRef(output.repo, output.id))).state, "FAILED");
  const logs = [...(await readFiles(n.pfs, "bad", logsBranch))]
    .filter(([path]) => path.endsWith(".log")).map(([, text]) => text);
  t.is(logs.length, 1);
  t.regex(logs[0] ?? "", /oops-[0-9a-f]{64}/);
});
