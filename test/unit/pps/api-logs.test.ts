// Goal: GetLogs' reader (JobLogs) finds a final job's datum logs in its output repo's `logs`
// branch (`/<job>/<datum>.log`; root and node from the job's log index `/<job>/datums.json`,
// or without an index the root from a skip record where one says it) and a running job's
// in the staging commits its results name (root and node from the result), jobs oldest first;
// asks for one job only when told; refuses a job of another pipeline (NOT_FOUND); and stops
// with LIMIT_EXCEEDED naming the limit once a call passes its entry or byte bound, after what
// fit.
// Method: a real pfsd for the files; the records written by hand under a pps root of this
// test's own (the node's pps master watches /pps, so it ignores them); seeded random ids and
// log texts (the seed is in every assertion message).
import { Readable } from "node:stream";
import test from "ava";
import { PfsError, Prng, SystemClock, silentLogger, systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import { PfsClient } from "../../../pkg/pfs/client/index.js";
import {
  JobLogs, type JobRecord, type LogEntry, PipelineService, PipelineStore, PpsKeys,
  checkPipelineSpec, encodeDatumResult, encodeJob, encodeLogIndex, encodeSkip, logIndexPath,
  logPath, logsBranch, stagedLogPath, stagingBranch,
} from "../../../pkg/pps/index.js";
import { type PpsTestNode, startPpsNode } from "./api-support.js";

const seed = systemSeed();
const prng = new Prng(seed);
let node: PpsTestNode;
let pfs: PfsClient;
const keys = new PpsKeys("/ppslogtest");

function hexId(): string {
  let id = "";
  while (id.length < 32) id += prng.nextUint32().toString(16).padStart(8, "0");
  return id;
}

const [finalJob, runningJob, d1, d2, d3] = [hexId(), hexId(), hexId(), hexId(), hexId()];
const [indexedJob, d4, d5] = [hexId(), hexId(), hexId()];
const texts = { d1: `one ${hexId()}\n`, d2: `two ${hexId()}\n`, d3: `three ${hexId()}\n`,
  d4: `four ${hexId()}\n`, d5: `five ${hexId()}\n` };

function job(id: string, state: JobRecord["state"], createdMs: number): JobRecord {
  return { id, pipeline: "lp", pipelineVersion: 1, state, inputCommit: "src@x", outputCommit: "",
    datumsTotal: 2, datumsProcessed: 0, datumsSkipped: 0, datumsFailed: 0, createdMs,
    startedMs: 0, finishedMs: 0, error: "" };
}

async function put(commit: string, path: string, text: string): Promise<void> {
  await pfs.putFile({ commit: { repo: "lp", commit }, path, append: false, format: "RAW" },
    Readable.from([Buffer.from(text)]));
}

test.before(async () => {
  node = await startPpsNode();
  pfs = new PfsClient({ address: node.address });
  await pfs.createRepo("src");
  await pfs.createRepo("lp");
  const logs = await pfs.startCommit("lp", logsBranch);
  await put(logs.id, logPath(finalJob, d1), texts.d1);
  await put(logs.id, logPath(finalJob, d2), texts.d2);
  await put(logs.id, logPath(indexedJob, d4), texts.d4);
  await put(logs.id, logPath(indexedJob, d5), texts.d5);
  await put(logs.id, logIndexPath(indexedJob), encodeLogIndex([
    { datumId: d4, root: "/d", node: "n2", ok: true, attempts: 1 },
    { datumId: d5, root: "/e", node: "n3", ok: false, attempts: 3 },
  ]).toString());
  await pfs.finishCommit({ repo: "lp", commit: logs.id });
  const staged = await pfs.startCommit("lp", stagingBranch(runningJob, "n1"));
  await put(staged.id, stagedLogPath(d3), texts.d3);
  await pfs.finishCommit({ repo: "lp", commit: staged.id });
  const spec = checkPipelineSpec({ name: "lp", input: { repo: "src", glob: "/*" },
    transform: { cmd: ["true"] } });
  if (!spec.ok) throw spec.error;
  const store = new PipelineStore(node.etcd, keys);
  await store.createPipeline({ spec: spec.value, version: 1, createdMs: 1, updatedMs: 1,
    reprocess: false });
  await node.etcd.put(keys.job(finalJob)).value(encodeJob(job(finalJob, "success", 10)));
  await node.etcd.put(keys.job(runningJob)).value(encodeJob(job(runningJob, "running", 20)));
  await node.etcd.put(keys.job(indexedJob)).value(encodeJob(job(indexedJob, "failure", 15)));
  await node.etcd.put(keys.skip("lp", hexId())).value(encodeSkip(
    { datumId: d1, root: "/a", outputCommit: "lp@x", outputs: [] }));
  await node.etcd.put(keys.result(runningJob, d3)).value(encodeDatumResult({
    jobId: runningJob, datumId: d3, root: "/c", ok: true, node: "n1", attempts: 1,
    outputs: [], staged: `lp@${staged.id}`, error: "", durationMs: 1, finishedMs: 30 }));
});

test.after.always(async () => {
  pfs.close();
  await node.stop();
});

function reader(bounds?: { entriesMax: number; bytesMax: number }): JobLogs {
  const store = new PipelineStore(node.etcd, keys);
  const service = new PipelineService({ store, pfs, clock: new SystemClock(),
    logger: silentLogger });
  return new JobLogs(store, pfs, service, bounds);
}

async function collect(logs: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for await (const entry of logs) entries.push(entry);
  return entries;
}

test("final and running jobs' logs, oldest job first, with what is known of each", async (t) => {
  const all = await collect(reader().logs("lp", ""));
  const byDatum = (a: LogEntry, b: LogEntry): number => (a.datum < b.datum ? -1 : 1);
  t.deepEqual(all, [
    ...[{ job: finalJob, datum: d1, root: "/a", node: "", text: texts.d1 },
      { job: finalJob, datum: d2, root: "", node: "", text: texts.d2 }].sort(byDatum),
    ...[{ job: indexedJob, datum: d4, root: "/d", node: "n2", text: texts.d4 },
      { job: indexedJob, datum: d5, root: "/e", node: "n3", text: texts.d5 }].sort(byDatum),
    { job: runningJob, datum: d3, root: "/c", node: "n1", text: texts.d3 },
  ], `seed ${seed}`);
  t.deepEqual((await collect(reader().logs("lp", runningJob))).map((entry) => entry.datum), [d3],
    `seed ${seed}`);
});

test("a job of another pipeline is NOT_FOUND; bounds end the call with LIMIT_EXCEEDED",
  async (t) => {
    const other = await t.throwsAsync(collect(reader().logs("zz", finalJob)));
    t.true(other instanceof PfsError && other.code === "NOT_FOUND", `seed ${seed}`);
    const seen: LogEntry[] = [];
    const cut = await t.throwsAsync(async () => {
      for await (const entry of reader({ entriesMax: 2, bytesMax: 1 << 20 }).logs("lp", "")) {
        seen.push(entry);
      }
    });
    t.true(cut instanceof PfsError && cut.code === "LIMIT_EXCEEDED", `seed ${seed}`);
    t.regex(cut.message, /ppsLogEntriesPerCallMax is 2/);
    t.is(seen.length, 2, `seed ${seed}`);
    const bytes = await t.throwsAsync(collect(reader({ entriesMax: 10, bytesMax: 20 })
      .logs("lp", "")));
    t.regex(bytes.message, /ppsLogBytesPerCallMax is 20/);
  });
