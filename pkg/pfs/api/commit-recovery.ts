/**
 * What a pfsd does at start-up about the commits a crash (kill -9) interrupted, so that no
 * commit stays half-done and blocks its branch (issue 5; etcd's rule: only what was
 * acknowledged must survive, and the state is the old one or the new one, never a mix):
 *
 * - **Auto-commits.** A put, copy or delete into a branch without an open commit runs in a
 *   commit the API starts for it (CommitResolver.withWrite) and finishes before replying. Its
 *   description names the node and the run (one start of the process) that drives it
 *   (`autoCommitDescription`), and its branch record marks it (`openAuto`). One still *open*,
 *   so marked, that names this node but an earlier run was cut off by a crash before its
 *   reply: nothing of it was acknowledged, so it is deleted with its staged data, as a failed
 *   write would have been.
 * - **Finishing commits.** A commit in `finishing` was complete when its finish began (the
 *   finish is the user's acknowledged intent, or an auto-commit whose write succeeded). Every
 *   shard's seal is idempotent, so the node resumes it: seal every shard, then mark it finished
 *   and move the branch head. If a shard cannot be reached now the commit stays finishing and
 *   a retried FinishCommit (which accepts a finishing commit) completes it later. Any node may
 *   resume any finishing commit: two finishes of one commit agree (the metadata transaction
 *   lets one of them mark it finished; the other finds it finished).
 * - **User commits** left open are untouched: their acknowledged writes are in the shards'
 *   staging logs, and the user finishes or deletes them.
 *
 * An auto-commit whose node never starts again (faulty past --dead-time, or retired) is settled
 * by the cluster's orphan sweeper instead (orphan-sweep.ts), with the same steps
 * (`discardInterrupted`, CommitResolver.resumeFinish). Recovery is best effort: a failure is
 * logged per commit and never stops the node.
 */
import { randomBytes } from "node:crypto";
import { type Logger, PfsError } from "../../common/index.js";
import type { MetaStore } from "../meta/index.js";
import type { CommitInfo } from "../model.js";
import type { CommitResolver } from "./commit-resolver.js";

/** Who drives an auto-commit: a node, in one run of its process. */
export interface AutoCommitOwner {
  /** The node's name (pfsd's --name). */
  readonly node: string;
  /** Random hex naming this start of the process. */
  readonly run: string;
}

/** A fresh owner for `node`: a new run id. */
export function newAutoCommitOwner(node: string): AutoCommitOwner {
  return { node, run: randomBytes(8).toString("hex") };
}

const descriptionPattern = /^auto-commit of a write through pfsd ([^ ]+) \(run ([0-9a-f]+)\)$/;

/** The description of an auto-commit `owner` starts. */
export function autoCommitDescription(owner: AutoCommitOwner): string {
  return `auto-commit of a write through pfsd ${owner.node} (run ${owner.run})`;
}

/** The owner an auto-commit's description names, or undefined for any other commit. */
export function autoCommitOwnerOf(description: string): AutoCommitOwner | undefined {
  const match = descriptionPattern.exec(description);
  if (match === null) return undefined;
  const [, node, run] = match;
  return node === undefined || run === undefined ? undefined : { node, run };
}

/** What `recoverCommits` did, for logs and tests. */
export interface CommitRecovery {
  /** Finishing commits it finished ("repo@id"). */
  readonly finished: string[];
  /** Interrupted auto-commits it deleted. */
  readonly deleted: string[];
  /** Commits it could not settle now (logged). */
  readonly failed: string[];
}

/** A commit a branch names as its open one (state open or finishing), and how it was opened. */
export interface UnsettledCommit {
  readonly commit: CommitInfo;
  /**
   * Its branch record marks it as an auto-commit (`openAuto`, which only the API's own writes
   * set), so a user's commit whose description happens to read like an auto-commit's is never
   * taken for one.
   */
  readonly auto: boolean;
}

/**
 * Every commit a branch of any repo names as open, read branch by branch (so a commit may
 * have moved on by the time it is used: every step taken on it compares its state). A commit
 * that cannot be read is handed to `unreadable` ("repo@id") and left out.
 */
export async function readUnsettledCommits(meta: MetaStore,
  unreadable: (name: string, error: unknown) => void): Promise<UnsettledCommit[]> {
  const unsettled: UnsettledCommit[] = [];
  for (const repo of await meta.listRepos()) {
    for (const branch of await meta.listBranches(repo.name)) {
      if (branch.open === "") continue;
      try {
        const commit = await meta.inspectCommit(repo.name, branch.open);
        unsettled.push({ commit, auto: branch.openAuto === true });
      } catch (error: unknown) {
        unreadable(`${repo.name}@${branch.open}`, error);
      }
    }
  }
  return unsettled;
}

/**
 * Deletes an interrupted open auto-commit with its staged data, as its failed write would
 * have. False when it was settled meanwhile (finished, failed or deleted by someone else, a
 * compare in the metadata transaction says so): nothing was done.
 */
export async function discardInterrupted(commits: CommitResolver, commit: CommitInfo):
  Promise<boolean> {
  try {
    await commits.discard(commit);
  } catch (error: unknown) {
    if (error instanceof PfsError && ["FAILED_PRECONDITION", "NOT_FOUND"].includes(error.code)) {
      return false;
    }
    throw error;
  }
  return true;
}

/**
 * Settles every commit a crash interrupted (the module comment): resumes finishing commits and
 * deletes this node's auto-commits of earlier runs. Never throws for one commit's failure.
 */
export async function recoverCommits(meta: MetaStore, commits: CommitResolver,
  owner: AutoCommitOwner, logger: Logger): Promise<CommitRecovery> {
  const recovery: CommitRecovery = { finished: [], deleted: [], failed: [] };
  const failed = (name: string, error: unknown): void => {
    recovery.failed.push(name);
    logger.warn("cannot settle a commit a crash interrupted; it stays as it is",
      { commit: name, error });
  };
  for (const { commit, auto } of await readUnsettledCommits(meta, failed)) {
    const name = `${commit.repo}@${commit.id}`;
    try {
      if (await settle(commit, auto, commits, owner)) {
        (commit.state === "finishing" ? recovery.finished : recovery.deleted).push(name);
      }
    } catch (error: unknown) {
      failed(name, error);
    }
  }
  if (recovery.finished.length + recovery.deleted.length + recovery.failed.length > 0) {
    logger.info("settled commits a crash interrupted", { ...recovery });
  }
  return recovery;
}

/** Settles one commit; false when it needs nothing. `auto`: see UnsettledCommit. */
async function settle(commit: CommitInfo, auto: boolean, commits: CommitResolver,
  owner: AutoCommitOwner): Promise<boolean> {
  if (commit.state === "finishing") {
    await commits.resumeFinish(commit);
    return true;
  }
  const driver = autoCommitOwnerOf(commit.description);
  if (!auto || commit.state !== "open" || driver?.node !== owner.node ||
    driver.run === owner.run) {
    return false;
  }
  return discardInterrupted(commits, commit);
}
