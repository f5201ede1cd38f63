/**
 * scripts/bench pps: what pipelines cost, on a real 3-node `pfs deploy local` cluster driven
 * through the `pfs` CLI (test/e2e/pps-support.ts):
 *
 * 1. latency: input commit finished → its job running. A pipeline with one datum (glob `/`,
 *    the command `true`) over a repo; each sample puts one file (a commit of its own), reads
 *    the commit's finished time and, once the job has ended, the job's started time; both are
 *    the cluster's own wall clock (one machine), so no polling delay enters the figure.
 *    Median and p90 over --samples (10) samples, one at a time on an idle pipeline.
 * 2. throughput: --datums (10,000) small files in one input commit, glob `/*`, a trivial
 *    command (`cp` of the datum's file to $PFS_OUT), --parallelism (6) datums at once across
 *    the cluster: datums/s while the job runs (running → success) and end to end (input
 *    commit finished → success).
 *
 *   scripts/bench pps [--datums N] [--samples N] [--parallelism P] [--json] [--keep]
 *
 * Progress goes to stderr; stdout gets a markdown table, or with --json one JSON object.
 * --keep leaves the cluster's directory (data and node logs) for a post-mortem.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type DeployedCluster, type JobView, createPipeline, deployLocal, inspectCommit, jobEnded,
  listJobs, waitFor, waitJobOf,
} from "../test/e2e/pps-support.js";
import { tarOf } from "../test/e2e/pfs-api-support.js";

interface Args {
  datums: number;
  samples: number;
  parallelism: number;
  json: boolean;
  keep: boolean;
}

/** What the run measured (the --json object). */
interface Figures {
  readonly nodes: number;
  readonly latencySamplesMs: readonly number[];
  readonly latencyMedianMs: number;
  readonly latencyP90Ms: number;
  readonly datums: number;
  readonly parallelism: number;
  readonly jobRunningSeconds: number;
  readonly datumsPerSecondRunning: number;
  readonly endToEndSeconds: number;
  readonly datumsPerSecondEndToEnd: number;
}

/** How long one latency sample's job may take to end. */
const sampleWaitMs = 180_000;

/** How long the throughput job may take: a base plus this much per datum (a slow machine). */
const throughputWaitBaseMs = 300_000;
const throughputWaitPerDatumMs = 1_000;

/** Between two progress lines of the throughput job. */
const progressEveryMs = 5_000;

const usageText = "usage: scripts/bench pps [--datums N] [--samples N] [--parallelism P] " +
  "[--json] [--keep]";

/** The integer value of option `name`, checked to lie in [min, max]. */
function integerOption(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} needs an integer in [${min}, ${max}], got ${text}`);
  }
  return value;
}

function parseArguments(argv: readonly string[]): Args {
  const { values } = parseArgs({
    args: [...argv], strict: true, allowPositionals: false, options: {
      datums: { type: "string", default: "10000" },
      samples: { type: "string", default: "10" },
      parallelism: { type: "string", default: "6" },
      json: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
  return {
    datums: integerOption("datums", values.datums, 1, 200_000),
    samples: integerOption("samples", values.samples, 1, 1_000),
    parallelism: integerOption("parallelism", values.parallelism, 1, 256),
    json: values.json, keep: values.keep,
  };
}

function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** The nearest-rank percentile `share` (0.5 = median) of `values`. */
function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(share * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

/** A job as `pfs inspect job --json` shows it, with the times the bench reads. */
interface TimedJob extends JobView {
  readonly started_ms: number;
  readonly finished_ms: number;
}

async function timedJob(cluster: DeployedCluster, job: JobView): Promise<TimedJob> {
  return cluster.pfsJson<TimedJob>(["inspect", "job", job.id]);
}

/** The cluster wall-clock time commit `repoAtId` finished, in ms. */
async function finishedMsOf(cluster: DeployedCluster, repoAtId: string): Promise<number> {
  const commit = await cluster.pfsJson<{ state: string; finished_ms: string }>(
    ["inspect", "commit", repoAtId]);
  if (commit.state !== "FINISHED") throw new Error(`${repoAtId} is ${commit.state}`);
  return Number(commit.finished_ms);
}

/** Puts one file at `repo@master:/path` (its own commit); returns "repo@id". */
async function putOne(cluster: DeployedCluster, repo: string, path: string): Promise<string> {
  await cluster.pfsOk(["put", "file", `${repo}@master:${path}`, "-f", "-"], Buffer.from(path));
  return `${repo}@${(await inspectCommit(cluster, `${repo}@master`)).id}`;
}

async function measureLatency(cluster: DeployedCluster, samples: number): Promise<number[]> {
  await cluster.pfsOk(["create", "repo", "latency-in"]);
  await createPipeline(cluster, { name: "latency", input: { repo: "latency-in", glob: "/" },
    transform: { cmd: ["true"] } });
  const latencies: number[] = [];
  for (let i = 1; i <= samples; i += 1) {
    const input = await putOne(cluster, "latency-in", `/sample-${i}`);
    const committedMs = await finishedMsOf(cluster, input);
    const job = await timedJob(cluster, await waitJobOf(cluster, "latency", input, sampleWaitMs));
    if (job.state !== "success") throw new Error(`latency job ${job.id}: ${job.state} ${job.error}`);
    latencies.push(job.started_ms - committedMs);
    progress(`latency sample ${i}/${samples}: ${job.started_ms - committedMs} ms`);
  }
  return latencies;
}

/** A tar file of `count` small files, written in the cluster's directory; returns its path. */
async function smallFilesTar(cluster: DeployedCluster, count: number): Promise<string> {
  const width = String(count).length;
  const entries = Array.from({ length: count }, (_, i) => {
    const name = `d${String(i).padStart(width, "0")}`;
    return { name, data: `${name}\n` };
  });
  const file = join(cluster.dir, "bench-input.tar");
  await writeFile(file, await tarOf(entries));
  return file;
}

/** Runs the throughput job and returns it with its times and the input's finished time. */
async function runThroughput(cluster: DeployedCluster, args: Args):
  Promise<{ job: TimedJob; committedMs: number }> {
  await cluster.pfsOk(["create", "repo", "many"]);
  const tar = await smallFilesTar(cluster, args.datums);
  await createPipeline(cluster, { name: "copy", input: { repo: "many", glob: "/*" },
    transform: { cmd: ["sh", "-c", 'cp "$PFS_IN"/many/* "$PFS_OUT"/'] },
    parallelism: args.parallelism });
  progress(`putting ${args.datums} files in one commit`);
  await cluster.pfsOk(["put", "file", "--untar", "many@master:/", "-f", tar]);
  const input = `many@${(await inspectCommit(cluster, "many@master")).id}`;
  const committedMs = await finishedMsOf(cluster, input);
  progress(`input ${input} finished; waiting for its job`);
  let lastProgressMs = 0;
  const jobs = await waitFor(`the copy job of ${input}`, () => listJobs(cluster, "copy"),
    (list) => {
      const job = list.find((each) => each.input_commit === input);
      if (job !== undefined && Date.now() - lastProgressMs >= progressEveryMs) {
        lastProgressMs = Date.now();
        progress(`job ${job.state}: ${job.datums_processed}/${job.datums_total} datums`);
      }
      return job !== undefined && jobEnded(job);
    }, throughputWaitBaseMs + throughputWaitPerDatumMs * args.datums);
  const found = jobs.find((each) => each.input_commit === input);
  if (found === undefined) throw new Error(`no copy job of ${input}`);
  const job = await timedJob(cluster, found);
  if (job.state !== "success" || job.datums_processed !== args.datums) {
    throw new Error(`copy job ${job.id}: ${job.state}, ${job.datums_processed}/` +
      `${args.datums} datums processed; ${job.error}`);
  }
  return { job, committedMs };
}

async function measure(cluster: DeployedCluster, args: Args): Promise<Figures> {
  const latencies = await measureLatency(cluster, args.samples);
  const { job, committedMs } = await runThroughput(cluster, args);
  const runningSeconds = (job.finished_ms - job.started_ms) / 1000;
  const endToEndSeconds = (job.finished_ms - committedMs) / 1000;
  return {
    nodes: cluster.nodes.length, latencySamplesMs: latencies,
    latencyMedianMs: percentile(latencies, 0.5), latencyP90Ms: percentile(latencies, 0.9),
    datums: args.datums, parallelism: args.parallelism, jobRunningSeconds: runningSeconds,
    datumsPerSecondRunning: args.datums / runningSeconds, endToEndSeconds,
    datumsPerSecondEndToEnd: args.datums / endToEndSeconds,
  };
}

function table(figures: Figures): string {
  const rows: [string, string][] = [
    ["cluster", `${figures.nodes} nodes, pfs deploy local`],
    ["input commit finished → job running, median", `${figures.latencyMedianMs} ms`],
    ["input commit finished → job running, p90",
      `${figures.latencyP90Ms} ms (${figures.latencySamplesMs.length} samples)`],
    ["datums (glob /*, cp), parallelism", `${figures.datums}, ${figures.parallelism}`],
    ["job running → success", `${figures.jobRunningSeconds.toFixed(1)} s`],
    ["datums/s while running", figures.datumsPerSecondRunning.toFixed(1)],
    ["input commit finished → job success", `${figures.endToEndSeconds.toFixed(1)} s`],
    ["datums/s end to end", figures.datumsPerSecondEndToEnd.toFixed(1)],
  ];
  return "| measure | result |\n| --- | --- |\n" +
    rows.map(([name, value]) => `| ${name} | ${value} |\n`).join("");
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArguments(process.argv.slice(2));
  } catch (error: unknown) {
    process.stderr.write(`scripts/bench pps: ${error instanceof Error ? error.message : ""}\n` +
      `${usageText}\n`);
    return 2;
  }
  const cluster = await deployLocal({ progress });
  let failed = false;
  try {
    const figures = await measure(cluster, args);
    process.stdout.write(args.json ? `${JSON.stringify(figures)}\n` : table(figures));
  } catch (error: unknown) {
    failed = true;
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (args.keep || failed) progress(`the cluster's directory is kept: ${cluster.dir}`);
    await cluster.down(args.keep || failed);
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
