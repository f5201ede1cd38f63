// Goal: the pipeline metrics read what they claim from the coordination store: pipelines and
// jobs by state (cluster-wide gauges, every state of a pipeline present), and the datums this
// node ran by outcome with their durations — counted once per result key (a re-put is not
// counted again), another node's results and damaged records never counted.
// Method: a real etcd 3.4.23 member; records written with the etcd3 client as the master and
// workers write them; the registry's exposition parsed.
import test from "ava";
import { Etcd3 } from "etcd3";
import { Registry } from "prom-client";
import { silentLogger } from "../../../pkg/common/index.js";
import {
  type DatumResultRecord, type JobRecord, PpsKeys, checkPipelineSpec, encodeDatumResult,
  encodeJob, encodePipeline,
} from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- the metrics module, which pfsd wires in PpsNode
import { PpsMetrics } from "../../../pkg/pps/metrics/index.js";
import { parseExposition, sampleSum } from "../../e2e/pfsd-metrics-support.js";
import { startCluster } from "../../support/member-cluster.js";

const jobA = "a".repeat(32);
const jobB = "b".repeat(32);

function job(id: string, pipeline: string, state: JobRecord["state"]): JobRecord {
  return {
    id, pipeline, pipelineVersion: 1, state, inputCommit: "text@" + "c".repeat(32),
    outputCommit: "", datumsTotal: 2, datumsProcessed: 0, datumsSkipped: 0, datumsFailed: 0,
    createdMs: 1, startedMs: 0, finishedMs: 0, error: "",
  };
}

function result(jobId: string, datum: string, node: string, ok: boolean): DatumResultRecord {
  return {
    jobId, datumId: datum.repeat(64), root: "/x", ok, node, attempts: 1, outputs: [],
    staged: "", error: ok ? "" : "exit code 1", durationMs: 1500, finishedMs: 2,
  };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("pipelines, jobs by state, and this node's datums by outcome", async (t) => {
  const cluster = await startCluster({ kind: "etcd", size: 1 });
  const client = new Etcd3({ hosts: cluster.members.map((member) => member.clientUrl) });
  const keys = new PpsKeys();
  const registry = new Registry();
  const metrics = new PpsMetrics({ client, keys, node: "node1", registry, logger: silentLogger });
  try {
    const spec = checkPipelineSpec({ name: "wc", input: { repo: "text", glob: "/*" },
      transform: { cmd: ["wc"] } });
    if (!spec.ok) throw spec.error;
    await client.put(keys.pipeline("wc")).value(encodePipeline({
      spec: spec.value, version: 1, createdMs: 1, updatedMs: 1, reprocess: false }));
    await client.put(keys.job(jobA)).value(encodeJob(job(jobA, "wc", "running")));
    await client.put(keys.job(jobB)).value(encodeJob(job(jobB, "wc", "success")));
    await metrics.start();
    const families = async (): Promise<ReturnType<typeof parseExposition>> =>
      parseExposition(await registry.metrics());
    let now = await families();
    t.is(sampleSum(now, "pfs_pipeline_pipelines"), 1);
    t.is(sampleSum(now, "pfs_pipeline_jobs", { pipeline: "wc", state: "running" }), 1);
    t.is(sampleSum(now, "pfs_pipeline_jobs", { pipeline: "wc", state: "success" }), 1);
    t.is(sampleSum(now, "pfs_pipeline_jobs", { pipeline: "wc", state: "killed" }), 0);
    t.true(now.get("pfs_pipeline_jobs")?.samples.some((sample) =>
      sample.labels["state"] === "killed") ?? false, "every state of a pipeline is present");

    const put = (jobId: string, datum: string, node: string, ok: boolean): Promise<unknown> =>
      client.put(keys.result(jobId, datum.repeat(64))).value(
        encodeDatumResult(result(jobId, datum, node, ok))).exec();
    await put(jobA, "1", "node1", true);
    await put(jobA, "2", "node1", false);
    await put(jobA, "3", "node2", true);         // another node's: not ours to count
    await put(jobA, "1", "node1", true);         // a re-put of a counted result
    await client.put(keys.result(jobA, "4".repeat(64))).value("{"); // damaged: skipped
    await client.put(keys.job(jobA)).value(encodeJob(job(jobA, "wc", "failure")));
    // The results watch delivers in revision order: once the last result is counted, every
    // earlier one has been seen.
    await put(jobB, "5", "node1", true);
    const success = { pipeline: "wc", outcome: "success" };
    await until("the last result to be counted", async () => {
      now = await families();
      return sampleSum(now, "pfs_pipeline_datums_total", success) >= 2 &&
        sampleSum(now, "pfs_pipeline_jobs", { pipeline: "wc", state: "failure" }) === 1;
    });
    t.is(sampleSum(now, "pfs_pipeline_datums_total", success), 2);
    t.is(sampleSum(now, "pfs_pipeline_datums_total", { pipeline: "wc", outcome: "failure" }), 1);
    t.is(sampleSum(now, "pfs_pipeline_datums_total", { pipeline: "" }), 0);
    t.is(sampleSum(now, "pfs_pipeline_datum_duration_seconds_count", { pipeline: "wc" }), 3);
    t.is(sampleSum(now, "pfs_pipeline_datum_duration_seconds_sum", { pipeline: "wc" }), 4.5);
    t.is(sampleSum(now, "pfs_pipeline_jobs", { pipeline: "wc", state: "running" }), 0);
  } finally {
    await metrics.close();
    client.close();
    await cluster.stop();
  }
});
