/**
 * `NodeGarbageCollector`: garbage collection of the shard replicas placed on one pfsd node.
 * A run over a replica reconciles it with the metadata (reconcile.ts: drops the files of
 * failed and deleted commits), then frees every chunk no manifest or staging log references
 * (`collectGarbage`, safe against concurrent writes by the replica's own gate).
 *
 * When runs happen: every `intervalSeconds` (0 = never by itself), soon after a deletion seen on
 * the metadata watch (`gcAfterDeleteDelayMs`; again once the grace of young unknown commits has
 * passed when a run kept some), and when asked (`collectLocal`, `collectShard`: the
 * CollectGarbage rpcs). Runs never overlap on a node: they queue one after another.
 * Background runs log failures and carry on; asked-for runs reject with them.
 *
 * Owns its timers and watch; `close()` clears them and waits for a run in progress.
 */
import { type Clock, type Logger, type Timer, assert } from "../../common/index.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { gcAfterDeleteDelayMs, gcUnknownCommitGraceMs } from "./limits.js";
import { type CommitStateReader, isReconcilable, reconcileShard } from "./reconcile.js";
import type { StopWatch } from "./deletion-watch.js";

/** What a collection freed. */
export interface GarbageFreed {
  readonly chunksFreed: number;
  readonly bytesFreed: number;
}

/** What a collection of one replica did. */
export interface ShardGarbageResult extends GarbageFreed {
  readonly shard: number;
  readonly commitsDropped: number;
  /** Unknown commits kept because their files changed within the grace period. */
  readonly commitsYoung: number;
}

export interface NodeCollectorOptions {
  /** Seconds between periodic runs; 0 = no periodic runs and no watch. */
  readonly intervalSeconds: number;
  /** The replicas placed on this node now. */
  readonly localShards: () => Promise<ShardReplica[]>;
  readonly readStates: CommitStateReader;
  /** Starts the deletion watch (deletion-watch.ts); absent = no watch. */
  readonly watchDeletions?: (onDeletion: () => void) => Promise<StopWatch>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Grace of unknown commits (default gcUnknownCommitGraceMs); tests shorten it. */
  readonly graceMs?: number;
}

export class NodeGarbageCollector {
  readonly #options: NodeCollectorOptions;
  readonly #graceMs: number;
  /** The tail of the queue of runs. */
  #queue: Promise<unknown> = Promise.resolve();
  #periodic: Timer | undefined;
  #soon: Timer | undefined;
  #stopWatch: StopWatch | undefined;
  #closed = false;

  private constructor(options: NodeCollectorOptions) {
    assert(Number.isSafeInteger(options.intervalSeconds) && options.intervalSeconds >= 0,
      () => `gc interval ${options.intervalSeconds} s`);
    this.#options = options;
    this.#graceMs = options.graceMs ?? gcUnknownCommitGraceMs;
  }

  /** Starts the periodic runs and the watch (unless the interval is 0). */
  static async start(options: NodeCollectorOptions): Promise<NodeGarbageCollector> {
    const collector = new NodeGarbageCollector(options);
    if (options.intervalSeconds === 0) return collector;
    collector.#schedulePeriodic();
    if (options.watchDeletions !== undefined) {
      try {
        collector.#stopWatch = await options.watchDeletions(() => { collector.#runSoon(); });
      } catch (error: unknown) {
        options.logger.warn("no deletion watch; garbage is collected periodically only",
          { error });
      }
    }
    return collector;
  }

  #schedulePeriodic(): void {
    if (this.#closed) return;
    this.#periodic = this.#options.clock.setTimer(this.#options.intervalSeconds * 1000, () => {
      this.#periodic = undefined;
      void this.#background("periodic").finally(() => { this.#schedulePeriodic(); });
    });
  }

  /** Runs once after `delayMs`, unless such a run is already pending. */
  #runSoon(delayMs: number = gcAfterDeleteDelayMs): void {
    if (this.#closed || this.#soon !== undefined) return;
    this.#soon = this.#options.clock.setTimer(delayMs, () => {
      this.#soon = undefined;
      void this.#background("after a deletion");
    });
  }

  /** A run nobody waits for: failures are logged. Never rejects. */
  async #background(reason: string): Promise<void> {
    try {
      const results = await this.#enqueue(() => this.#collectAll());
      if (results.some((result) => result.commitsYoung > 0)) this.#runSoon(this.#graceMs);
    } catch (error: unknown) {
      this.#options.logger.warn("garbage collection failed", { reason, error });
    }
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Collects every local replica now (after any run in progress); the sum of what it freed. */
  async collectLocal(): Promise<GarbageFreed> {
    const results = await this.#enqueue(() => this.#collectAll());
    return sumFreed(results);
  }

  /** Collects one replica now (after any run in progress). */
  collectShard(replica: ShardReplica): Promise<ShardGarbageResult> {
    return this.#enqueue(() => this.#collectOne(replica));
  }

  async #collectAll(): Promise<ShardGarbageResult[]> {
    if (this.#closed) return [];
    const results: ShardGarbageResult[] = [];
    for (const replica of await this.#options.localShards()) {
      results.push(await this.#collectOne(replica));
    }
    return results;
  }

  async #collectOne(replica: ShardReplica): Promise<ShardGarbageResult> {
    const startedMs = this.#options.clock.nowMs();
    const reconciled = isReconcilable(replica)
      ? await reconcileShard(replica, this.#options.readStates,
        () => this.#options.clock.wallMs(), this.#graceMs)
      : { commitsDropped: 0, commitsYoung: 0 };
    const freed = await replica.collectGarbage();
    const result: ShardGarbageResult = {
      shard: replica.shard, chunksFreed: freed.chunksFreed, bytesFreed: freed.bytesFreed,
      ...reconciled,
    };
    this.#options.logger.info("garbage collected",
      { ...result, ms: this.#options.clock.nowMs() - startedMs });
    return result;
  }

  /** Stops the timers and the watch; waits for the run in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#periodic?.cancel();
    this.#soon?.cancel();
    this.#periodic = undefined;
    this.#soon = undefined;
    await this.#stopWatch?.().catch(() => undefined);
    await this.#queue;
  }
}

/** The sum of what several collections freed. */
export function sumFreed(results: readonly GarbageFreed[]): GarbageFreed {
  let chunksFreed = 0;
  let bytesFreed = 0;
  for (const result of results) {
    chunksFreed += result.chunksFreed;
    bytesFreed += result.bytesFreed;
  }
  return { chunksFreed, bytesFreed };
}
