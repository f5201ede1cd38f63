/**
 * The datum logs of a pipeline's jobs (GetLogs). A final job's logs are files of its output
 * repo's `logs` branch, `/<job>/<datum>.log` (task-records.ts logPath), written by the pps
 * master before the job became final; a running job's are in the staging commits of the
 * datums that have a result so far (`stagedLogPath(datum)` of each result's `staged` commit).
 * Datums still running have no log yet.
 *
 * A running job's entry names the datum's root and node (from its result); a final job's
 * takes them from the job's log index (`/<job>/datums.json`, task-records.ts logIndexPath,
 * written with the logs since results are deleted when a job ends), or, for a logs commit
 * written before there was an index, the root from a skip record and no node.
 *
 * Bounds: at most ppsLogEntriesPerCallMax entries and ppsLogBytesPerCallMax bytes of text per
 * call; past either the call fails with LIMIT_EXCEEDED after what it has sent (ask for one
 * job with `job`).
 */
import { Writable } from "node:stream";
import { LimitError, PfsError, assert } from "../../common/index.js";
import { isFinal, type JobRecord } from "../records.js";
import {
  type LogIndexEntry, decodeLogIndex, logIndexPath, logsBranch, stagedLogPath,
} from "../task-records.js";
import { ppsLogBytesPerCallMax, ppsLogEntriesPerCallMax } from "./limits.js";
import type { PipelineService, PpsPfsClient } from "./pipeline-service.js";
import type { PipelineStore } from "./pipeline-store.js";

/** One datum's log. */
export interface LogEntry {
  readonly job: string;
  readonly datum: string;
  readonly root: string;
  readonly node: string;
  readonly text: string;
}

/** A Writable that keeps what it is given, in memory (a log is at most a few MiB). */
class Collected extends Writable {
  readonly pieces: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.pieces.push(chunk);
    done();
  }

  text(): string {
    return Buffer.concat(this.pieces).toString("utf8");
  }
}

/** "repo@id" split in two; DATA_CORRUPTED when it is not that. */
function commitOf(ref: string, what: string): { repo: string; commit: string } {
  const at = ref.indexOf("@");
  if (at <= 0 || at === ref.length - 1) {
    throw new PfsError("DATA_CORRUPTED", `${what}: ${JSON.stringify(ref)} is not repo@commit`);
  }
  return { repo: ref.slice(0, at), commit: ref.slice(at + 1) };
}

/** What one call may return (the limits' values unless a test asks for smaller ones). */
export interface LogBounds {
  readonly entriesMax: number;
  readonly bytesMax: number;
}

const boundsDefault: LogBounds = {
  entriesMax: ppsLogEntriesPerCallMax, bytesMax: ppsLogBytesPerCallMax,
};

export class JobLogs {
  readonly #store: PipelineStore;
  readonly #pfs: PpsPfsClient;
  readonly #service: PipelineService;
  readonly #bounds: LogBounds;
  #entries = 0;
  #bytes = 0;

  /** One GetLogs call's reader (its bounds count across the call's jobs). */
  constructor(store: PipelineStore, pfs: PpsPfsClient, service: PipelineService,
    bounds: LogBounds = boundsDefault) {
    assert(bounds.entriesMax >= 1 && bounds.bytesMax >= 1, () => `log bounds ${bounds.entriesMax}` +
      ` entries, ${bounds.bytesMax} bytes`);
    this.#store = store;
    this.#pfs = pfs;
    this.#service = service;
    this.#bounds = bounds;
  }

  /** The jobs `pipeline` / `job` ask for, oldest first; NOT_FOUND for unknown ones. */
  async #jobsOf(pipeline: string, job: string): Promise<JobRecord[]> {
    if (job === "") return (await this.#service.jobs(pipeline, Infinity)).reverse();
    const record = await this.#service.job(job);
    if (pipeline !== "" && record.pipeline !== pipeline) {
      throw new PfsError("NOT_FOUND", `job ${job} is not a job of pipeline ${pipeline}`,
        { job, pipeline });
    }
    return [record];
  }

  /** Every log of the jobs asked for, job by job, datum by datum. */
  async *logs(pipeline: string, job: string): AsyncGenerator<LogEntry> {
    for (const record of await this.#jobsOf(pipeline, job)) {
      if (isFinal(record.state)) yield* this.#finalLogs(record);
      else yield* this.#runningLogs(record);
    }
  }

  async #read(repo: string, commit: string, path: string): Promise<string> {
    const out = new Collected();
    await this.#pfs.getFile({ commit: { repo, commit }, path }, out);
    return out.text();
  }

  #counted(entry: LogEntry): LogEntry {
    this.#entries += 1;
    this.#bytes += Buffer.byteLength(entry.text, "utf8");
    const { entriesMax, bytesMax } = this.#bounds;
    if (this.#entries > entriesMax) {
      throw new LimitError("ppsLogEntriesPerCallMax", entriesMax, this.#entries);
    }
    if (this.#bytes > bytesMax) throw new LimitError("ppsLogBytesPerCallMax", bytesMax, this.#bytes);
    return entry;
  }

  async *#runningLogs(job: JobRecord): AsyncGenerator<LogEntry> {
    const results = await this.#store.results(job.id);
    results.sort((a, b) => a.finishedMs - b.finishedMs || (a.datumId < b.datumId ? -1 : 1));
    for (const result of results) {
      const staged = commitOf(result.staged, `result of datum ${result.datumId}`);
      const text = await this.#read(staged.repo, staged.commit, stagedLogPath(result.datumId));
      yield this.#counted({ job: job.id, datum: result.datumId, root: result.root,
        node: result.node, text });
    }
  }

  async *#finalLogs(job: JobRecord): AsyncGenerator<LogEntry> {
    let files;
    try {
      files = await this.#pfs.listFile({ commit: { repo: job.pipeline, commit: logsBranch },
        path: `/${job.id}` });
    } catch (error: unknown) {
      // A job that ended before any datum ran (killed, or no datum) has no log directory.
      if (error instanceof PfsError && error.code === "NOT_FOUND") return;
      throw error;
    }
    const index = await this.#indexOf(job, files.map((file) => file.path));
    const roots = index.size > 0 ? new Map<string, string>() : await this.#rootsOf(job.pipeline);
    for (const file of files.filter((entry) => entry.type === "FILE")) {
      if (file.path === logIndexPath(job.id)) continue;
      const name = file.path.slice(file.path.lastIndexOf("/") + 1);
      const datum = name.endsWith(".log") ? name.slice(0, -".log".length) : name;
      const text = await this.#read(job.pipeline, logsBranch, file.path);
      const known = index.get(datum);
      yield this.#counted({ job: job.id, datum, root: known?.root ?? roots.get(datum) ?? "",
        node: known?.node ?? "", text });
    }
  }

  /** Datum id → what the job's log index says of it; empty when there is no index. */
  async #indexOf(job: JobRecord, paths: readonly string[]):
    Promise<Map<string, LogIndexEntry>> {
    const path = logIndexPath(job.id);
    if (!paths.includes(path)) return new Map();
    const text = await this.#read(job.pipeline, logsBranch, path);
    const entries = decodeLogIndex(`${job.pipeline}@${logsBranch}:${path}`, Buffer.from(text));
    return new Map(entries.map((entry) => [entry.datumId, entry]));
  }

  /** Datum id → root, from the pipeline's skip records (its successful datums). */
  async #rootsOf(pipeline: string): Promise<Map<string, string>> {
    const roots = new Map<string, string>();
    for (const skip of await this.#store.skips(pipeline)) roots.set(skip.datumId, skip.root);
    return roots;
  }
}
