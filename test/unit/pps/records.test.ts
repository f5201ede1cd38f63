// Goal: pipeline and job records round-trip byte for byte, a damaged record is DATA_CORRUPTED
// naming the record and the field, job states move only forward (created → running → final,
// created → final) and final states are final, and `jobView` has the issue's --json fields.
// Method: fixed records, every (from, to) pair of states against the documented rule, and
// damaged encodings.
import test from "ava";
import { PfsError } from "../../../pkg/common/index.js";
import {
  type JobRecord, type PipelineRecord, canMove, checkPipelineSpec, decodeJob, decodePipeline,
  encodeJob, encodePipeline, jobStates, jobView, moveJob,
} from "../../../pkg/pps/index.js";

const spec = checkPipelineSpec({ name: "wc", input: { repo: "text", glob: "/*" },
  transform: { cmd: ["wc"] }, datum_timeout: "30s" });

const job: JobRecord = {
  id: "0123456789abcdef0123456789abcdef", pipeline: "wc", pipelineVersion: 2, state: "created",
  inputCommit: "text@aa", outputCommit: "", datumsTotal: 10, datumsProcessed: 0,
  datumsSkipped: 0, datumsFailed: 0, createdMs: 5, startedMs: 0, finishedMs: 0, error: "",
};

test("records round-trip byte for byte", (t) => {
  if (!spec.ok) throw new Error(spec.error.message);
  const pipeline: PipelineRecord = {
    spec: spec.value, version: 3, createdMs: 1, updatedMs: 2, reprocess: true,
  };
  const bytes = encodePipeline(pipeline);
  t.deepEqual(decodePipeline("/pps/pipelines/wc", bytes), pipeline);
  t.deepEqual(encodePipeline(decodePipeline("k", bytes)), bytes);
  t.deepEqual(decodeJob("k", encodeJob(job)), job);
  t.deepEqual(encodeJob(decodeJob("k", encodeJob(job))), encodeJob(job));
});

test("damaged records are DATA_CORRUPTED, naming record and field", (t) => {
  const corrupt = (run: () => unknown, message: string): void => {
    const error = t.throws(run, { instanceOf: PfsError });
    t.is(error.code, "DATA_CORRUPTED");
    t.is(error.message, message);
  };
  corrupt(() => decodeJob("/pps/jobs/x", Buffer.from("{")), "job record /pps/jobs/x: not JSON");
  corrupt(() => decodeJob("/pps/jobs/x", Buffer.from("[]")),
    "job record /pps/jobs/x: not a JSON object");
  corrupt(() => decodeJob("/pps/jobs/x", Buffer.from(JSON.stringify({ ...job, state: "done" }))),
    "job record /pps/jobs/x: field state is not one of created, running, success, failure, killed");
  corrupt(() => decodeJob("/pps/jobs/x", Buffer.from(JSON.stringify({ ...job, datumsTotal: -1 }))),
    "job record /pps/jobs/x: field datumsTotal is not a non-negative integer");
  corrupt(() => decodePipeline("/pps/pipelines/wc", Buffer.from(JSON.stringify({
    spec: { name: "wc" }, version: 1, createdMs: 1, updatedMs: 1 }))),
  "pipeline record /pps/pipelines/wc: field spec is not a valid spec (invalid pipeline spec: " +
    "input is required)");
});

test("job states move only forward", (t) => {
  const final = new Set(["success", "failure", "killed"]);
  for (const from of jobStates) {
    for (const to of jobStates) {
      const allowed = !final.has(from) && (from === "created" ? to !== "created" : final.has(to));
      t.is(canMove(from, to), allowed, `${from} → ${to}`);
    }
  }
  const running = moveJob(job, "running", 10);
  if (!running.ok) throw new Error(running.error.message);
  t.is(running.value.startedMs, 10);
  const failed = moveJob(running.value, "failure", 20, "datum /a failed: exited with code 1");
  if (!failed.ok) throw new Error(failed.error.message);
  t.like(failed.value, { state: "failure", startedMs: 10, finishedMs: 20,
    error: "datum /a failed: exited with code 1" });
  const again = moveJob(failed.value, "running", 30);
  t.false(again.ok);
  if (!again.ok) {
    t.is(again.error.code, "FAILED_PRECONDITION");
    t.is(again.error.message, `job ${job.id} is failure; it cannot become running`);
  }
});

test("jobView has the --json fields of the issue", (t) => {
  const view = jobView(job);
  for (const field of ["id", "pipeline", "state", "input_commit", "output_commit",
    "datums_total", "datums_processed", "datums_skipped", "datums_failed"]) {
    t.true(field in view, field);
  }
  t.is(view["datums_total"], 10);
});
