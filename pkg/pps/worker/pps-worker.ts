/**
 * `PpsWorker`: the pipeline worker of one node (DESIGN.md §5; the runtime rules of issue 8).
 * It watches the tasks the pps master writes, claims them (a parallelism slot and the claim,
 * on its own lease; tasks whose shards have a replica here first), runs each datum as local
 * child processes (up to `datum_tries` attempts), stages the outputs and the log in a staging
 * commit of its own, and once that commit is finished writes the datums' results.
 *
 * Invariants:
 * - At most `concurrency` datums run here at once; a datum's slot is released as soon as its
 *   process ended, its claim only with its result (or when its staging commit was abandoned,
 *   so it runs again).
 * - A result is written only for a datum whose outputs and log lie in a FINISHED staging
 *   commit, and only while this worker's claim on it still stands.
 * - A job that becomes final (killed, failed), a lost lease and `close()` abort the attempts
 *   they cover and delete the open staging commits; nothing of theirs gets a result.
 * Scheduling runs in passes (one at a time) on every change of the watched prefixes and every
 * `ppsWorkerPassMs`, so a delayed remote task or a failed claim is tried again.
 */
import type { Etcd3 } from "etcd3";
import { type Clock, type Logger, type Timer, PfsError, assert } from "../../common/index.js";
import type { PpsKeys } from "../keys.js";
import type { PipelineSpec } from "../spec.js";
import { isFinal } from "../records.js";
import type { DatumTaskRecord } from "../task-records.js";
import { claimOrder, freeSlots } from "./claim-order.js";
import { type HeldClaim, claimTask, releaseSlot } from "./claims.js";
import { type DatumFileSource, type DatumRun, runDatum } from "./datum-run.js";
import type { StagingPfs } from "./job-stager.js";
import {
  ppsClaimTriesPerPassMax, ppsStagingBatchDatumsMax,
  ppsWorkerConcurrencyDefault, ppsWorkerConcurrencyMax, ppsWorkerLeaseTtlSecondsDefault,
  ppsWorkerLeaseTtlSecondsMin, ppsWorkerPassMs,
} from "./limits.js";
import { type HeldLease, WorkerLease } from "./worker-lease.js";
import { WorkerStagings, releaseAll } from "./worker-stagings.js";
import { WorkerView } from "./worker-view.js";

/** The pfs calls a worker makes (PfsClient has them all). */
export type WorkerPfs = DatumFileSource & StagingPfs;

export interface PpsWorkerOptions {
  /** A root client (keys are full keys). */
  readonly client: Etcd3;
  readonly keys: PpsKeys;
  /** Dialled to this node's own pfs API. */
  readonly pfs: WorkerPfs;
  /** This node's name: in claims, results and staging branch names. */
  readonly node: string;
  /** A directory of this node's own for datum work directories. */
  readonly workRoot: string;
  /** Whether a replica of `shard` lives on this node. */
  readonly holdsShard: (shard: number) => boolean;
  /** Datums this node runs at once (default `ppsWorkerConcurrencyDefault`). */
  readonly concurrency?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** TTL of the worker's lease (default `ppsWorkerLeaseTtlSecondsDefault`). */
  readonly leaseTtlSeconds?: number;
}

/** A datum running here: its claim and what aborts it. */
interface RunningDatum {
  readonly claim: HeldClaim;
  readonly abort: AbortController;
}

export class PpsWorker {
  readonly #options: PpsWorkerOptions;
  readonly #concurrency: number;
  readonly #view: WorkerView;
  readonly #lease: WorkerLease;
  readonly #running = new Map<string, RunningDatum>();
  /** Tasks ("<job>/<datum>") this worker holds a claim on: running or staging. */
  readonly #mine = new Set<string>();
  readonly #stagings: WorkerStagings;
  readonly #work = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  #passing = false;
  #passAgain = false;
  #timer: Timer | undefined;
  #started = false;

  constructor(options: PpsWorkerOptions) {
    const concurrency = options.concurrency ?? ppsWorkerConcurrencyDefault;
    const ttl = options.leaseTtlSeconds ?? ppsWorkerLeaseTtlSecondsDefault;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 ||
      concurrency > ppsWorkerConcurrencyMax) {
      throw new PfsError("INVALID_ARGUMENT", `worker concurrency ${concurrency} must be 1 to ` +
        `ppsWorkerConcurrencyMax (${ppsWorkerConcurrencyMax})`);
    }
    if (!Number.isSafeInteger(ttl) || ttl < ppsWorkerLeaseTtlSecondsMin) {
      throw new PfsError("INVALID_ARGUMENT", `worker lease TTL ${ttl} s must be a whole ` +
        `number of seconds ≥ ppsWorkerLeaseTtlSecondsMin (${ppsWorkerLeaseTtlSecondsMin})`);
    }
    assert(options.node !== "" && options.workRoot !== "", "a worker needs a node and a root");
    this.#options = options;
    this.#concurrency = concurrency;
    const logger = options.logger;
    this.#view = new WorkerView(options.client, options.keys, options.clock, logger);
    this.#lease = new WorkerLease(options.client, ttl, options.clock, logger,
      () => { this.#onLeaseLost(); });
    this.#stagings = new WorkerStagings({ ...options, logger, onDone: (claims) => {
      for (const claim of claims) this.#mine.delete(suffixOf(claim));
      this.#schedulePass();
    } });
  }

  /** Reads the store and starts claiming; UNAVAILABLE when the store is unreachable. */
  async start(): Promise<void> {
    assert(!this.#started, "worker started twice");
    this.#started = true;
    await this.#view.start();
    this.#view.onChange(() => { this.#onChange(); });
    await this.#lease.acquire().catch((error: unknown) => {
      this.#options.logger.warn("no worker lease yet; the next pass tries again", { error });
    });
    this.#arm();
    this.#schedulePass();
  }

  /** Aborts running datums, deletes open staging commits, revokes the lease, stops watching. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new PfsError("UNAVAILABLE", "the worker is closing"));
    this.#timer?.cancel();
    await Promise.allSettled([...this.#work]);
    await this.#stagings.abortAll("the worker closed");
    await this.#lease.close();
    await this.#view.close();
  }

  #arm(): void {
    this.#timer = this.#options.clock.setTimer(ppsWorkerPassMs, () => {
      if (this.#closing.signal.aborted) return;
      this.#schedulePass();
      this.#arm();
    });
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.#options.logger.error("a worker step failed", { error });
    }).finally(() => { this.#work.delete(tracked); });
    this.#work.add(tracked);
  }

  #schedulePass(): void {
    if (this.#closing.signal.aborted) return;
    if (this.#passing) {
      this.#passAgain = true;
      return;
    }
    this.#passing = true;
    this.#track((async () => {
      try {
        do {
          this.#passAgain = false;
          await this.#pass();
        } while (this.#wantsAnotherPass());
      } finally {
        this.#passing = false;
      }
    })());
  }

  /** Whether something changed during the pass that just ended (read after an await). */
  #wantsAnotherPass(): boolean {
    return this.#passAgain && !this.#closing.signal.aborted;
  }

  /** One scheduling pass: claims the best tasks while there is room. */
  async #pass(): Promise<void> {
    if (this.#running.size >= this.#concurrency) return;
    const order = claimOrder({
      tasks: this.#view.seenTasks(), claimed: (suffix) => this.#view.claimed(suffix),
      busy: (suffix) => this.#mine.has(suffix), runnable: (task) => this.#view.runnable(task),
      holdsShard: this.#options.holdsShard, nowMs: this.#options.clock.nowMs(),
    });
    if (order.length === 0) return;
    let lease: HeldLease;
    try {
      lease = await this.#lease.acquire();
    } catch (error: unknown) {
      this.#options.logger.warn("no worker lease; claims wait", { error });
      return;
    }
    const full = new Set<string>();
    let tries = 0;
    for (const { task } of order) {
      if (this.#running.size >= this.#concurrency || tries >= ppsClaimTriesPerPassMax) break;
      if (this.#closing.signal.aborted || lease.lost.aborted) break;
      const spec = this.#view.pipeline(task.pipeline)?.spec;
      if (spec === undefined || full.has(task.pipeline)) continue;
      tries += 1;
      try {
        if (await this.#claim(task, spec, lease) === "full") full.add(task.pipeline);
      } catch (error: unknown) {
        this.#options.logger.warn("a claim failed on the store; the next pass tries again",
          { error });
        return;
      }
    }
  }

  /** Tries the free slots of the task's pipeline until one goes with the claim. */
  async #claim(task: DatumTaskRecord, spec: PipelineSpec, lease: HeldLease):
    Promise<"claimed" | "taken" | "full"> {
    const free = freeSlots(spec.parallelism, (index) => this.#view.slotTaken(spec.name, index));
    for (const index of free) {
      const outcome = await claimTask(this.#options.client, this.#options.keys, task, index, {
        node: this.#options.node, leaseId: lease.id, wallMs: this.#options.clock.wallMs(),
      });
      if (outcome.kind === "task-taken") return "taken";
      if (outcome.kind === "slot-taken") continue;
      // The watches confirm these soon; until then this pass must not count them free.
      this.#view.slots.learn(`${spec.name}/${index}`, "");
      this.#view.claims.learn(`${task.jobId}/${task.datum.id}`, "");
      this.#start(outcome.claim, spec, lease);
      return "claimed";
    }
    return "full";
  }

  #start(claim: HeldClaim, spec: PipelineSpec, lease: HeldLease): void {
    const suffix = `${claim.task.jobId}/${claim.task.datum.id}`;
    const abort = new AbortController();
    this.#running.set(suffix, { claim, abort });
    this.#mine.add(suffix);
    const signal = AbortSignal.any([abort.signal, lease.lost, this.#closing.signal]);
    this.#track(this.#runAndStage(claim, spec, signal));
  }

  /** Runs the datum, frees its slot, stages it, and finishes the batch when it is time. */
  async #runAndStage(claim: HeldClaim, spec: PipelineSpec, signal: AbortSignal): Promise<void> {
    const { task } = claim;
    const { logger } = this.#options;
    logger.debug("datum claimed", { key: claim.claimKey });
    const run = await this.#runHere(claim, spec, signal);
    if (run === undefined) return;
    logger.debug("datum ran", { key: claim.claimKey, ok: run.ok, durationMs: run.durationMs });
    const stager = this.#stagings.stagerOf(task.jobId, task.pipeline, claim.leaseId);
    const outputs = run.outputs.map((output) => output.path);
    try {
      await stager.stage(task.datum.id, run, {
        claim, ok: run.ok, attempts: run.attempts, outputs, error: run.error,
        durationMs: run.durationMs,
      });
    } finally {
      await run.dispose();
    }
    logger.debug("datum staged", { key: claim.claimKey });
    const moreHere = [...this.#running.values()].some((other) =>
      other.claim.task.jobId === task.jobId) || this.#view.hasUnclaimedTask(task.jobId);
    if (stager.size >= ppsStagingBatchDatumsMax || !moreHere) await stager.flush();
  }

  /**
   * Runs the datum and frees its slot. Undefined when there is nothing to stage: the run was
   * aborted, its job ended meanwhile, or it could not run at all (a local fault, logged); its
   * claim is then released.
   */
  async #runHere(claim: HeldClaim, spec: PipelineSpec, signal: AbortSignal):
    Promise<DatumRun | undefined> {
    const { client, node, workRoot, pfs, clock, logger } = this.#options;
    const { task } = claim;
    const suffix = suffixOf(claim);
    let run: DatumRun | undefined;
    try {
      run = await runDatum({ spec, task, node, workRoot, pfs, signal, clock });
    } catch (error: unknown) {
      logger.error("a datum could not run here; its claim is released",
        { key: claim.claimKey, error });
    } finally {
      this.#running.delete(suffix);
    }
    await releaseSlot(client, claim).catch((error: unknown) => {
      logger.warn("cannot release a slot; it goes with the lease", { key: claim.slotKey, error });
    });
    this.#schedulePass();
    const job = this.#view.job(task.jobId);
    const live = job !== undefined && !isFinal(job.state);
    if (run !== undefined && !run.aborted && !signal.aborted && live) return run;
    await run?.dispose();
    await releaseAll(client, [claim], logger);
    this.#mine.delete(suffix);
    return undefined;
  }

  /** A watched prefix changed: stop what belongs to final jobs, then look for work. */
  #onChange(): void {
    for (const running of this.#running.values()) {
      const job = this.#view.job(running.claim.task.jobId);
      if (job === undefined || isFinal(job.state)) {
        running.abort.abort(new PfsError("FAILED_PRECONDITION",
          `job ${running.claim.task.jobId} is ${job?.state ?? "gone"}`));
      }
    }
    for (const jobId of this.#stagings.jobs()) {
      const job = this.#view.job(jobId);
      if (job === undefined || isFinal(job.state)) {
        this.#track(this.#stagings.abortJob(jobId, `job ${jobId} is ${job?.state ?? "gone"}`));
      }
    }
    this.#schedulePass();
  }

  /** The lease went, and every claim with it: running datums abort through their signal. */
  #onLeaseLost(): void {
    this.#track(this.#stagings.abortAll("the worker lease was lost"));
    this.#schedulePass();
  }
}

function suffixOf(claim: HeldClaim): string {
  return `${claim.task.jobId}/${claim.task.datum.id}`;
}
