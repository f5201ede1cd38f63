// Goal: the runtime contract's records (datum task, claim, result, skip) round-trip byte for
// byte, a damaged one is DATA_CORRUPTED naming the record and the field, and the key layout
// refuses a component that could hold a "/" (a pipeline name or id is never trusted into a
// key unchecked).
// Method: fixed records, damaged encodings, and keys built from good and bad components.
import test from "ava";
import { PfsError } from "../../../pkg/common/index.js";
import {
  type DatumResultRecord, type DatumTaskRecord, PpsKeys, decodeDatumClaim, decodeDatumResult,
  decodeDatumTask, decodeSkip, encodeDatumClaim, encodeDatumResult, encodeDatumTask, encodeSkip,
  logPath, stagedLogPath, stagedOutputPath, stagingBranch,
} from "../../../pkg/pps/index.js";

const job = "0123456789abcdef0123456789abcdef";
const datumId = "ab".repeat(32);

const task: DatumTaskRecord = {
  jobId: job, pipeline: "wc", inputCommit: "text@" + "cd".repeat(16), shards: [0, 3],
  createdMs: 7,
  datum: {
    id: datumId, root: "/a", sizeBytes: 5,
    files: [{ path: "/a/x", size: 2, hash: "11" }, { path: "/a/y", size: 3, hash: "22" }],
  },
};

const result: DatumResultRecord = {
  jobId: job, datumId, root: "/a", ok: false, node: "node2", attempts: 3, outputs: [],
  staged: "wc@" + "ef".repeat(16), error: "exit code 3", durationMs: 12, finishedMs: 99,
};

test("task, claim, result and skip records round-trip byte for byte", (t) => {
  const taskBytes = encodeDatumTask(task);
  t.deepEqual(decodeDatumTask("k", taskBytes), task);
  t.deepEqual(encodeDatumTask(decodeDatumTask("k", taskBytes)), taskBytes);
  const claim = { node: "node1", claimedMs: 4 };
  t.deepEqual(decodeDatumClaim("k", encodeDatumClaim(claim)), claim);
  const ok = { ...result, ok: true, outputs: ["/a", "/b/c"], error: "" };
  for (const value of [result, ok]) {
    const bytes = encodeDatumResult(value);
    t.deepEqual(decodeDatumResult("k", bytes), value);
    t.deepEqual(encodeDatumResult(decodeDatumResult("k", bytes)), bytes);
  }
  const skip = { datumId, root: "/a", outputCommit: "wc@" + "01".repeat(16), outputs: ["/a"] };
  t.deepEqual(decodeSkip("k", encodeSkip(skip)), skip);
});

test("a damaged record is DATA_CORRUPTED naming the record and the field", (t) => {
  const damaged = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const cases: Array<[() => unknown, string]> = [
    [() => decodeDatumTask("/pps/tasks/j/d", Buffer.from("{")),
      "datum task /pps/tasks/j/d: not JSON"],
    [() => decodeDatumTask("/t", damaged({ ...JSON.parse(encodeDatumTask(task).toString()),
      shards: [1, -1] })), "datum task /t: field shards is not a list of non-negative integers"],
    [() => decodeDatumTask("/t", damaged({ ...JSON.parse(encodeDatumTask(task).toString()),
      datum: { ...task.datum, files: [{ path: "/a/x", size: "2", hash: "11" }] } })),
    "datum task /t datum file 0: field size is not a non-negative integer"],
    [() => decodeDatumResult("/r", damaged({ ...result, ok: "yes" })),
      "datum result /r: field ok is not a boolean"],
    [() => decodeDatumResult("/r", damaged({ ...result, outputs: ["/a", 3] })),
      "datum result /r: field outputs is not a list of strings"],
    [() => decodeSkip("/s", damaged({ datumId, root: "/", outputs: [] })),
      "skip record /s: field outputCommit is not a string"],
    [() => decodeDatumClaim("/c", damaged([])), "datum claim /c: not a JSON object"],
  ];
  for (const [decode, message] of cases) {
    const error = t.throws(decode, { instanceOf: PfsError });
    t.is(error.code, "DATA_CORRUPTED");
    t.is(error.message, message);
  }
});

test("keys are under the root, one component per name or id, and refuse a '/'", (t) => {
  const keys = new PpsKeys();
  t.is(keys.pipeline("wc"), "/pps/pipelines/wc");
  t.is(keys.job(job), `/pps/jobs/${job}`);
  t.is(keys.task(job, datumId), `/pps/tasks/${job}/${datumId}`);
  t.true(keys.task(job, datumId).startsWith(keys.tasksOf(job)));
  t.true(keys.tasksOf(job).startsWith(keys.tasksPrefix));
  t.is(keys.claim(job, datumId), `/pps/claims/${job}/${datumId}`);
  t.is(keys.result(job, datumId), `/pps/results/${job}/${datumId}`);
  t.is(keys.slot("wc", 2), "/pps/slots/wc/2");
  t.is(keys.skip("wc", datumId), `/pps/skip/wc/${datumId}`);
  t.is(PpsKeys.suffix(keys.tasksOf(job), keys.task(job, datumId)), datumId);
  t.is(new PpsKeys("/other").job(job), `/other/jobs/${job}`);
  for (const bad of [() => keys.pipeline("a/b"), () => keys.job("../x"),
    () => keys.task(job, "AB"), () => keys.slot("wc", -1), () => new PpsKeys("/pps/")]) {
    t.throws(bad);
  }
  t.is(stagingBranch(job, "node1"), `stage-${job}-node1`);
  t.is(stagedOutputPath("/a/b"), "/out/a/b");
  t.is(stagedLogPath(datumId), `/log/${datumId}`);
  t.is(logPath(job, datumId), `/${job}/${datumId}.log`);
});
