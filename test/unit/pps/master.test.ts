// Goal: the pps master (pkg/pps/master) does what the runtime rules of task-records.ts say,
// against a real pfsd: a finished input commit makes a job whose tasks are the glob's datums;
// assembly copies exactly the union of the results' outputs (not what a staging commit holds
// besides); a second commit with one file changed skips the unchanged datums and reuses their
// outputs; two datums writing one path, or a failed datum, fail the job and its output commit
// (logs still kept); a failed input commit starts no job; an update kills the running job; a
// second master finishes the job a closed first master started, and a third sweeps what an
// interrupted cleanup left; a new pipeline's head and later commits get jobs in order;
// --reprocess and a pipeline created again reuse nothing.
// Method: one 1-node pfsd for the file; each test its own pps key root and repos; the worker's
// side played by hand (master-support.ts). File contents come from a seeded PRNG.
import test from "ava";
// eslint-disable-next-line pfs/boundaries -- the tests drive pfs through its client
import { commitRef } from "../../../pkg/pfs/client/index.js";
import {
  decodeLogIndex, logIndexPath, logPath, logsBranch, stagedLogPath, stagedOutputPath,
  stagingBranch,
} from "../../../pkg/pps/index.js";
import {
  fileSetup, commitFiles, commitParts, freshKeys, jobWhere, jobsOf, playWorker, putPipeline,
  readFiles, newMaster, tasksOf, until, words,
} from "./master-support.js";

const { seed, prng, node } = fileSetup((stop) => { test.after.always(stop); });

/** Output of the fake transform: each input file's text upper-cased at /<root name>.out. */
function upper(files: ReadonlyMap<string, string>) {
  return (task: { datum: { root: string; files: readonly { path: string }[] } }) => ({
    outputs: new Map([[`${task.datum.root}.out`,
      task.datum.files.map((file) => (files.get(file.path) ?? "?").toUpperCase()).join("|")]]),
  });
}

test(`a job per finished commit, its tasks, exactly the union, then skips (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "union");
    const files = new Map([["/a.txt", words(prng, 3)], ["/b.txt", words(prng, 4)],
      ["/c/d.txt", words(prng, 2)], ["/c/e.txt", words(prng, 5)]]);
    const first = await commitFiles(n.pfs, "union-in", files);
    await putPipeline(n, keys, "union-out", "union-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const job = await jobWhere(n, keys, "job running", (candidate) =>
      candidate.state === "running");
    t.is(job.inputCommit, `union-in@${first}`);
    t.is(job.datumsTotal, 3);
    t.is(job.datumsSkipped, 0);
    const tasks = await tasksOf(n, keys, job.id);
    t.deepEqual(tasks.map((task) => task.datum.root), ["/a.txt", "/b.txt", "/c"]);
    t.deepEqual(tasks[2]?.datum.files.map((file) => file.path), ["/c/d.txt", "/c/e.txt"]);
    const run = upper(files);
    // w1 stages a stray output and a stray log no result names: neither may reach the job's
    // output or logs commits.
    await playWorker(n, keys, tasks.slice(0, 2), "w1", run, new Map([
      [stagedOutputPath("/stray"), "x"], [stagedLogPath("f".repeat(64)), "stray log"]]));
    await playWorker(n, keys, tasks.slice(2), "w2", run);
    const done = await jobWhere(n, keys, "job success", (candidate) =>
      candidate.id === job.id && candidate.state === "success");
    t.is(done.datumsProcessed, 3);
    const output = commitParts(done.outputCommit);
    const expected = new Map(tasks.map((task) => [...run(task).outputs][0] ?? ["", ""]));
    t.deepEqual(await readFiles(n.pfs, output.repo, output.id), expected);
    t.deepEqual((await n.pfs.inspectCommit(commitRef(output.repo, output.id))).provenance,
      [job.inputCommit]);
    const logs = await readFiles(n.pfs, "union-out", logsBranch);
    t.deepEqual([...logs.keys()].sort(), [...tasks.map((task) => logPath(job.id, task.datum.id)),
      logIndexPath(job.id)].sort());
    // The index keeps what the results said (they are gone): each datum's root and node.
    const index = decodeLogIndex("index", Buffer.from(logs.get(logIndexPath(job.id)) ?? ""));
    t.deepEqual(index.map((entry) => [entry.root, entry.node, entry.ok, entry.attempts]),
      [["/a.txt", "w1", true, 1], ["/b.txt", "w1", true, 1], ["/c", "w2", true, 1]]);
    t.deepEqual(await n.etcd.getAll().prefix(keys.resultsOf(job.id)).keys(), []);
    t.deepEqual((await n.pfs.listBranch("union-out")).map((branch) => branch.name).sort(),
      [logsBranch, "master"]);

    // A second commit changing /b.txt only: two datums skipped, one runs.
    files.set("/b.txt", words(prng, 6));
    await commitFiles(n.pfs, "union-in", new Map([["/b.txt", files.get("/b.txt") ?? ""]]));
    const second = await jobWhere(n, keys, "second job running", (candidate) =>
      candidate.id !== job.id && candidate.state === "running");
    t.is(second.datumsTotal, 3);
    t.is(second.datumsSkipped, 2);
    const rerun = await tasksOf(n, keys, second.id);
    t.deepEqual(rerun.map((task) => task.datum.root), ["/b.txt"]);
    await playWorker(n, keys, rerun, "w1", upper(files));
    const secondDone = await jobWhere(n, keys, "second job success", (candidate) =>
      candidate.id === second.id && candidate.state === "success");
    t.is(secondDone.datumsProcessed, 1);
    const again = commitParts(secondDone.outputCommit);
    expected.set("/b.txt.out", files.get("/b.txt")?.toUpperCase() ?? "");
    t.deepEqual(await readFiles(n.pfs, again.repo, again.id), expected);
  });

test(`two datums writing one path fail the job and the output commit (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "clash");
    await commitFiles(n.pfs, "clash-in", new Map([["/x", words(prng, 2)],
      ["/y", words(prng, 2)]]));
    await putPipeline(n, keys, "clash-out", "clash-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const job = await jobWhere(n, keys, "job running", (candidate) =>
      candidate.state === "running");
    const tasks = await tasksOf(n, keys, job.id);
    await playWorker(n, keys, tasks, "w1", () => ({ outputs: new Map([["/same", "v"]]) }));
    const failed = await jobWhere(n, keys, "job failure", (candidate) =>
      candidate.state === "failure");
    t.regex(failed.error, /datums \/x and \/y both wrote \/same/);
    const output = commitParts(failed.outputCommit);
    const info = await n.pfs.inspectCommit(commitRef(output.repo, output.id));
    t.is(info.state, "FAILED");
    t.regex(info.error, /both wrote \/same/);
  });

test(`a failed datum fails the job; its log is kept (seed ${seed})`, async (t) => {
  const n = await node();
  const keys = freshKeys(prng, "fail");
  await commitFiles(n.pfs, "fail-in", new Map([["/ok", words(prng, 2)],
    ["/bad", words(prng, 2)]]));
  await putPipeline(n, keys, "fail-out", "fail-in", "/*");
  const master = newMaster(n, keys, "m1");
  t.teardown(() => master.close());
  const job = await jobWhere(n, keys, "job running", (candidate) => candidate.state === "running");
  const tasks = await tasksOf(n, keys, job.id);
  await playWorker(n, keys, tasks, "w1", (task) => task.datum.root === "/bad"
    ? { outputs: new Map(), error: "exit code 3: boom" }
    : { outputs: new Map([["/fine", "1"]]) });
  const failed = await jobWhere(n, keys, "job failure", (candidate) =>
    candidate.state === "failure");
  t.regex(failed.error, /datum \/bad failed after 3 attempt\(s\) on w1: exit code 3: boom/);
  t.is(failed.datumsFailed, 1);
  t.is(failed.datumsProcessed, 1);
  const output = commitParts(failed.outputCommit);
  t.is((await n.pfs.inspectCommit(commitRef(output.repo, output.id))).state, "FAILED");
  const bad = tasks.find((task) => task.datum.root === "/bad");
  const logs = await readFiles(n.pfs, "fail-out", logsBranch);
  t.regex(logs.get(logPath(job.id, bad?.datum.id ?? "")) ?? "", /boom/);
});

test(`a failed input commit starts no job (seed ${seed})`, async (t) => {
  const n = await node();
  const keys = freshKeys(prng, "nofail");
  await putPipeline(n, keys, "nofail-out", "nofail-in", "/");
  const master = newMaster(n, keys, "m1");
  t.teardown(() => master.close());
  await commitFiles(n.pfs, "nofail-in", new Map([["/f", "1"]]), "upstream failed");
  const good = await commitFiles(n.pfs, "nofail-in", new Map([["/f", "2"]]));
  await jobWhere(n, keys, "job for the good commit", (job) =>
    job.inputCommit === `nofail-in@${good}`);
  const jobs = await jobsOf(n, keys);
  t.deepEqual(jobs.map((job) => job.inputCommit), [`nofail-in@${good}`]);
});

test(`an update kills the running job and fails its output commit (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "kill");
    await commitFiles(n.pfs, "kill-in", new Map([["/k", words(prng, 2)]]));
    await putPipeline(n, keys, "kill-out", "kill-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const job = await jobWhere(n, keys, "job running", (candidate) =>
      candidate.state === "running");
    await putPipeline(n, keys, "kill-out", "kill-in", "/*", 2);
    const killed = await jobWhere(n, keys, "job killed", (candidate) =>
      candidate.id === job.id && candidate.state === "killed");
    t.is(killed.error, "killed: pipeline updated");
    const output = commitParts(killed.outputCommit);
    t.is((await n.pfs.inspectCommit(commitRef(output.repo, output.id))).state, "FAILED");
    t.deepEqual(await n.etcd.getAll().prefix(keys.tasksOf(job.id)).keys(), []);
    // Version 2 starts its own job for the branch head.
    const next = await jobWhere(n, keys, "version 2 job", (candidate) =>
      candidate.pipelineVersion === 2);
    t.is(next.inputCommit, job.inputCommit);
  });

test(`a second master finishes the job a closed first one started; a third sweeps (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "resume");
    const files = new Map([["/p", words(prng, 2)], ["/q", words(prng, 3)]]);
    await commitFiles(n.pfs, "resume-in", files);
    await putPipeline(n, keys, "resume-out", "resume-in", "/*");
    const first = newMaster(n, keys, "m1");
    const job = await jobWhere(n, keys, "job running", (candidate) =>
      candidate.state === "running");
    await first.close();
    const second = newMaster(n, keys, "m2");
    t.teardown(() => second.close());
    const tasks = await tasksOf(n, keys, job.id);
    t.is(tasks.length, 2);
    await playWorker(n, keys, tasks, "w1", upper(files));
    const done = await jobWhere(n, keys, "job success", (candidate) =>
      candidate.id === job.id && candidate.state === "success");
    const output = commitParts(done.outputCommit);
    t.deepEqual([...(await readFiles(n.pfs, output.repo, output.id)).keys()].sort(),
      ["/p.out", "/q.out"]);
    t.is((await jobsOf(n, keys)).length, 1);
    // Leftovers of an interrupted cleanup (a staging branch with an open commit, a result):
    // the next master's term sweeps them.
    await second.close();
    const stray = stagingBranch(job.id, "w9");
    await n.pfs.startCommit("resume-out", stray);
    await n.etcd.put(keys.result(job.id, "ab")).value("{}");
    const third = newMaster(n, keys, "m3");
    t.teardown(() => third.close());
    await until("the sweep", async () => {
      const branches = (await n.pfs.listBranch("resume-out")).map((branch) => branch.name);
      const left = await n.etcd.getAll().prefix(keys.resultsOf(job.id)).keys();
      return branches.includes(stray) || left.length > 0 ? undefined : true;
    });
    t.pass();
  });

test(`a new pipeline's head and each later commit get jobs, in order, one running (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "order");
    await commitFiles(n.pfs, "order-in", new Map([["/o", "0"]]));
    const head = await commitFiles(n.pfs, "order-in", new Map([["/o", "1"]]));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await putPipeline(n, keys, "order-out", "order-in", "/");
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Finished after the pipeline was stored, before any master ran: a job of its own.
    const later = await commitFiles(n.pfs, "order-in", new Map([["/o", "2"]]));
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    await jobWhere(n, keys, "the later commit's job", (job) =>
      job.inputCommit === `order-in@${later}`);
    const jobs = await jobsOf(n, keys);
    t.deepEqual(jobs.map((job) => job.inputCommit), [`order-in@${head}`, `order-in@${later}`]);
    const running = await jobWhere(n, keys, "a running job", (job) => job.state === "running");
    t.is(running.inputCommit, `order-in@${head}`);
    t.deepEqual((await jobsOf(n, keys)).map((job) => job.state), ["running", "created"]);
  });

test(`--reprocess: the version's first job skips nothing, the next skips; a pipeline created again reuses nothing (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "again");
    const files = new Map([["/r1", words(prng, 2)], ["/r2", words(prng, 3)]]);
    await commitFiles(n.pfs, "again-in", files);
    await putPipeline(n, keys, "again-out", "again-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const finish = async (what: string, version: number, skipped: number): Promise<string> => {
      const job = await jobWhere(n, keys, what, (candidate) => candidate.state === "running" &&
        candidate.pipelineVersion === version);
      t.is(job.datumsSkipped, skipped, what);
      await playWorker(n, keys, await tasksOf(n, keys, job.id), "w1", upper(files));
      await jobWhere(n, keys, `${what} success`, (candidate) => candidate.id === job.id &&
        candidate.state === "success");
      return job.id;
    };
    const first = await finish("version 1", 1, 0);
    await putPipeline(n, keys, "again-out", "again-in", "/*", 2, {}, true);
    const reprocessed = await finish("version 2 reprocessing", 2, 0);
    files.set("/r1", words(prng, 4));
    await commitFiles(n.pfs, "again-in", new Map([["/r1", files.get("/r1") ?? ""]]));
    const next = await finish("version 2 next commit", 2, 1);
    t.is(new Set([first, reprocessed, next]).size, 3);
    // Deleted (record and output repo) and created again: version 1 again, nothing reused.
    await n.etcd.delete().key(keys.pipeline("again-out"));
    await n.pfs.deleteRepo("again-out");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await putPipeline(n, keys, "again-out", "again-in", "/*");
    const reborn = await jobWhere(n, keys, "the new incarnation's job", (candidate) =>
      candidate.state === "running" && ![first, reprocessed, next].includes(candidate.id));
    t.is(reborn.pipelineVersion, 1);
    t.is(reborn.datumsSkipped, 0);
    t.is(reborn.datumsTotal, 2);
  });

test(`a job whose input repo is deleted before it starts fails, naming it (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "gone");
    await commitFiles(n.pfs, "gone-in", new Map([["/g", words(prng, 2)]]));
    await putPipeline(n, keys, "gone-out", "gone-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const first = await jobWhere(n, keys, "first job running", (job) => job.state === "running");
    const later = await commitFiles(n.pfs, "gone-in", new Map([["/g", words(prng, 3)]]));
    await jobWhere(n, keys, "second job created", (job) => job.state === "created");
    await n.pfs.deleteRepo("gone-in");
    await playWorker(n, keys, await tasksOf(n, keys, first.id), "w1",
      () => ({ outputs: new Map([["/g.out", "1"]]) }));
    const failed = await jobWhere(n, keys, "second job failure", (job) =>
      job.state === "failure");
    t.is(failed.inputCommit, `gone-in@${later}`);
    t.regex(failed.error, /the input commit gone-in@[0-9a-f]{32} is gone/);
    t.is((await jobsOf(n, keys)).find((job) => job.id === first.id)?.state, "success");
  });

test(`an output commit gone before assembly is replaced; the job still succeeds (seed ${seed})`,
  async (t) => {
    const n = await node();
    const keys = freshKeys(prng, "redo");
    const files = new Map([["/u", words(prng, 2)], ["/v", words(prng, 2)]]);
    await commitFiles(n.pfs, "redo-in", files);
    await putPipeline(n, keys, "redo-out", "redo-in", "/*");
    const master = newMaster(n, keys, "m1");
    t.teardown(() => master.close());
    const job = await jobWhere(n, keys, "job running", (candidate) =>
      candidate.state === "running");
    const lost = commitParts(job.outputCommit);
    await n.pfs.deleteCommit(commitRef(lost.repo, lost.id));
    await playWorker(n, keys, await tasksOf(n, keys, job.id), "w1", upper(files));
    const done = await jobWhere(n, keys, "job success", (candidate) =>
      candidate.id === job.id && candidate.state === "success");
    t.not(done.outputCommit, job.outputCommit);
    const output = commitParts(done.outputCommit);
    t.deepEqual([...(await readFiles(n.pfs, output.repo, output.id)).keys()].sort(),
      ["/u.out", "/v.out"]);
    t.deepEqual((await n.pfs.inspectCommit(commitRef(output.repo, output.id))).provenance,
      [job.inputCommit]);
  });
