/**
 * `WorkerStagings`: the staging of every job a worker has datums of (one `JobStager` per job
 * and lease), and what happens when a batch ends: a finished batch writes each datum's
 * result (task and claim deleted with it, guarded by the claim); an abandoned one releases
 * the claims so the datums run again.
 *
 * Invariant: a stager belongs to one lease. When the lease is lost, every stager is aborted
 * (its open commit deleted) and forgotten, so no claim of an old lease gets a result written
 * through a new one.
 */
import type { Etcd3 } from "etcd3";
import type { Clock, Logger } from "../../common/index.js";
import type { PpsKeys } from "../keys.js";
import { stagingBranch } from "../task-records.js";
import { type HeldClaim, releaseClaim, writeResult } from "./claims.js";
import { type BatchOutcome, JobStager, type StagingPfs } from "./job-stager.js";
import { ppsStagingBatchAgeMs } from "./limits.js";

/** A datum in a staging batch: its claim and its result's fields but `staged`. */
export interface StagedDatum {
  readonly claim: HeldClaim;
  readonly ok: boolean;
  readonly attempts: number;
  readonly outputs: readonly string[];
  readonly error: string;
  readonly durationMs: number;
}

export interface WorkerStagingsOptions {
  readonly client: Etcd3;
  readonly keys: PpsKeys;
  readonly pfs: StagingPfs;
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once the claims of `claims` are no longer this worker's (result or release). */
  readonly onDone: (claims: readonly HeldClaim[]) => void;
}

interface Staging {
  readonly stager: JobStager<StagedDatum>;
  readonly leaseId: string;
}

export class WorkerStagings {
  readonly #options: WorkerStagingsOptions;
  readonly #byJob = new Map<string, Staging>();

  constructor(options: WorkerStagingsOptions) {
    this.#options = options;
  }

  /** The stager of `jobId` for claims on lease `leaseId` (a new one after a lease change). */
  stagerOf(jobId: string, pipeline: string, leaseId: string): JobStager<StagedDatum> {
    const existing = this.#byJob.get(jobId);
    if (existing !== undefined && existing.leaseId === leaseId) return existing.stager;
    if (existing !== undefined) {
      this.#abort(existing, "the worker lease changed").catch(() => undefined);
    }
    const { pfs, node, clock, logger } = this.#options;
    const stager = new JobStager<StagedDatum>({
      pfs, repo: pipeline, branch: stagingBranch(jobId, node), batchAgeMs: ppsStagingBatchAgeMs,
      clock, logger: logger.child({ job: jobId }),
      onOutcome: (outcome) => this.#handle(outcome),
    });
    this.#byJob.set(jobId, { stager, leaseId });
    return stager;
  }

  /** The jobs that have a stager. */
  jobs(): string[] {
    return [...this.#byJob.keys()];
  }

  /** Aborts and forgets the stager of `jobId` (its job became final or went away). */
  async abortJob(jobId: string, reason: string): Promise<void> {
    const staging = this.#byJob.get(jobId);
    if (staging === undefined) return;
    await this.#abort(staging, reason);
  }

  /** Aborts and forgets every stager (lease lost, worker closing). */
  async abortAll(reason: string): Promise<void> {
    await Promise.all([...this.#byJob.values()].map((staging) => this.#abort(staging, reason)));
  }

  #abort(staging: Staging, reason: string): Promise<void> {
    for (const [jobId, current] of this.#byJob) {
      if (current === staging) this.#byJob.delete(jobId);
    }
    return staging.stager.abort(reason).then(() => staging.stager.idle());
  }

  async #handle(outcome: BatchOutcome<StagedDatum>): Promise<void> {
    const { client, keys, node, clock, logger } = this.#options;
    const claims = outcome.datums.map((datum) => datum.claim);
    if (outcome.kind === "abandoned") {
      logger.warn("a staging batch was abandoned; its datums run again",
        { datums: claims.length, error: outcome.error });
      await releaseAll(client, claims, logger);
      this.#options.onDone(claims);
      return;
    }
    const finishedMs = clock.wallMs();
    for (const datum of outcome.datums) {
      const { task } = datum.claim;
      const written = await writeResult(client, keys, datum.claim, {
        jobId: task.jobId, datumId: task.datum.id, root: task.datum.root, ok: datum.ok, node,
        attempts: datum.attempts, outputs: datum.outputs, staged: outcome.staged,
        error: datum.error, durationMs: datum.durationMs, finishedMs,
      }).catch((error: unknown) => {
        logger.warn("cannot write a datum result; the claim goes with the lease",
          { key: datum.claim.claimKey, error });
        return false;
      });
      if (!written) {
        logger.warn("a datum's claim was gone before its result; it runs again elsewhere",
          { key: datum.claim.claimKey, staged: outcome.staged });
      }
    }
    this.#options.onDone(claims);
  }
}

/** Releases every claim, logging (not throwing) what fails: the lease frees it later. */
export async function releaseAll(client: Etcd3, claims: readonly HeldClaim[], logger: Logger):
  Promise<void> {
  for (const claim of claims) {
    await releaseClaim(client, claim).catch((error: unknown) => {
      logger.warn("cannot release a claim; it goes with the lease", { key: claim.claimKey, error });
    });
  }
}
