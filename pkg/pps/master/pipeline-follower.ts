/**
 * Follows one pipeline version's input branch and reports the commits that may start jobs:
 * first the version's head — the newest commit of the branch that finished before the version
 * was stored (a version with no job yet starts one for it; the commits finished after it each
 * start their own) — then every finished commit of the branch, history first, as pfs's
 * SubscribeCommit streams them.
 *
 * Only commits that FINISHED without an error are reported: a failed commit (an upstream
 * job's failed output) never starts a job. A subscription that fails is opened again after
 * `ppsMasterSubscribeRetryMs`, which replays the history: the consumer drops what it already
 * has (jobs are unique per pipeline, version and input commit). `cancel()` stops it.
 */
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import type { CommitInfoMessage, PfsClient } from "../../pfs/client/index.js";
import type { Clock, Logger } from "../../common/index.js";
import type { PipelineRecord } from "../records.js";
import { ppsMasterHeadSearchCommitsMax, ppsMasterSubscribeRetryMs } from "./limits.js";

/** A commit of the input branch that may start a job of `version`. */
export interface InputArrival {
  readonly pipeline: string;
  readonly version: number;
  /** "head": the branch's head when following began; "commit": a finished commit. */
  readonly kind: "head" | "commit";
  /** "repo@id". */
  readonly commit: string;
  readonly finishedMs: number;
}

/** Whether a commit ended FINISHED without an error (what may start a job). */
export function finishedCleanly(commit: CommitInfoMessage): boolean {
  return commit.state === "FINISHED" && commit.error === "";
}

export class PipelineFollower {
  readonly #record: PipelineRecord;
  readonly #pfs: PfsClient;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #report: (arrival: InputArrival) => void;
  readonly #stop = new AbortController();
  #cancelSubscription: (() => void) | undefined;
  #run: Promise<void> | undefined;

  constructor(record: PipelineRecord, pfs: PfsClient, clock: Clock, logger: Logger,
    report: (arrival: InputArrival) => void) {
    this.#record = record;
    this.#pfs = pfs;
    this.#clock = clock;
    this.#logger = logger;
    this.#report = report;
  }

  /** Whether it follows for `record` (the same version of the same incarnation). */
  follows(record: PipelineRecord | undefined): boolean {
    return record?.version === this.#record.version &&
      record.updatedMs === this.#record.updatedMs;
  }

  start(): void {
    this.#run ??= this.#loop();
  }

  /** Stops following; resolves once the loop has ended. */
  async cancel(): Promise<void> {
    this.#stop.abort();
    this.#cancelSubscription?.();
    await this.#run;
  }

  #arrival(kind: InputArrival["kind"], commit: CommitInfoMessage): InputArrival {
    return {
      pipeline: this.#record.spec.name, version: this.#record.version, kind,
      commit: `${commit.repo}@${commit.id}`, finishedMs: Number(commit.finished_ms),
    };
  }

  #cancelled(): boolean {
    return this.#stop.signal.aborted;
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.#follow();
      } catch (error: unknown) {
        if (!this.#cancelled()) {
          this.#logger.warn("input subscription failed; following again",
            { pipeline: this.#record.spec.name, error });
        }
      }
      await this.#clock.sleep(ppsMasterSubscribeRetryMs, signal).catch(() => undefined);
    }
  }

  async #follow(): Promise<void> {
    const { repo, branch } = this.#record.spec.input;
    const history = await this.#pfs.listCommit(repo, branch, ppsMasterHeadSearchCommitsMax);
    const head = history.find((commit) => finishedCleanly(commit) &&
      Number(commit.finished_ms) <= this.#record.updatedMs);
    if (head !== undefined) this.#report(this.#arrival("head", head));
    if (this.#stop.signal.aborted) return;
    const subscription = this.#pfs.subscribeCommit(repo, branch);
    this.#cancelSubscription = () => { subscription.cancel(); };
    try {
      for await (const commit of subscription.commits) {
        if (finishedCleanly(commit)) this.#report(this.#arrival("commit", commit));
      }
    } finally {
      subscription.cancel();
      this.#cancelSubscription = undefined;
    }
  }
}

/** A follower per stored pipeline version, and the arrivals each reported, by pipeline. */
export class Followers {
  readonly #followers = new Map<string, PipelineFollower>();
  readonly #arrivals = new Map<string, InputArrival[]>();
  readonly #start: (record: PipelineRecord, report: (arrival: InputArrival) => void) =>
    PipelineFollower;
  readonly #onArrival: () => void;

  constructor(pfs: PfsClient, clock: Clock, logger: Logger, onArrival: () => void) {
    this.#start = (record, report) => new PipelineFollower(record, pfs, clock, logger, report);
    this.#onArrival = onArrival;
  }

  /** Starts a follower for each of `records` without one; stops the others. */
  sync(records: ReadonlyMap<string, PipelineRecord>): void {
    for (const [name, follower] of this.#followers) {
      if (follower.follows(records.get(name))) continue;
      this.#followers.delete(name);
      this.#arrivals.delete(name);
      void follower.cancel();
    }
    for (const [name, record] of records) {
      if (this.#followers.has(name)) continue;
      const follower = this.#start(record, (arrival) => {
        this.#arrivals.set(name, [...(this.#arrivals.get(name) ?? []), arrival]);
        this.#onArrival();
      });
      this.#followers.set(name, follower);
      follower.start();
    }
  }

  /** The arrivals of `pipeline` not taken yet (taken now). */
  take(pipeline: string): InputArrival[] {
    const arrivals = this.#arrivals.get(pipeline) ?? [];
    this.#arrivals.delete(pipeline);
    return arrivals;
  }

  async close(): Promise<void> {
    const followers = [...this.#followers.values()];
    this.#followers.clear();
    await Promise.allSettled(followers.map((follower) => follower.cancel()));
  }
}
