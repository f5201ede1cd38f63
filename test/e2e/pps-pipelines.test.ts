// Goal: the pipeline system end to end (issue 8's three tests), through the real `pfs` CLI on a
// real 3-node `pfs deploy local` cluster:
//   1. Word count and a two-stage DAG: `wc` (glob /*) writes each input file's word count,
//      `total` (glob / over wc) sums them; the outputs are exactly the counts computed here.
//      A second input commit changing one file skips the unchanged datums (counted in `pfs list
//      job --json`), the outputs are still exact, and the output commit's provenance names the
//      input commit.
//   2. A failing command (stderr "boom-<file>", exit 3) fails its job: the stderr is in `pfs
//      logs`, the output commit is failed, and the downstream pipeline gets no job.
//   3. kill -9 of a node running datums (not the node the CLI talks to, not the pps master)
//      mid-job: the job still succeeds with exact outputs.
// Method: one cluster for the file, the tests serial (3 kills a node, so it runs last). The
// input texts come from a seeded PRNG (seed in the title and the log). Waits poll with
// deadlines of minutes: no timing is asserted.
import test, { type ExecutionContext } from "ava";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import {
  type DeployedCluster, type JobView, createPipeline, deployLocal, inspectCommit, jobEnded,
  listJobs, putFiles, readTree, waitFor, waitJobOf,
} from "./pps-support.js";

const seed = systemSeed();

/** How long a job may take to end on a loaded 2-core machine (generous). */
const jobWaitMs = 150_000;

/** How long a downstream pipeline is given to (wrongly) start a job on a failed commit. */
const noJobWatchMs = 8_000;

let cluster: DeployedCluster | undefined;

test.before(async (t) => {
  t.log(`seed ${seed}`);
  cluster = await deployLocal({ progress: (line) => { t.log(line); } });
});

test.after.always(async () => {
  await cluster?.down();
});

function theCluster(): DeployedCluster {
  if (cluster === undefined) throw new Error("the cluster did not start");
  return cluster;
}

/** Words of lowercase letters, separated by spaces and newlines. */
function randomText(prng: Prng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i += 1) {
    const length = prng.intBetween(1, 8);
    const word = Array.from({ length }, () => String.fromCharCode(97 + prng.intBelow(26)));
    out.push(word.join(""), prng.chance(0.2) ? "\n" : " ");
  }
  return out.join("");
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter((word) => word !== "").length;
}

/** What `wc` must output for `files`: each name → its word count and a newline. */
function countsOf(files: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(files)
    .map(([name, text]) => [`/${name}`, `${wordCount(text)}\n`]));
}

/** The commit id of "repo@id". */
function idOf(repoAtId: string): string {
  return repoAtId.slice(repoAtId.indexOf("@") + 1);
}

const wcCommand = 'for f in "$PFS_IN"/text/*; do ' +
  'wc -w < "$f" | tr -d " " > "$PFS_OUT/$(basename "$f")"; done';
const totalCommand = 'cat "$PFS_IN"/wc/* | awk \'{ s += $1 } END { print s }\' > "$PFS_OUT/total"';

async function checkJob(t: ExecutionContext, job: JobView, expected: Partial<JobView>):
  Promise<void> {
  t.like(job, { state: "success", error: "", datums_failed: 0, ...expected },
    JSON.stringify(job));
  const output = await inspectCommit(theCluster(), job.output_commit);
  t.is(output.state, "FINISHED");
  t.deepEqual(output.provenance, [job.input_commit], "the output names its input commit");
}

test.serial(`word count, a map-reduce DAG, and skipped datums (seed ${seed})`, async (t) => {
  t.timeout(4 * jobWaitMs);
  const c = theCluster();
  const prng = new Prng(seed);
  const files: Record<string, string> = {};
  for (let i = 1; i <= 5; i += 1) files[`f${i}.txt`] = randomText(prng, prng.intBetween(3, 60));
  await c.pfsOk(["create", "repo", "text"]);
  await createPipeline(c, { name: "wc", input: { repo: "text", glob: "/*" },
    transform: { cmd: ["sh", "-c", wcCommand] }, parallelism: 2 });
  await createPipeline(c, { name: "total", input: { repo: "wc", glob: "/" },
    transform: { cmd: ["sh", "-c", totalCommand] } });
  const first = await putFiles(c, "text", files);
  const wc1 = await waitJobOf(c, "wc", first, jobWaitMs);
  await checkJob(t, wc1, { datums_total: 5, datums_processed: 5, datums_skipped: 0 });
  t.deepEqual(await readTree(c, wc1.output_commit), countsOf(files));
  const total1 = await waitJobOf(c, "total", wc1.output_commit, jobWaitMs);
  await checkJob(t, total1, { datums_total: 1, datums_processed: 1 });
  const sum = (all: Record<string, string>): string =>
    `${Object.values(all).reduce((s, text) => s + wordCount(text), 0)}\n`;
  t.deepEqual(await readTree(c, total1.output_commit), { "/total": sum(files) });

  // One file changes: its datum runs, the other four are skipped and their outputs reused.
  const changed = { "f3.txt": randomText(prng, 77) };
  const second = await putFiles(c, "text", changed);
  Object.assign(files, changed);
  const wc2 = await waitJobOf(c, "wc", second, jobWaitMs);
  await checkJob(t, wc2, { datums_total: 5, datums_processed: 1, datums_skipped: 4 });
  t.deepEqual(await readTree(c, wc2.output_commit), countsOf(files));
  t.deepEqual(await readTree(c, "wc@master"), countsOf(files));
  const total2 = await waitJobOf(c, "total", wc2.output_commit, jobWaitMs);
  await checkJob(t, total2, { datums_total: 1, datums_processed: 1, datums_skipped: 0 });
  t.deepEqual(await readTree(c, "total@master"), { "/total": sum(files) });
  const jobs = await listJobs(c, "wc");
  t.deepEqual(jobs.map((job) => job.id), [wc2.id, wc1.id], "newest first");
  t.is(idOf(wc2.output_commit), (await inspectCommit(c, "wc@master")).id);
});

test.serial("a failing command fails its job, its stderr is in the logs, downstream stays idle",
  async (t) => {
    t.timeout(2 * jobWaitMs);
    const c = theCluster();
    await c.pfsOk(["create", "repo", "bad"]);
    const command = 'for f in "$PFS_IN"/bad/*; do echo "boom-$(basename "$f")" >&2; done; exit 3';
    await createPipeline(c, { name: "boom", input: { repo: "bad", glob: "/*" },
      transform: { cmd: ["sh", "-c", command] }, datum_tries: 2 });
    await createPipeline(c, { name: "after", input: { repo: "boom", glob: "/" },
      transform: { cmd: ["sh", "-c", 'cp -r "$PFS_IN"/boom/. "$PFS_OUT"/'] } });
    const input = await putFiles(c, "bad", { "x1": "a", "x2": "b" });
    const job = await waitJobOf(c, "boom", input, jobWaitMs);
    t.like(job, { state: "failure", datums_total: 2 }, JSON.stringify(job));
    t.true(job.datums_failed >= 1, JSON.stringify(job));
    t.not(job.error, "");
    const logs = await c.pfs(["logs", "-p", "boom"]);
    t.is(logs.code, 0, logs.stderr);
    t.true(logs.stdout.includes("boom-x1"), logs.stdout);
    t.true(logs.stdout.includes("boom-x2"), logs.stdout);
    const jobLogs = await c.pfsOk(["logs", "-p", "boom", "--job", job.id]);
    t.true(jobLogs.includes("boom-x1"), jobLogs);
    t.not(job.output_commit, "");
    t.like(await inspectCommit(c, job.output_commit), { state: "FAILED" });
    const head = await c.pfs(["inspect", "commit", "boom@master", "--json"]);
    t.not(head.code, 0, "the failed commit did not become the head of boom@master");
    // A downstream job would start within moments of an output commit; none may appear.
    await new Promise((wake) => { setTimeout(wake, noJobWatchMs); });
    t.deepEqual(await listJobs(c, "after"), []);
  });

/** The node named by the pps master's election key (the lowest create revision). */
async function ppsMasterNode(c: DeployedCluster): Promise<string> {
  const etcd = c.etcd();
  try {
    const response = await etcd.getAll().prefix("/pps/election/").exec();
    const kvs = [...response.kvs].sort((a, b) => Number(a.create_revision) -
      Number(b.create_revision));
    return kvs[0]?.value.toString("utf8") ?? "";
  } finally {
    etcd.close();
  }
}

/** The nodes that hold claims of job `jobId` now. */
async function claimingNodes(c: DeployedCluster, jobId: string): Promise<string[]> {
  const etcd = c.etcd();
  try {
    const claims = await etcd.getAll().prefix(`/pps/claims/${jobId}/`).strings();
    const nodes = Object.values(claims).map((value) => (JSON.parse(value) as { node: string }).node);
    return [...new Set(nodes)].sort();
  } finally {
    etcd.close();
  }
}

test.serial("kill -9 of a node running datums mid-job: the job still succeeds", async (t) => {
  t.timeout(3 * jobWaitMs);
  const c = theCluster();
  await c.pfsOk(["create", "repo", "many"]);
  const files: Record<string, string> = {};
  for (let i = 1; i <= 15; i += 1) files[`n${String(i).padStart(2, "0")}`] = `value ${i}\n`;
  const command = 'sleep 2; for f in "$PFS_IN"/many/*; do ' +
    'cp "$f" "$PFS_OUT/$(basename "$f").out"; done';
  await createPipeline(c, { name: "slow", input: { repo: "many", glob: "/*" },
    transform: { cmd: ["sh", "-c", command] }, parallelism: 3, datum_tries: 3 });
  const input = await putFiles(c, "many", files);
  const running = await waitFor("the slow job running with datums processed",
    () => listJobs(c, "slow"),
    (jobs) => jobs.some((job) => job.input_commit === input &&
      (jobEnded(job) || (job.state === "running" && job.datums_processed >= 1))), jobWaitMs);
  const job = running.find((each) => each.input_commit === input);
  if (job === undefined) return t.fail("no job");
  if (jobEnded(job)) return t.fail(`the job ended before a node could be killed: ${job.state}`);
  const master = await ppsMasterNode(c);
  const busy = await claimingNodes(c, job.id);
  const spared = new Set(["node1", master]);
  const victim = busy.find((node) => !spared.has(node)) ??
    c.nodes.find((node) => !spared.has(node));
  if (victim === undefined) return t.fail(`no node to kill (master ${master})`);
  t.log(`pps master ${master}; nodes running datums ${busy.join(",")}; killing ${victim}`);
  c.kill9(victim);
  const ended = await waitJobOf(c, "slow", input, 2 * jobWaitMs);
  await checkJob(t, ended, { datums_total: 15, datums_processed: 15, datums_skipped: 0 });
  const expected = Object.fromEntries(Object.entries(files)
    .map(([name, text]) => [`/${name}.out`, text]));
  t.deepEqual(await readTree(c, ended.output_commit), expected);
});
