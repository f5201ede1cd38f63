// Goal: a PpsWorker does what the runtime rules of issue 8 ask of it, against a real pfsd (its
// embedded etcd and pfs API): it claims the tasks a master wrote, runs each datum, stages the
// outputs and the log in a FINISHED staging commit, and only then writes each datum's result
// (deleting task, claim and slot); a failing command is tried datum_tries times and its
// stderr is in the staged log; parallelism 1 holds across two workers; a closed worker's
// claim is taken over by another; a killed job's running process is killed; a lost lease
// kills the datum it covered, and the worker runs it again on a new lease; a worker runs at
// most `concurrency` datums at once; a task whose shards live elsewhere waits the delay.
// Method: one pfsd for the file; each test plays the master by hand under its own key root
// (worker-support.ts) with `sh -c` commands and files seeded from PFS_SEED (printed on
// failure); results, staged files and keys are read back from the store.
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Prng } from "../../../pkg/common/index.js";
import { encodeJob, moveJob, stagingBranch } from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pps re-exports the worker once pps-node wires it
import { workerLimits } from "../../../pkg/pps/worker/index.js";
import {
  type Server, keyCount, pipelineSpec, readText, results, setUpJob, startServer, startWorker,
  stopServer, until,
} from "./worker-support.js";

const seed = Number(process.env["PFS_SEED"] ?? Date.now() % 1_000_000_000);
let server: Server | undefined;

test.before(async () => { server = await startServer(); });
test.after.always(async () => { if (server !== undefined) await stopServer(server); });

function theServer(): Server {
  if (server === undefined) throw new Error("no server");
  return server;
}

function seeded(t: ExecutionContext): Prng {
  t.teardown(() => { if (!t.passed) t.log(`PFS_SEED=${seed}`); });
  return new Prng(seed);
}

/** `count` files of random words: path → text. */
function wordFiles(prng: Prng, count: number): Map<string, string> {
  const words = ["alpha", "beta", "gamma", "delta", "pfs", "datum"];
  const files = new Map<string, string>();
  for (let i = 0; i < count; i += 1) {
    const length = prng.intBetween(1, 40);
    const text = Array.from({ length }, () => words[prng.intBelow(words.length)]).join(" ");
    files.set(`/f${i}.txt`, `${text}\n`);
  }
  return files;
}

test("results appear only with outputs and logs in a finished staging commit", async (t) => {
  const prng = seeded(t);
  const s = theServer();
  const files = wordFiles(prng, 5);
  const spec = pipelineSpec("wcount", { transform: { cmd: ["sh", "-c",
    'for f in "$PFS_IN"/wcount-in/*; do wc -w < "$f" | tr -d " " > "$PFS_OUT/$(basename "$f")"; ' +
    'done; echo "ran $PFS_DATUM_ID"'] }, parallelism: 3 });
  const hand = await setUpJob(s, spec, files);
  const { worker } = await startWorker(s, hand, "node-a", { concurrency: 2 });
  t.teardown(() => worker.close());
  await until("every result", async () => (await results(s, hand)).size === hand.datums.length);
  const byId = await results(s, hand);
  for (const datum of hand.datums) {
    const result = byId.get(datum.id);
    if (result === undefined) return t.fail(`no result for ${datum.root}`);
    t.true(result.ok, result.error);
    t.is(result.node, "node-a");
    t.is(result.attempts, 1);
    t.deepEqual(result.outputs, [datum.root]);
    const info = await s.pfs.inspectCommit({ repo: spec.name,
      commit: result.staged.slice(spec.name.length + 1) });
    t.is(info.state, "FINISHED");
    t.is(info.branch, stagingBranch(hand.job.id, "node-a"));
    const words = (files.get(datum.root) ?? "").trim().split(" ").length;
    t.is((await readText(s, result.staged, `/out${datum.root}`)).trim(), String(words));
    t.regex(await readText(s, result.staged, `/log/${datum.id}`), new RegExp(`ran ${datum.id}`));
  }
  t.is(await keyCount(s, hand.keys.tasksOf(hand.job.id)), 0);
  t.is(await keyCount(s, hand.keys.claimsOf(hand.job.id)), 0);
  t.is(await keyCount(s, hand.keys.slotsOf(spec.name)), 0);
});

test("a failing command is tried datum_tries times; its stderr is in the staged log",
  async (t) => {
    const s = theServer();
    const spec = pipelineSpec("failing", { datum_tries: 3, transform: { cmd: ["sh", "-c",
      'echo try >> "$TRIES"; echo "boom on stderr" >&2; exit 3'],
    env: { TRIES: join(s.scratch, "failing-tries") } } });
    const hand = await setUpJob(s, spec, new Map([["/only.txt", "x\n"]]));
    const { worker } = await startWorker(s, hand, "node-f");
    t.teardown(() => worker.close());
    await until("the result", async () => (await results(s, hand)).size === 1);
    const [result] = (await results(s, hand)).values();
    if (result === undefined) return t.fail("no result");
    t.false(result.ok);
    t.is(result.attempts, 3);
    t.deepEqual(result.outputs, []);
    t.regex(result.error, /exited with code 3/);
    const log = await readText(s, result.staged, `/log/${result.datumId}`);
    t.is(log.match(/boom on stderr/g)?.length, 3, log);
    t.regex(log, /attempt 3 of 3 on node-f/);
    t.is((await readFile(join(s.scratch, "failing-tries"), "utf8")).split("\n").length - 1, 3);
    t.is(await keyCount(s, hand.keys.tasksOf(hand.job.id)), 0);
  });

test("parallelism 1 never runs two datums at once across two workers", async (t) => {
  const prng = seeded(t);
  const s = theServer();
  const lock = join(s.scratch, "serial-lock");
  const overlaps = join(s.scratch, "serial-overlaps");
  const spec = pipelineSpec("serial", { parallelism: 1, transform: { cmd: ["sh", "-c",
    'if mkdir "$LOCK" 2>/dev/null; then sleep 0.3; rmdir "$LOCK"; ' +
    'else echo overlap >> "$OVERLAPS"; fi; echo ok > "$PFS_OUT/$PFS_DATUM_ID"'],
  env: { LOCK: lock, OVERLAPS: overlaps } } });
  const hand = await setUpJob(s, spec, wordFiles(prng, 6));
  const one = await startWorker(s, hand, "node-p1", { concurrency: 3 });
  const two = await startWorker(s, hand, "node-p2", { concurrency: 3 });
  t.teardown(async () => { await one.worker.close(); await two.worker.close(); });
  await until("every result", async () => (await results(s, hand)).size === hand.datums.length,
    60_000);
  const all = [...(await results(s, hand)).values()];
  t.true(all.every((result) => result.ok));
  await t.throwsAsync(stat(overlaps), { code: "ENOENT" }, "two datums ran at once");
});

test("a worker runs `concurrency` datums at once, never more", async (t) => {
  const prng = seeded(t);
  const s = theServer();
  const running = join(s.scratch, "bounded-running");
  const counts = join(s.scratch, "bounded-counts");
  await mkdir(running);
  const spec = pipelineSpec("bounded", { parallelism: 8, transform: { cmd: ["sh", "-c",
    'mkdir "$RUNNING/$PFS_DATUM_ID"; ls "$RUNNING" | wc -l >> "$COUNTS"; sleep 0.4; ' +
    'rmdir "$RUNNING/$PFS_DATUM_ID"'], env: { RUNNING: running, COUNTS: counts } } });
  const hand = await setUpJob(s, spec, wordFiles(prng, 6));
  const { worker } = await startWorker(s, hand, "node-b", { concurrency: 2 });
  t.teardown(() => worker.close());
  await until("every result", async () => (await results(s, hand)).size === hand.datums.length);
  const seen = (await readFile(counts, "utf8")).trim().split("\n").map(Number);
  t.is(seen.length, hand.datums.length);
  t.is(Math.max(...seen), 2, `datums running at each start: ${seen.join(" ")}`);
});

test("a worker holding none of a task's shards claims it only after the delay", async (t) => {
  const s = theServer();
  const started = join(s.scratch, "remote-started");
  const spec = pipelineSpec("remote", { transform: { cmd: ["sh", "-c",
    'date +%s%3N > "$STARTED"'], env: { STARTED: started } } });
  const hand = await setUpJob(s, spec, new Map([["/a.txt", "a\n"]]));
  const before = Date.now();
  const { worker } = await startWorker(s, hand, "node-far", { holdsShard: () => false });
  t.teardown(() => worker.close());
  await until("the result", async () => (await results(s, hand)).size === 1);
  const ranMs = Number((await readFile(started, "utf8")).trim());
  t.true(ranMs - before >= workerLimits.ppsRemoteClaimDelayMs,
    `ran ${ranMs - before} ms after the worker started`);
  t.is([...(await results(s, hand)).values()][0]?.node, "node-far");
});

test("a closed worker's claim is taken over by another worker", async (t) => {
  const s = theServer();
  const mark = join(s.scratch, "takeover-mark");
  const spec = pipelineSpec("takeover", { transform: { cmd: ["sh", "-c",
    'if [ -e "$MARK" ]; then echo second > "$PFS_OUT/out"; else touch "$MARK"; sleep 60; fi'],
  env: { MARK: mark } } });
  const hand = await setUpJob(s, spec, new Map([["/a.txt", "a\n"]]));
  const first = await startWorker(s, hand, "node-t1");
  await until("the first run", async () => (await stat(mark).catch(() => null)) !== null);
  t.is(await keyCount(s, hand.keys.claimsOf(hand.job.id)), 1);
  await first.worker.close();
  t.is(await keyCount(s, hand.keys.claimsOf(hand.job.id)), 0, "close releases the claim");
  t.is(await keyCount(s, hand.keys.slotsOf(spec.name)), 0, "close releases the slot");
  const second = await startWorker(s, hand, "node-t2");
  t.teardown(() => second.worker.close());
  await until("the result", async () => (await results(s, hand)).size === 1);
  const [result] = (await results(s, hand)).values();
  t.is(result?.node, "node-t2");
  t.is(result?.ok, true);
  t.is(await readText(s, result?.staged ?? "", "/out/out"), "second\n");
  const branches = await s.pfs.listBranch(spec.name);
  const firstBranch = branches.find((b) => b.name === stagingBranch(hand.job.id, "node-t1"));
  t.true(firstBranch === undefined || firstBranch.open === "",
    "node-t1's open staging commit was deleted");
});

test("a killed job's running datum is killed and gets no result", async (t) => {
  const s = theServer();
  const pidFile = join(s.scratch, "killed-pid");
  const spec = pipelineSpec("killed", { transform: { cmd: ["sh", "-c",
    'echo $$ > "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; exec sleep 60'], env: { PIDS: pidFile } } });
  const hand = await setUpJob(s, spec, new Map([["/a.txt", "a\n"]]));
  const { worker } = await startWorker(s, hand, "node-k");
  t.teardown(() => worker.close());
  await until("the sleep", async () => (await stat(pidFile).catch(() => null)) !== null);
  const pid = Number((await readFile(pidFile, "utf8")).trim());
  t.true(alive(pid), "the sleep runs");
  const killed = moveJob(hand.job, "killed", Date.now(), "killed by the test");
  if (!killed.ok) return t.fail(killed.error.message);
  await s.etcd.put(hand.keys.job(hand.job.id)).value(encodeJob(killed.value));
  await until("the sleep to die", () => !alive(pid));
  await until("claim and slot released", async () =>
    await keyCount(s, hand.keys.claimsOf(hand.job.id)) === 0 &&
    await keyCount(s, hand.keys.slotsOf(spec.name)) === 0);
  t.is((await results(s, hand)).size, 0);
  t.is(await keyCount(s, hand.keys.tasksOf(hand.job.id)), 1, "the task is the master's to clean");
});

test("a worker whose lease is lost kills its datum and runs it again on a new lease",
  async (t) => {
    const s = theServer();
    const mark = join(s.scratch, "lease-mark");
    const pidFile = join(s.scratch, "lease-pid");
    const spec = pipelineSpec("leaselost", { transform: { cmd: ["sh", "-c",
      'if [ -e "$MARK" ]; then echo again > "$PFS_OUT/out"; ' +
      'else touch "$MARK"; echo $$ > "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; exec sleep 60; fi'],
    env: { MARK: mark, PIDS: pidFile } } });
    const hand = await setUpJob(s, spec, new Map([["/a.txt", "a\n"]]));
    const { worker, logger } = await startWorker(s, hand, "node-l");
    t.teardown(() => worker.close());
    await until("the sleep", async () => (await stat(pidFile).catch(() => null)) !== null);
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    const [datum] = hand.datums;
    if (datum === undefined) return t.fail("no datum");
    const claim = await s.etcd.get(hand.keys.claim(hand.job.id, datum.id)).exec();
    const lease = claim.kvs[0]?.lease ?? "0";
    t.not(lease, "0", "the claim is on the worker's lease");
    await s.etcd.leaseClient.leaseRevoke({ ID: lease });
    await until("the sleep to die", () => !alive(pid));
    await until("the result", async () => (await results(s, hand)).size === 1);
    const [result] = (await results(s, hand)).values();
    t.is(result?.ok, true);
    t.is(await readText(s, result?.staged ?? "", "/out/out"), "again\n");
    t.true(logger.records.some((record) => record.message.includes("worker lease lost")));
  });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
