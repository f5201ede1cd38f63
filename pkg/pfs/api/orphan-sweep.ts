/**
 * The orphan sweeper: settles, cluster-wide, the commits whose driving node is gone for good,
 * so they do not block their branch forever (issue 6). A node settles its own interrupted
 * commits when it starts again (commit-recovery.ts); a node that never starts again cannot.
 *
 * Which commits (`decideOrphans`, pure): only auto-commits (their branch record says
 * `openAuto`, and their description names the node and run that drive them), and only those
 * whose owning node is **faulty** (offline for --dead-time or longer, node-health.ts, from its
 * lease key and its offline record) or **retired** (`<root>/retired/<node>`):
 *
 * - an *open* one is deleted with its staged data, as the owner's recovery would have done
 *   (nothing of it was acknowledged: the write that started it never got its reply);
 * - a *finishing* one is resumed (seal every shard, then mark it finished), as any node's
 *   recovery may: its finish was the owner's acknowledged intent. When a shard refuses the
 *   seal for good (FAILED_PRECONDITION: its staged data died with its master) it is failed,
 *   as the owner's finish would have failed it; other failures leave it for the next sweep.
 *
 * An owner that is online (in its current run, driving the commit, or restarted, in which case
 * its own recovery settles the commits of its earlier runs) or only offline (it may come back)
 * is left alone: the sweeper never races a live owner. User commits are never touched: their
 * acknowledged writes wait for the user (a user's finish that a dead node was driving is
 * completed by retrying FinishCommit on any node).
 *
 * Who sweeps: only the node that holds the placement controller's election (`leading`), every
 * orphanSweepIntervalMs; the controller also keeps the offline records the health decision
 * reads. Two sweepers may still overlap (a deposed controller that has not noticed yet, or a
 * restarted owner's recovery): every step is a metadata transaction that compares the commit's
 * and its branch's state (MetaStore), so one of them acts and the others find it settled and
 * do nothing. Each action is logged.
 */
import type { Etcd3 } from "etcd3";
import { type Clock, type Logger, PfsError, assert } from "../../common/index.js";
import type { MetaStore } from "../meta/index.js";
import type { CommitInfo } from "../model.js";
import {
  type NodeHealthInput, type ReplicaMapKeys, nodeStateOf, readOfflineRecords,
} from "../replication/index.js";
import {
  type AutoCommitOwner, type UnsettledCommit, autoCommitOwnerOf, discardInterrupted,
  readUnsettledCommits,
} from "./commit-recovery.js";
import type { CommitResolver } from "./commit-resolver.js";

/**
 * Pause between two sweeps, in milliseconds. A sweep reads every branch record, so it is not
 * run often; an orphan waits at most this long after its owner turned faulty, which is on the
 * scale of the dead time (default 30 s) anyway.
 */
export const orphanSweepIntervalMs: number = 5_000;

/**
 * Actions one sweep takes; the rest wait for the next sweep. Each is a few metadata
 * transactions and one call per shard, so a burst of orphans (a node that drove many writes
 * died) does not hold the controller's node busy for long.
 */
export const orphanActionsPerSweepMax: number = 32;

assert(orphanSweepIntervalMs > 0 && orphanActionsPerSweepMax > 0, "sweeps must make progress");

/** Why an owner is gone for good. */
export type GoneReason = "faulty" | "retired";

/**
 * What the sweeper knows of the nodes, read from the coordination store: the placement
 * controller's health input (live nodes, offline records, time, dead time; the map's nodes do
 * not matter here) and the retired nodes.
 */
export interface OwnerFacts extends Omit<NodeHealthInput, "mapped"> {
  /** Nodes retired for good. */
  readonly retired: ReadonlySet<string>;
}

/** One thing to do about an orphaned commit. */
export interface OrphanAction {
  /** `delete` an open auto-commit; `resume` the finish of a finishing one. */
  readonly kind: "delete" | "resume";
  readonly commit: CommitInfo;
  readonly owner: AutoCommitOwner;
  readonly why: GoneReason;
}

/** Whether `node` is gone for good, and why; undefined while it is online or only offline. */
export function ownerGone(node: string, facts: OwnerFacts): GoneReason | undefined {
  if (facts.retired.has(node)) return "retired";
  const state = nodeStateOf(facts.live.has(node), facts.records.get(node), facts.nowWallMs,
    facts.deadTimeMs);
  return state === "faulty" ? "faulty" : undefined;
}

/**
 * The actions the sweeper takes on `unsettled` (see the module comment), in the order given,
 * at most `limit` of them.
 */
export function decideOrphans(unsettled: readonly UnsettledCommit[], facts: OwnerFacts,
  limit: number = orphanActionsPerSweepMax): OrphanAction[] {
  assert(facts.deadTimeMs > 0, () => `dead time ${facts.deadTimeMs} ms`);
  assert(Number.isSafeInteger(limit) && limit > 0, () => `action limit ${limit}`);
  const actions: OrphanAction[] = [];
  for (const { commit, auto } of unsettled) {
    if (actions.length >= limit) break;
    const owner = autoCommitOwnerOf(commit.description);
    if (!auto || owner === undefined) continue;
    if (commit.state !== "open" && commit.state !== "finishing") continue;
    const why = ownerGone(owner.node, facts);
    if (why === undefined) continue;
    actions.push({ kind: commit.state === "open" ? "delete" : "resume", commit, owner, why });
  }
  assert(actions.length <= limit, "a sweep stays within its action limit");
  return actions;
}

/** How one action ended. */
export type OrphanOutcome = "deleted" | "finished" | "failed" | "settled meanwhile" | "retry";

/** What one sweep did, for logs and tests ("repo@id" → outcome). */
export interface OrphanSweepReport {
  readonly outcomes: ReadonlyMap<string, OrphanOutcome>;
}

export interface OrphanSweeperOptions {
  /** A root client (keys are full keys). */
  readonly client: Etcd3;
  readonly keys: ReplicaMapKeys;
  readonly meta: MetaStore;
  /** Deletes, resumes and fails commits (any owner: it starts no auto-commit). */
  readonly commits: CommitResolver;
  /** True while this node holds the placement controller's election. */
  readonly leading: () => boolean;
  /** --dead-time in milliseconds. */
  readonly deadTimeMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default orphanSweepIntervalMs. */
  readonly intervalMs?: number;
}

function nameOf(commit: CommitInfo): string {
  return `${commit.repo}@${commit.id}`;
}

export class OrphanSweeper {
  readonly #options: OrphanSweeperOptions;
  readonly #closing = new AbortController();
  #run: Promise<void> | undefined;

  constructor(options: OrphanSweeperOptions) {
    assert(options.deadTimeMs > 0, () => `dead time ${options.deadTimeMs} ms`);
    assert((options.intervalMs ?? orphanSweepIntervalMs) > 0, "sweep interval must be positive");
    this.#options = options;
  }

  /** Starts sweeping every interval while `leading()` holds. */
  start(): void {
    assert(this.#run === undefined, "orphan sweeper started twice");
    this.#run = this.#loop();
  }

  /** Stops sweeping; waits for a running sweep. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#run;
  }

  async #loop(): Promise<void> {
    const { clock, logger } = this.#options;
    const signal = this.#closing.signal;
    const intervalMs = this.#options.intervalMs ?? orphanSweepIntervalMs;
    while (!signal.aborted) {
      const slept = await clock.sleep(intervalMs, signal).then(() => true, () => false);
      if (!slept || !this.#options.leading()) continue;
      await this.sweep().catch((error: unknown) => {
        logger.warn("orphan sweep failed; trying again next interval", { error });
      });
    }
  }

  /** One sweep: reads the facts, decides, acts. Throws only when the facts cannot be read. */
  async sweep(): Promise<OrphanSweepReport> {
    const { meta, logger } = this.#options;
    const unreadable = (name: string, error: unknown): void => {
      logger.debug("orphan sweep cannot read a commit", { commit: name, error });
    };
    const unsettled = await readUnsettledCommits(meta, unreadable);
    const outcomes = new Map<string, OrphanOutcome>();
    if (!unsettled.some((each) => each.auto)) return { outcomes };
    const actions = decideOrphans(unsettled, await this.#facts());
    for (const action of actions) {
      if (this.#closing.signal.aborted) break;
      const outcome = await this.#act(action);
      outcomes.set(nameOf(action.commit), outcome);
      const fields = {
        commit: nameOf(action.commit), owner: action.owner.node, run: action.owner.run,
        why: action.why, action: action.kind, outcome,
      };
      if (outcome === "retry") logger.warn("cannot settle an orphaned commit yet", fields);
      else logger.info("settled an orphaned commit", fields);
    }
    return { outcomes };
  }

  /** The live, offline and retired nodes, now. */
  async #facts(): Promise<OwnerFacts> {
    const { client, keys, clock, deadTimeMs } = this.#options;
    const namesUnder = async (prefix: string): Promise<Set<string>> => {
      const found = await client.getAll().prefix(prefix).keys().catch((error: unknown) => {
        throw new PfsError("UNAVAILABLE", `cannot read ${prefix}: ${String(error)}`);
      });
      return new Set(found.map((key) => key.slice(prefix.length)));
    };
    const [live, retired, records] = await Promise.all([
      namesUnder(keys.nodes), namesUnder(keys.retired), readOfflineRecords(client, keys),
    ]);
    return { live, retired, records, nowWallMs: clock.wallMs(), deadTimeMs };
  }

  /** Carries out one action; never throws (a failure is the "retry" outcome, logged). */
  async #act(action: OrphanAction): Promise<OrphanOutcome> {
    const { commits, logger } = this.#options;
    try {
      if (action.kind === "delete") {
        return await discardInterrupted(commits, action.commit) ? "deleted" : "settled meanwhile";
      }
      return await this.#resume(action.commit);
    } catch (error: unknown) {
      logger.debug("orphaned commit action failed", { commit: nameOf(action.commit), error });
      return "retry";
    }
  }

  /**
   * Resumes a finishing orphan; fails it when a shard refuses its seal for good (its staged
   * data is lost), unless it was settled meanwhile.
   */
  async #resume(commit: CommitInfo): Promise<OrphanOutcome> {
    const { commits, meta } = this.#options;
    try {
      await commits.resumeFinish(commit);
      return "finished";
    } catch (error: unknown) {
      if (!(error instanceof PfsError && error.code === "FAILED_PRECONDITION")) throw error;
      const now = await meta.inspectCommit(commit.repo, commit.id).catch(() => undefined);
      if (now?.state !== "finishing") return "settled meanwhile";
      try {
        await commits.fail(now, `finishing failed after its node was gone: ${error.message}`);
      } catch (failure: unknown) {
        if (failure instanceof PfsError && ["FAILED_PRECONDITION", "NOT_FOUND"]
          .includes(failure.code)) return "settled meanwhile";
        throw failure;
      }
      return "failed";
    }
  }
}
