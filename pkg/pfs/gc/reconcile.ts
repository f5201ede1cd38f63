/**
 * Reconciling a shard replica with the metadata (DESIGN.md §3), before its chunks are
 * collected: the metadata is the source of truth, so the manifest or staging log of a commit
 * that the metadata has as failed, or does not have at all (its repo or itself deleted), is
 * dropped, and its chunks become garbage for `collectGarbage`.
 *
 * How each kind of leftover arises: a failed finish leaves the manifests of the shards that
 * sealed their part before another failed; a delete (repo or open commit) whose call to a
 * shard failed leaves that shard's files; a put still in flight when its commit was deleted
 * recreates a staging log afterwards.
 *
 * Safety against commits being created now rests on the order of operations:
 * 1. every commit's metadata record is written (an etcd transaction) before any of its files
 *    (`startCommit` comes before the first put), and commit ids are random and never reused;
 * 2. a reconcile first lists the replica's files, then reads the metadata with linearizable
 *    reads, so every file it considers existed before the read;
 * so a commit read as absent was either deleted (final) or had no file when listed. Failed is
 * final too. A commit read as open, finishing or finished is kept. As a second line of defence
 * the files of an absent commit are dropped only once untouched for `graceMs`; a failed
 * commit's are dropped at once (its record proves it existed and ended).
 */
import type { CommitState } from "../model.js";
import type { ShardCommit, ShardReplica } from "../shard/shard-api.js";
import type { StoredCommit } from "../storage/index.js";

/** A replica that can list and drop its commits: what a node collects (LocalShard is one). */
export interface ReconcilableShard extends ShardReplica {
  storedCommits(): Promise<StoredCommit[]>;
  dropCommit(commit: ShardCommit): Promise<void>;
}

/** True when `replica` can be reconciled (a local replica, not a remote one). */
export function isReconcilable(replica: ShardReplica): replica is ReconcilableShard {
  const candidate = replica as Partial<ReconcilableShard>;
  return typeof candidate.storedCommits === "function" &&
    typeof candidate.dropCommit === "function";
}

/** The metadata's state of each asked commit, by `commitKey`; absent = no such commit. */
export type CommitStates = ReadonlyMap<string, CommitState>;

/** Reads the states of `commits` from the metadata (linearizable, after the call begins). */
export type CommitStateReader = (commits: readonly ShardCommit[]) => Promise<CommitStates>;

/** The map key of a commit in `CommitStates`. */
export function commitKey(commit: ShardCommit): string {
  return `${commit.repo}/${commit.id}`;
}

/** Why a stored commit is dropped, or kept while the metadata does not know it. */
export type ReconcileVerdict = "keep" | "drop-failed" | "drop-unknown" | "keep-young";

/** What a reconcile decided for each stored commit. */
export interface ReconcilePlan {
  readonly drop: readonly StoredCommit[];
  /** Commits the metadata does not know whose files changed within the grace period. */
  readonly young: readonly StoredCommit[];
}

/**
 * The verdict on one stored commit given its metadata state (undefined = absent), the time the
 * listing began and the grace period. Pure.
 */
export function verdictOf(stored: StoredCommit, state: CommitState | undefined,
  listedAtMs: number, graceMs: number): ReconcileVerdict {
  if (state === "failed") return "drop-failed";
  if (state !== undefined) return "keep";
  return listedAtMs - stored.modifiedMs >= graceMs ? "drop-unknown" : "keep-young";
}

/** The plan for every stored commit (see `verdictOf`). Pure. */
export function planReconcile(stored: readonly StoredCommit[], states: CommitStates,
  listedAtMs: number, graceMs: number): ReconcilePlan {
  const drop: StoredCommit[] = [];
  const young: StoredCommit[] = [];
  for (const commit of stored) {
    const verdict = verdictOf(commit, states.get(commitKey(commit)), listedAtMs, graceMs);
    if (verdict === "drop-failed" || verdict === "drop-unknown") drop.push(commit);
    else if (verdict === "keep-young") young.push(commit);
  }
  return { drop, young };
}

/** What reconciling one replica did. */
export interface ReconcileResult {
  readonly commitsDropped: number;
  readonly commitsYoung: number;
}

/**
 * Reconciles `shard` with the metadata: lists its commits, then reads their states, then drops
 * what the plan says (in that order: see the module comment). `wallMs` reads the wall clock
 * (file times are wall-clock times).
 */
export async function reconcileShard(shard: ReconcilableShard, readStates: CommitStateReader,
  wallMs: () => number, graceMs: number): Promise<ReconcileResult> {
  const listedAtMs = wallMs();
  const stored = await shard.storedCommits();
  if (stored.length === 0) return { commitsDropped: 0, commitsYoung: 0 };
  const states = await readStates(stored);
  const plan = planReconcile(stored, states, listedAtMs, graceMs);
  for (const commit of plan.drop) {
    await shard.dropCommit({ repo: commit.repo, id: commit.id });
  }
  return { commitsDropped: plan.drop.length, commitsYoung: plan.young.length };
}
