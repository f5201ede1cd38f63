/**
 * `PipelineService`: what the pipelines API does (DESIGN.md §5), over the coordination store
 * (pipeline-store.ts) and this node's pfs API (a PfsClient). The gRPC handlers
 * (pps-service.ts) validate requests, call this and map errors; the decisions are here.
 *
 * - Create: the spec is valid; its name is neither a pipeline nor a repo (ALREADY_EXISTS); its
 *   input repo exists (NOT_FOUND); the pipeline graph stays acyclic; at most ppsPipelinesMax
 *   pipelines. The output repo is created, then the record (version 1) in a transaction that
 *   requires it absent; if that write fails the repo is deleted again, so a refused create
 *   changes nothing.
 * - Update: the pipeline exists (NOT_FOUND), the same checks, version + 1, in a transaction on
 *   the record's mod revision (a concurrent change is FAILED_PRECONDITION: retry). The elected
 *   pps master sees the new version, kills the running job and starts the next.
 * - Delete: refused (FAILED_PRECONDITION, naming them) while another pipeline reads its output
 *   repo; else the record goes first (the master kills its jobs when it sees that), then the
 *   output repo, its job records with their tasks, claims and results, its skip records and
 *   parallelism slots.
 */
import { LimitError, PfsError, type Logger, type Clock } from "../../common/index.js";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import type { PfsClient } from "../../pfs/client/index.js";
import { checkAcyclic, readersOf } from "../dag.js";
import { ppsPipelinesMax } from "../limits.js";
import { type JobRecord, type PipelineRecord } from "../records.js";
import type { PipelineSpec } from "../spec.js";
import { type StoredPipeline, type PipelineStore } from "./pipeline-store.js";
import { parseSpecText } from "./spec-text.js";

/** What the service uses of a pfs client (this node's own pfs API). */
export type PpsPfsClient = Pick<PfsClient,
  "inspectRepo" | "createRepo" | "deleteRepo" | "listFile" | "getFile">;

/** A pipeline as Inspect/ListPipeline show it: its record and its newest job, if any. */
export interface PipelineView {
  readonly record: PipelineRecord;
  readonly lastJob: JobRecord | undefined;
}

/** What DeletePipeline did. */
export interface DeletedPipeline {
  readonly name: string;
  readonly jobsDeleted: number;
}

export interface PipelineServiceOptions {
  readonly store: PipelineStore;
  readonly pfs: PpsPfsClient;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The description of a pipeline's output repo. */
export function outputRepoDescription(name: string): string {
  return `output of pipeline ${name}`;
}

/** Jobs newest first: createdMs descending, then id descending (a total order). */
export function newestFirst(a: JobRecord, b: JobRecord): number {
  if (a.createdMs !== b.createdMs) return b.createdMs - a.createdMs;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function specOf(text: string): PipelineSpec {
  const parsed = parseSpecText(text);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

export class PipelineService {
  readonly #store: PipelineStore;
  readonly #pfs: PpsPfsClient;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: PipelineServiceOptions) {
    this.#store = options.store;
    this.#pfs = options.pfs;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** Whether repo `name` exists (NOT_FOUND is false; other failures are thrown). */
  async #repoExists(name: string): Promise<boolean> {
    try {
      await this.#pfs.inspectRepo(name);
      return true;
    } catch (error: unknown) {
      if (error instanceof PfsError && error.code === "NOT_FOUND") return false;
      throw error;
    }
  }

  /** The checks Create and Update share: input repo, acyclic graph. */
  async #checkInputs(spec: PipelineSpec, pipelines: ReadonlyMap<string, StoredPipeline>):
    Promise<void> {
    if (!await this.#repoExists(spec.input.repo)) {
      throw new PfsError("NOT_FOUND",
        `pipeline ${spec.name}: input repo ${spec.input.repo} does not exist`,
        { repo: spec.input.repo });
    }
    const acyclic = checkAcyclic([...pipelines.values()].map((p) => p.record.spec), spec);
    if (!acyclic.ok) throw acyclic.error;
  }

  async create(specText: string): Promise<PipelineRecord> {
    const spec = specOf(specText);
    const pipelines = await this.#store.pipelines();
    if (pipelines.has(spec.name)) {
      throw new PfsError("ALREADY_EXISTS", `pipeline ${spec.name} already exists`,
        { pipeline: spec.name });
    }
    if (pipelines.size >= ppsPipelinesMax) {
      throw new LimitError("ppsPipelinesMax", ppsPipelinesMax, pipelines.size + 1);
    }
    if (await this.#repoExists(spec.name)) {
      throw new PfsError("ALREADY_EXISTS", `repo ${spec.name} already exists; a pipeline's ` +
        "output repo is its own (pick another name)", { repo: spec.name });
    }
    await this.#checkInputs(spec, pipelines);
    await this.#pfs.createRepo(spec.name, outputRepoDescription(spec.name));
    const now = this.#clock.wallMs();
    const record: PipelineRecord = {
      spec, version: 1, createdMs: now, updatedMs: now, reprocess: false,
    };
    let written = false;
    try {
      written = await this.#store.createPipeline(record);
    } finally {
      if (!written) await this.#dropOutputRepo(spec.name);
    }
    if (!written) {
      throw new PfsError("ALREADY_EXISTS", `pipeline ${spec.name} already exists`,
        { pipeline: spec.name });
    }
    this.#logger.info("pipeline created", { pipeline: spec.name });
    return record;
  }

  /** Deletes the output repo of a create that did not happen; a failure is logged. */
  async #dropOutputRepo(name: string): Promise<void> {
    await this.#pfs.deleteRepo(name).catch((error: unknown) => {
      this.#logger.warn("cannot delete the output repo of a refused create", { repo: name, error });
    });
  }

  async update(specText: string, reprocess: boolean): Promise<PipelineRecord> {
    const spec = specOf(specText);
    const pipelines = await this.#store.pipelines();
    const stored = pipelines.get(spec.name);
    if (stored === undefined) {
      throw new PfsError("NOT_FOUND", `pipeline ${spec.name} does not exist`,
        { pipeline: spec.name });
    }
    await this.#checkInputs(spec, pipelines);
    const record: PipelineRecord = {
      spec, version: stored.record.version + 1, createdMs: stored.record.createdMs,
      updatedMs: this.#clock.wallMs(), reprocess,
    };
    if (!await this.#store.updatePipeline(record, stored.modRevision)) {
      throw new PfsError("FAILED_PRECONDITION",
        `pipeline ${spec.name} changed while it was being updated; retry`,
        { pipeline: spec.name });
    }
    this.#logger.info("pipeline updated", { pipeline: spec.name, version: record.version });
    return record;
  }

  async #stored(name: string): Promise<{ stored: StoredPipeline;
    pipelines: Map<string, StoredPipeline>; }> {
    const pipelines = await this.#store.pipelines();
    const stored = pipelines.get(name);
    if (stored === undefined) {
      throw new PfsError("NOT_FOUND", `pipeline ${name} does not exist`, { pipeline: name });
    }
    return { stored, pipelines };
  }

  async inspect(name: string): Promise<PipelineView> {
    const { stored } = await this.#stored(name);
    const jobs = (await this.#store.jobs()).filter((job) => job.pipeline === name);
    return { record: stored.record, lastJob: jobs.sort(newestFirst)[0] };
  }

  /** Every pipeline by name, each with its newest job. */
  async list(): Promise<PipelineView[]> {
    const pipelines = await this.#store.pipelines();
    const newest = new Map<string, JobRecord>();
    for (const job of await this.#store.jobs()) {
      const known = newest.get(job.pipeline);
      if (known === undefined || newestFirst(job, known) < 0) newest.set(job.pipeline, job);
    }
    return [...pipelines.keys()].sort().map((name) => ({
      record: (pipelines.get(name) as StoredPipeline).record, lastJob: newest.get(name),
    }));
  }

  async delete(name: string): Promise<DeletedPipeline> {
    const { stored, pipelines } = await this.#stored(name);
    pipelines.delete(name);
    const readers = readersOf([...pipelines.values()].map((p) => p.record.spec), name);
    if (readers.length > 0) {
      throw new PfsError("FAILED_PRECONDITION", `pipeline ${name} cannot be deleted: ` +
        `pipeline${readers.length === 1 ? "" : "s"} ${readers.join(", ")} read` +
        `${readers.length === 1 ? "s" : ""} its output repo; delete ${readers.length === 1
          ? "it" : "them"} first`, { pipeline: name });
    }
    if (!await this.#store.deletePipeline(name, stored.modRevision)) {
      throw new PfsError("FAILED_PRECONDITION",
        `pipeline ${name} changed while it was being deleted; retry`, { pipeline: name });
    }
    await this.#pfs.deleteRepo(name).catch((error: unknown) => {
      if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
    });
    const jobs = (await this.#store.jobs()).filter((job) => job.pipeline === name);
    await this.#dropJobs(jobs);
    const keys = this.#store.keys;
    await this.#store.deletePrefix(keys.skipOf(name));
    await this.#store.deletePrefix(keys.slotsOf(name));
    this.#logger.info("pipeline deleted", { pipeline: name, jobs: jobs.length });
    return { name, jobsDeleted: jobs.length };
  }

  /** Deletes `jobs`' records and each one's tasks, claims and results. */
  async #dropJobs(jobs: readonly JobRecord[]): Promise<void> {
    const keys = this.#store.keys;
    for (const job of jobs) {
      await this.#store.deletePrefix(keys.tasksOf(job.id));
      await this.#store.deletePrefix(keys.claimsOf(job.id));
      await this.#store.deletePrefix(keys.resultsOf(job.id));
    }
    await this.#store.deleteKeys(jobs.map((job) => keys.job(job.id)));
  }

  /** Jobs newest first (at most `limit`), of pipeline `name` or ("") of every pipeline. */
  async jobs(name: string, limit: number): Promise<JobRecord[]> {
    if (name !== "") await this.#stored(name);
    const jobs = await this.#store.jobs();
    return jobs.filter((job) => name === "" || job.pipeline === name).sort(newestFirst)
      .slice(0, limit);
  }

  async job(id: string): Promise<JobRecord> {
    const job = await this.#store.job(id);
    if (job === undefined) throw new PfsError("NOT_FOUND", `job ${id} does not exist`, { job: id });
    return job;
  }
}
