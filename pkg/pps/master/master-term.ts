/**
 * One term of the elected pps master: from winning the election until the term is over (the
 * lease lost, a fenced write refused, or `close`).
 *
 * At its start it reads every job record (a new master resumes where the old one left off)
 * and watches the pipelines. Then it runs rounds at its own pace (at most one every
 * `ppsMasterRoundMinMs`): watches, subscriptions and timers only mark it awake; each round
 * looks at every pipeline and launches that pipeline's next step, at most one step per
 * pipeline in flight, in this order:
 *
 * 1. kill a created or running job of another version than the stored pipeline's (updated)
 *    or of an earlier incarnation of it (term-jobs.ts), or of a pipeline no longer stored
 *    (deleted);
 * 2. create the jobs the input branch's arrivals call for (pipeline-follower.ts): never two
 *    for one (pipeline, version, input commit);
 * 3. for the running job (at most one per pipeline): plan it if this term has not, complete it
 *    once every task has a result, else write its progress (at most every
 *    `ppsMasterProgressWriteMs`);
 * 4. else start the oldest created job (jobs of a pipeline run one at a time, in order).
 *
 * A step that fails pauses its pipeline for `ppsMasterRetryMs`; a step deposed ends the term.
 */
import { randomBytes } from "node:crypto";
import { type Logger, type Timer, assert } from "../../common/index.js";
import { PrefixCache } from "../../pfs/index.js";
import { type JobRecord, type PipelineRecord, decodePipeline, isFinal } from "../records.js";
import { completeResults } from "./assembly.js";
import {
  type JobContext, completeJob, endJob, progressOf, startJob, sweepPipeline,
} from "./job-lifecycle.js";
import { type JobPlan, planJob } from "./job-plan.js";
import {
  ppsMasterProgressWriteMs, ppsMasterRetryMs, ppsMasterRoundMinMs,
} from "./limits.js";
import { DeposedError } from "./master-store.js";
import { Followers, type InputArrival } from "./pipeline-follower.js";
import { ResultsView } from "./results-view.js";
import {
  type TermJobs, addJob, emptyTermJobs, hasJob, isCurrent, newJobRecord, nextCreatedMs,
  reprocesses,
} from "./term-jobs.js";
import type { TermOptions } from "./term-options.js";

type Step = () => Promise<void>;

export class MasterTerm {
  readonly #options: TermOptions;
  readonly #context: JobContext;
  readonly #logger: Logger;
  /** Aborted when the term ends for any reason; nothing is launched after. */
  readonly #stop = new AbortController();
  readonly #pipelines: PrefixCache;
  readonly #jobs: TermJobs = emptyTermJobs();
  readonly #plans = new Map<string, JobPlan>();
  readonly #results = new Map<string, ResultsView>();
  readonly #followers: Followers;
  readonly #busy = new Map<string, Promise<void>>();
  readonly #pausedUntilMs = new Map<string, number>();
  readonly #progressWrittenMs = new Map<string, number>();
  readonly #timers = new Set<Timer>();
  /** Running jobs with a progress write waiting for its interval (a timer set). */
  readonly #progressWaiting = new Set<string>();
  /** Running jobs whose results were seen fewer than counted (reported once). */
  readonly #shrunk = new Set<string>();
  #awake = true;
  #wake: (() => void) | undefined;
  #lastCreatedMs = 0;

  constructor(options: TermOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#context = {
      pfs: options.pfs, store: options.store, clock: options.clock, logger: options.logger,
      shards: options.shards,
    };
    this.#pipelines = new PrefixCache(options.client, options.store.keys.pipelinesPrefix,
      options.logger);
    this.#followers = new Followers(options.pfs, options.clock, options.logger,
      () => { this.#poke(); });
    options.over.addEventListener("abort", () => { this.#end(); }, { once: true });
  }

  /** Runs the term until it is over; always resolves (its failures end it, logged). */
  async run(): Promise<void> {
    try {
      await this.#begin();
      const { clock } = this.#options;
      while (!this.#stop.signal.aborted) {
        const startedMs = clock.nowMs();
        this.#awake = false;
        this.#round();
        if (!this.#isAwake()) await new Promise<void>((resolve) => { this.#wake = resolve; });
        this.#wake = undefined;
        const restMs = ppsMasterRoundMinMs - (clock.nowMs() - startedMs);
        if (restMs > 0) await clock.sleep(restMs, this.#stop.signal).catch(() => undefined);
      }
    } catch (error: unknown) {
      if (!this.#stop.signal.aborted) this.#logger.warn("pps master term failed", { error });
    } finally {
      this.#end();
      await this.#shutDown();
    }
  }

  async #begin(): Promise<void> {
    const jobs = await this.#options.store.readJobs((key, error) => {
      this.#logger.error("a job record does not decode; it is left alone", { key, error });
    });
    for (const job of jobs.values()) addJob(this.#jobs, job);
    this.#lastCreatedMs = Math.max(0, ...[...jobs.values()].map((job) => job.createdMs));
    await this.#pipelines.start();
    this.#pipelines.onChange(() => { this.#poke(); });
    this.#sweep(jobs, await this.#options.store.jobsWithKeys());
  }

  /** Launches each pipeline's sweep of what interrupted cleanups left (job-lifecycle.ts). */
  #sweep(jobs: ReadonlyMap<string, JobRecord>, withKeys: ReadonlySet<string>): void {
    const finals = new Map<string, JobRecord[]>();
    for (const name of this.#pipelines.entries.keys()) finals.set(name, []);
    for (const id of withKeys) {
      const job = jobs.get(id);
      if (job === undefined || !isFinal(job.state)) continue;
      finals.set(job.pipeline, [...(finals.get(job.pipeline) ?? []), job]);
    }
    const live = (id: string): boolean => {
      const job = this.#jobs.byId.get(id);
      return job !== undefined && !isFinal(job.state);
    };
    for (const [name, withKeysOfPipeline] of finals) {
      this.#launch(name, () => sweepPipeline(this.#context, name, withKeysOfPipeline, live));
    }
  }

  #end(): void {
    this.#stop.abort();
    this.#poke();
  }

  async #shutDown(): Promise<void> {
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    await Promise.allSettled([...this.#busy.values()]);
    await this.#followers.close();
    await Promise.allSettled([...this.#results.values()].map((view) => view.close()));
    await this.#pipelines.close().catch(() => undefined);
  }

  /** Whether something woke the term during the round (a method: it changes under us). */
  #isAwake(): boolean {
    return this.#awake;
  }

  #poke(): void {
    this.#awake = true;
    this.#wake?.();
  }

  /** Wakes the term after `delayMs`, running `first` before the round. */
  #wakeIn(delayMs: number, first?: () => void): void {
    const timer = this.#options.clock.setTimer(delayMs, () => {
      this.#timers.delete(timer);
      first?.();
      this.#poke();
    });
    this.#timers.add(timer);
  }

  /** The stored pipeline records by name (one that does not decode is left out, logged). */
  #records(): Map<string, PipelineRecord> {
    const records = new Map<string, PipelineRecord>();
    const prefix = this.#options.store.keys.pipelinesPrefix;
    for (const [name, text] of this.#pipelines.entries) {
      try {
        records.set(name, decodePipeline(prefix + name, Buffer.from(text, "utf8")));
      } catch (error: unknown) {
        this.#logger.error("a pipeline record does not decode; it is ignored", { name, error });
      }
    }
    return records;
  }

  #round(): void {
    const records = this.#records();
    this.#followers.sync(records);
    const names = new Set(records.keys());
    for (const job of this.#jobs.byId.values()) if (!isFinal(job.state)) names.add(job.pipeline);
    const nowMs = this.#options.clock.nowMs();
    for (const name of names) {
      if (this.#busy.has(name) || (this.#pausedUntilMs.get(name) ?? 0) > nowMs) continue;
      const step = this.#nextStep(name, records.get(name));
      if (step !== undefined) this.#launch(name, step);
    }
  }

  #launch(name: string, step: Step): void {
    assert(!this.#busy.has(name), () => `pipeline ${name} already has a step in flight`);
    const running = step().catch((error: unknown) => {
      if (error instanceof DeposedError) {
        this.#logger.warn("deposed; the pps master term ends", { error });
        this.#end();
        return;
      }
      if (this.#stop.signal.aborted) return;
      this.#logger.warn("pipeline step failed; it runs again", { pipeline: name, error });
      this.#pausedUntilMs.set(name, this.#options.clock.nowMs() + ppsMasterRetryMs);
      this.#wakeIn(ppsMasterRetryMs);
    }).finally(() => {
      this.#busy.delete(name);
      this.#poke();
    });
    this.#busy.set(name, running);
  }

  #nextStep(name: string, record: PipelineRecord | undefined): Step | undefined {
    const live = [...this.#jobs.byId.values()]
      .filter((job) => job.pipeline === name && !isFinal(job.state))
      .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
    const stale = live.find((job) => !isCurrent(job, record));
    if (stale !== undefined) {
      const reason = record === undefined ? "killed: pipeline deleted" : "killed: pipeline updated";
      return () => this.#kill(stale, reason);
    }
    if (record === undefined) return undefined;
    const arrivals = this.#followers.take(name);
    if (arrivals.length > 0) return () => this.#createJobs(record, arrivals);
    const running = live.find((job) => job.state === "running");
    if (running !== undefined) return this.#runningStep(running, record);
    const created = live[0];
    return created === undefined ? undefined : () => this.#start(created, record);
  }

  async #kill(job: JobRecord, reason: string): Promise<void> {
    this.#record(await endJob(this.#context, job, "killed", reason));
  }

  async #start(job: JobRecord, record: PipelineRecord): Promise<void> {
    const started = await startJob(this.#context, job, record,
      reprocesses(this.#jobs, job, record));
    if (started.plan !== undefined) this.#plans.set(job.id, started.plan);
    this.#record(started.job);
  }

  /** Keeps `job` in this term's copy; a final job's plan and results view go. */
  #record(job: JobRecord): void {
    addJob(this.#jobs, job);
    if (!isFinal(job.state)) return;
    this.#plans.delete(job.id);
    this.#progressWrittenMs.delete(job.id);
    const view = this.#results.get(job.id);
    this.#results.delete(job.id);
    void view?.close().catch(() => undefined);
  }

  async #createJobs(record: PipelineRecord, arrivals: readonly InputArrival[]): Promise<void> {
    for (const arrival of arrivals) {
      if (arrival.version !== record.version) continue;
      if (arrival.kind === "head" && hasJob(this.#jobs, record)) continue;
      if (arrival.kind === "commit" && arrival.finishedMs <= record.updatedMs) continue;
      if (hasJob(this.#jobs, record, arrival.commit)) continue;
      this.#lastCreatedMs = nextCreatedMs(this.#options.clock.wallMs(), this.#lastCreatedMs,
        record);
      const job = newJobRecord(randomBytes(16).toString("hex"), record, arrival.commit,
        this.#lastCreatedMs);
      await this.#options.store.putJob(job);
      this.#record(job);
      this.#logger.info("job created", { job: job.id, pipeline: job.pipeline,
        input: job.inputCommit });
    }
  }

  #runningStep(job: JobRecord, record: PipelineRecord): Step | undefined {
    const plan = this.#plans.get(job.id);
    const view = this.#results.get(job.id);
    if (plan === undefined || view === undefined) return () => this.#resume(job, record);
    const results = view.results();
    const complete = completeResults(plan.toRun, results);
    if (complete.ok) {
      return async () => {
        this.#record(await completeJob(this.#context, job, plan, complete.value));
      };
    }
    const progress = progressOf(job, results.values());
    if (progress.datumsProcessed === job.datumsProcessed &&
      progress.datumsFailed === job.datumsFailed) return undefined;
    if (progress.datumsProcessed < job.datumsProcessed ||
      progress.datumsFailed < job.datumsFailed) {
      // Results are deleted only with the job's keys: fewer than counted is a fault to see.
      if (this.#shrunk.has(job.id)) return undefined;
      this.#shrunk.add(job.id);
      this.#logger.error("a running job has fewer results than it counted; counts kept", {
        job: job.id, counted: [job.datumsProcessed, job.datumsFailed],
        seen: [progress.datumsProcessed, progress.datumsFailed] });
      return undefined;
    }
    const writtenMs = this.#progressWrittenMs.get(job.id) ?? -Infinity;
    const sinceMs = this.#options.clock.nowMs() - writtenMs;
    if (sinceMs < ppsMasterProgressWriteMs) {
      if (!this.#progressWaiting.has(job.id)) {
        this.#progressWaiting.add(job.id);
        this.#wakeIn(ppsMasterProgressWriteMs - sinceMs, () => {
          this.#progressWaiting.delete(job.id);
        });
      }
      return undefined;
    }
    return async () => {
      this.#progressWrittenMs.set(job.id, this.#options.clock.nowMs());
      await this.#options.store.putJob(progress);
      this.#record(progress);
    };
  }

  /** Plans a running job this term did not start, and watches its results. */
  async #resume(job: JobRecord, record: PipelineRecord): Promise<void> {
    if (!this.#plans.has(job.id)) {
      const plan = await planJob(this.#options.pfs, this.#options.store, job, record,
        reprocesses(this.#jobs, job, record));
      if (!plan.ok) {
        this.#record(await endJob(this.#context, job, "failure", plan.error.message));
        return;
      }
      this.#plans.set(job.id, plan.value);
    }
    if (!this.#results.has(job.id)) {
      const view = new ResultsView(this.#options.client,
        this.#options.store.keys.resultsOf(job.id), this.#logger);
      await view.start(() => { this.#poke(); });
      this.#results.set(job.id, view);
    }
  }
}
