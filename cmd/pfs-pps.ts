/**
 * The `pfs` commands on pipelines and jobs, in pachctl's grammar: `pfs create|update pipeline
 * -f SPEC` (a JSON or YAML file, `-` for stdin; `--reprocess` on update), `pfs list|inspect|
 * delete pipeline`, `pfs list job [-p P]`, `pfs inspect job ID`, `pfs logs -p P [--job J]`.
 * Each makes one pps.API call (logs stream) and prints the result: tables for people, with
 * `--json` exactly one JSON value (`{"pipelines": […]}`, `{"jobs": […]}` newest first in the
 * issue's snake_case job shape, records.ts jobView). Errors are one line on stderr.
 *
 * `withJobProgress` is what `pfs wait commit` runs its wait in: when the commit is an open
 * output commit of a pipeline and stderr is a terminal, it draws the job's datum progress there
 * until the wait ends.
 */
import { open } from "node:fs/promises";
import type { Command } from "commander";
import { LimitError, PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  type CommitRefMessage, type PfsClient, formatTable, formatTime, parseRepoArg,
} from "../pkg/pfs/client/index.js";
import type { JobInfoMessage, PipelineInfoMessage } from "../pkg/proto/index.js";
// eslint-disable-next-line pfs/boundaries -- the pps client alone, not all of pkg/pps
import { PpsClient, jobOfWire } from "../pkg/pps/api/pps-client.js";
// eslint-disable-next-line pfs/boundaries -- the limits alone (pure), not all of pkg/pps
import { ppsSpecBytesMax } from "../pkg/pps/limits.js";
import {
  type ApiOptions, apiConnection, noun, print, verb,
} from "./pfs-context.js";

/** Runs `body` with a pps client of `options.address`, closing it afterwards. */
async function withPps<T>(options: ApiOptions, body: (client: PpsClient) => Promise<T>):
  Promise<T> {
  const client = new PpsClient(await apiConnection(options));
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** The spec text of `-f` (a file, or "-" for stdin), at most ppsSpecBytesMax bytes. */
async function readSpec(from: string | undefined): Promise<string> {
  if (from === undefined || from === "") {
    throw new PfsError("INVALID_ARGUMENT", "give the spec with -f <file>, or -f - for stdin");
  }
  const pieces: Buffer[] = [];
  let bytes = 0;
  const add = (piece: Buffer): void => {
    bytes += piece.length;
    if (bytes > ppsSpecBytesMax) throw new LimitError("ppsSpecBytesMax", ppsSpecBytesMax, bytes);
    pieces.push(piece);
  };
  if (from === "-") {
    for await (const piece of process.stdin as AsyncIterable<Buffer>) add(piece);
  } else {
    const file = await open(from).catch((error: unknown) => {
      throw new PfsError("INVALID_ARGUMENT",
        `cannot read ${from}: ${error instanceof Error ? error.message : String(error)}`);
    });
    try {
      for await (const piece of file.createReadStream() as AsyncIterable<Buffer>) add(piece);
    } finally {
      await file.close();
    }
  }
  return Buffer.concat(pieces).toString("utf8");
}

/** Jobs as `--json` shows them (records.ts jobView, loaded only then: it loads pkg/pps). */
async function jobViews(jobs: readonly JobInfoMessage[]):
  Promise<Readonly<Record<string, string | number>>[]> {
  const { jobView } = await import("../pkg/pps/index.js");
  return jobs.map((job) => jobView(jobOfWire(job)));
}

/** A pipeline as `--json` shows it. */
function pipelineView(info: PipelineInfoMessage): Record<string, unknown> {
  return {
    name: info.name, version: info.version, spec: JSON.parse(info.spec_json) as unknown,
    created_ms: Number(info.created_ms), updated_ms: Number(info.updated_ms),
    reprocess: info.reprocess, last_job: info.last_job_id,
    last_job_state: info.last_job_state === "JOB_STATE_UNKNOWN" ? ""
      : info.last_job_state.toLowerCase(),
  };
}

interface SpecShape {
  readonly input: { repo: string; branch: string; glob: string };
  readonly transform: { cmd: string[] };
  readonly parallelism: number;
  readonly datum_tries: number;
  readonly description: string;
}

function inputText(spec: SpecShape): string {
  return `${spec.input.repo}@${spec.input.branch}:${spec.input.glob}`;
}

function lastJobText(info: PipelineInfoMessage): string {
  return info.last_job_state === "JOB_STATE_UNKNOWN" ? "-" : info.last_job_state.toLowerCase();
}

function formatPipelines(pipelines: readonly PipelineInfoMessage[]): string {
  return formatTable(["NAME", "VERSION", "INPUT", "LAST JOB", "CREATED"],
    pipelines.map((info) => [info.name, String(info.version),
      inputText(JSON.parse(info.spec_json) as SpecShape), lastJobText(info),
      formatTime(info.created_ms)]));
}

function formatPipeline(info: PipelineInfoMessage): string {
  const spec = JSON.parse(info.spec_json) as SpecShape;
  const fields: [string, string][] = [
    ["Name", info.name], ["Description", spec.description], ["Version", String(info.version)],
    ["Input", inputText(spec)], ["Command", JSON.stringify(spec.transform.cmd)],
    ["Parallelism", String(spec.parallelism)], ["Datum tries", String(spec.datum_tries)],
    ["Created", formatTime(info.created_ms)], ["Updated", formatTime(info.updated_ms)],
    ["Last job", info.last_job_id === "" ? "-" : `${info.last_job_id} (${lastJobText(info)})`],
  ];
  return fields.map(([name, value]) => `${`${name}:`.padEnd(13)}${value}\n`).join("");
}

function datumsText(job: JobInfoMessage): string {
  return `${job.datums_processed + job.datums_skipped}/${job.datums_total}`;
}

function formatJobs(jobs: readonly JobInfoMessage[]): string {
  return formatTable(["ID", "PIPELINE", "STATE", "DATUMS", "SKIPPED", "FAILED", "STARTED"],
    jobs.map((job) => [job.id, job.pipeline, job.state.toLowerCase(), datumsText(job),
      String(job.datums_skipped), String(job.datums_failed), formatTime(job.started_ms)]));
}

function formatJob(job: JobInfoMessage): string {
  const fields: [string, string][] = [
    ["ID", job.id], ["Pipeline", `${job.pipeline} (version ${job.pipeline_version})`],
    ["State", job.state.toLowerCase()], ["Input", job.input_commit],
    ["Output", job.output_commit === "" ? "-" : job.output_commit],
    ["Datums", `${datumsText(job)} done (${job.datums_processed} processed, ` +
      `${job.datums_skipped} skipped, ${job.datums_failed} failed)`],
    ["Created", formatTime(job.created_ms)], ["Started", formatTime(job.started_ms)],
    ["Finished", formatTime(job.finished_ms)],
  ];
  if (job.error !== "") fields.push(["Error", job.error]);
  return fields.map(([name, value]) => `${`${name}:`.padEnd(10)}${value}\n`).join("");
}

/** Adds the pipeline, job and logs commands to `program`. */
export function addPipelineCommands(program: Command): void {
  addPipelineWrites(program);
  addPipelineReads(program);
  addJobCommands(program);
}

interface SpecOptions extends ApiOptions {
  readonly file?: string;
  readonly reprocess?: boolean;
}

function addPipelineWrites(program: Command): void {
  const create = verb(program, "create", "create a repo, a branch or a pipeline");
  const update = verb(program, "update", "update a pipeline");
  const remove = verb(program, "delete", "delete a repo, commit, branch, file or pipeline");
  noun(create, "pipeline", "create a pipeline from a JSON or YAML spec", false)
    .option("-f, --file <spec>", "the spec file (- for stdin)")
    .action(async (options: SpecOptions) => {
      const text = await readSpec(options.file);
      await withPps(options, (client) => client.createPipeline(text));
    });
  noun(update, "pipeline", "update a pipeline: its running job is killed, the next one " +
    "runs the new spec", false)
    .option("-f, --file <spec>", "the spec file (- for stdin)")
    .option("--reprocess", "the next job skips no datum (reruns everything)")
    .action(async (options: SpecOptions) => {
      const text = await readSpec(options.file);
      await withPps(options, (client) => client.updatePipeline(text,
        options.reprocess === true));
    });
  noun(remove, "pipeline", "delete a pipeline with its output repo and jobs", false)
    .argument("<pipeline>")
    .action(async (raw: string, options: ApiOptions) => {
      const name = parseRepoArg(raw);
      await withPps(options, (client) => client.deletePipeline(name));
    });
}

function addPipelineReads(program: Command): void {
  const list = verb(program, "list", "list repos, commits, branches, files, pipelines or jobs");
  const inspect = verb(program, "inspect", "show one repo, commit, branch, file, pipeline or job");
  noun(list, "pipeline", "list the pipelines", true)
    .action(async (options: ApiOptions) => {
      const pipelines = await withPps(options, (client) => client.listPipeline());
      if (options.json === true) {
        print(options, { pipelines: pipelines.map(pipelineView) }, () => "");
      } else {
        print(options, pipelines, formatPipelines);
      }
    });
  noun(inspect, "pipeline", "show a pipeline", true).argument("<pipeline>")
    .action(async (raw: string, options: ApiOptions) => {
      const name = parseRepoArg(raw);
      const info = await withPps(options, (client) => client.inspectPipeline(name));
      if (options.json === true) print(options, pipelineView(info), () => "");
      else print(options, info, formatPipeline);
    });
}

function addJobCommands(program: Command): void {
  const list = verb(program, "list", "list repos, commits, branches, files, pipelines or jobs");
  const inspect = verb(program, "inspect", "show one repo, commit, branch, file, pipeline or job");
  noun(list, "job", "list jobs, newest first", true)
    .option("-p, --pipeline <pipeline>", "only this pipeline's jobs")
    .action(async (options: ApiOptions & { pipeline?: string }) => {
      const pipeline = options.pipeline === undefined ? "" : parseRepoArg(options.pipeline);
      const jobs = await withPps(options, (client) => client.listJob(pipeline));
      if (options.json === true) {
        print(options, { jobs: await jobViews(jobs) }, () => "");
      } else {
        print(options, jobs, formatJobs);
      }
    });
  noun(inspect, "job", "show a job", true).argument("<job-id>")
    .action(async (id: string, options: ApiOptions) => {
      const job = await withPps(options, (client) => client.inspectJob(id));
      if (options.json === true) print(options, (await jobViews([job]))[0], () => "");
      else print(options, job, formatJob);
    });
  noun(program, "logs", "print the datum logs of a pipeline's jobs", false)
    .requiredOption("-p, --pipeline <pipeline>", "the pipeline")
    .option("--job <job-id>", "only this job's logs")
    .action(async (options: ApiOptions & { pipeline: string; job?: string }) => {
      const pipeline = parseRepoArg(options.pipeline);
      await withPps(options, async (client) => {
        for await (const entry of client.getLogs(pipeline, options.job ?? "")) {
          const datum = entry.root === "" ? entry.datum : `${entry.root} (${entry.datum})`;
          const text = entry.text === "" || entry.text.endsWith("\n") ? entry.text
            : `${entry.text}\n`;
          process.stdout.write(`==> job ${entry.job}  datum ${datum}  node ` +
            `${entry.node === "" ? "-" : entry.node} <==\n${text}`);
        }
      });
    });
}

/** How often the datum progress of `pfs wait commit` is polled, in milliseconds. */
const jobProgressPollMs = 500;

/** One line of datum progress: "job 1a2b… [####......] 12/40 datums (3 skipped, 1 failed)". */
export function renderJobProgress(job: JobInfoMessage, width = 80): string {
  const done = job.datums_processed + job.datums_skipped;
  const tail = ` ${done}/${job.datums_total} datums (${job.datums_skipped} skipped, ` +
    `${job.datums_failed} failed)`;
  const label = `job ${job.id.slice(0, 8)}`;
  const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 4));
  const filled = job.datums_total === 0 ? 0
    : Math.round(Math.min(1, done / job.datums_total) * barWidth);
  return `${label} [${"#".repeat(filled)}${".".repeat(barWidth - filled)}]${tail}`;
}

/**
 * Runs `wait` (a WaitCommit of `ref`); while it runs, when stderr is a terminal and the commit
 * is an open output commit of a pipeline, draws its job's datum progress on stderr. The
 * progress is cosmetic: a failure to read it draws nothing and never fails the wait.
 */
export async function withJobProgress<T>(options: ApiOptions, pfs: PfsClient,
  ref: CommitRefMessage, wait: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return wait();
  const client = new PpsClient(await apiConnection(options));
  const bar = { drawn: false };
  let timer: NodeJS.Timeout | undefined;
  const poll = async (output: string): Promise<void> => {
    const job = (await client.listJob(ref.repo)).find((each) => each.output_commit === output);
    if (job === undefined) return;
    bar.drawn = true;
    process.stderr.write(`\r${renderJobProgress(job, process.stderr.columns)}\x1b[K`);
  };
  try {
    const commit = await pfs.inspectCommit(ref).catch(() => undefined);
    if (commit?.state === "OPEN") {
      const output = `${commit.repo}@${commit.id}`;
      const tick = (): void => { poll(output).catch(() => undefined); };
      tick();
      timer = setInterval(tick, jobProgressPollMs);
      timer.unref();
    }
    return await wait();
  } finally {
    if (timer !== undefined) clearInterval(timer);
    if (bar.drawn) process.stderr.write("\n");
    client.close();
  }
}
