/**
 * How a request's commit reference becomes the commit it reads or writes, and the lifecycle
 * of commits the API layer drives (DESIGN.md §3):
 *
 * - **Reads** take a finished commit. A bare branch (no `^N`) reads its head, the last
 *   finished commit, even while another commit is open on it; a commit id or an ancestry
 *   reference must name a finished commit (FAILED_PRECONDITION otherwise, naming its state).
 * - **Writes** take an open commit: a commit id must be open; a branch writes to the commit a
 *   user opened on it, or, when it has none, to an auto-commit of its own that the API finishes
 *   once the write succeeded and deletes (with its staged data, and the branch when the write
 *   created it) when it failed, so a refused write leaves nothing behind. A write never joins
 *   another write's auto-commit: it waits for the branch (bounded), so concurrent writes into
 *   one branch all succeed, each in its own commit.
 * - **Finish** = setFinishing → every shard's master seals its part and replicates it (W
 *   acknowledgements) → finished with the summed size, in a transaction that checks every
 *   sealing master still holds its term (its fence); a seal failure fails the commit with the
 *   reason (the branch head does not move); a lost term seals again on the new masters (which
 *   refuse when the commit's staged data died with the old one: the commit then fails). A commit
 *   already finishing (a finish a crash cut off) resumes from the seals, which are idempotent;
 *   a finish that finds the commit finished by a concurrent one returns it.
 * - **Auto-commits** carry their owner (node and run) in their description, so a restarted
 *   node can delete the ones a crash interrupted (commit-recovery.ts).
 */
import { setTimeout as delay } from "node:timers/promises";
import { LimitError, type Logger, PfsError, revision } from "../../common/index.js";
import {
  type BranchRecord, type DeleteCommitOptions, type MasterFence, type MetaStore, isCommitId,
  parseCommitRef,
} from "../meta/index.js";
import { type CommitInfo, defaultBranch } from "../model.js";
import type { CommitRefMessage } from "../../proto/index.js";
import type { ShardCommit } from "../shard/shard-api.js";
import {
  autoCommitPauseMsMax, autoCommitPauseMsMin, autoCommitWaitMsMax, finishAttemptsMax,
} from "./limits.js";
import type { ShardRouting } from "./shard-router.js";
import { type AutoCommitOwner, autoCommitDescription } from "./commit-recovery.js";

/** A commit to write to, and whether the API started it for this one write. */
export interface WriteTarget {
  readonly commit: CommitInfo;
  readonly own: boolean;
  /** The write's own commit created its branch (a failed write deletes the branch again). */
  readonly newBranch: boolean;
}

/** A commit sealed on every shard: its size and the fences of the masters that sealed it. */
interface Sealed {
  readonly sizeBytes: number;
  readonly fences: readonly MasterFence[];
}

function isUnavailable(error: unknown): boolean {
  return error instanceof PfsError && error.code === "UNAVAILABLE";
}

export function shardCommitOf(commit: CommitInfo): ShardCommit {
  return { repo: commit.repo, id: commit.id };
}

export class CommitResolver {
  readonly #meta: MetaStore;
  readonly #router: ShardRouting;
  readonly #logger: Logger;
  /** The description of the auto-commits started here ("" names no owner). */
  readonly #autoDescription: string;

  constructor(meta: MetaStore, router: ShardRouting, logger: Logger, owner?: AutoCommitOwner) {
    this.#meta = meta;
    this.#router = router;
    this.#logger = logger;
    this.#autoDescription = owner === undefined ? "" : autoCommitDescription(owner);
  }

  /** The finished commit `ref` names. */
  async readable(ref: CommitRefMessage): Promise<CommitInfo> {
    const text = ref.commit === "" ? defaultBranch : ref.commit;
    const parsed = parseCommitRef(text);
    if (!parsed.ok) throw new PfsError("INVALID_ARGUMENT", parsed.error);
    let target = text;
    if (!isCommitId(parsed.value.base) && parsed.value.steps === 0) {
      const branch = await this.#meta.inspectBranch(ref.repo, parsed.value.base);
      if (branch.head === "") {
        throw new PfsError("NOT_FOUND",
          `branch ${ref.repo}@${branch.name} has no finished commit to read`);
      }
      target = branch.head;
    }
    const commit = await this.#meta.inspectCommit(ref.repo, target);
    if (commit.state !== "finished") {
      throw new PfsError("FAILED_PRECONDITION",
        `commit ${commit.repo}@${commit.id} is ${commit.state}; only finished commits can be ` +
        "read", { repo: commit.repo, commit: commit.id });
    }
    return commit;
  }

  /** The open commit a write to `ref` goes to, starting one when a branch has none. */
  async writable(ref: CommitRefMessage): Promise<WriteTarget> {
    const text = ref.commit === "" ? defaultBranch : ref.commit;
    const parsed = parseCommitRef(text);
    if (!parsed.ok) throw new PfsError("INVALID_ARGUMENT", parsed.error);
    if (parsed.value.steps !== 0) {
      throw new PfsError("INVALID_ARGUMENT",
        `cannot write to ${ref.repo}@${text}: writes go to a branch or an open commit`);
    }
    if (isCommitId(parsed.value.base)) {
      const commit = await this.#meta.inspectCommit(ref.repo, parsed.value.base);
      if (commit.state !== "open") {
        throw new PfsError("FAILED_PRECONDITION",
          `commit ${commit.repo}@${commit.id} is ${commit.state}; writes go to an open commit`,
          { repo: commit.repo, commit: commit.id });
      }
      return { commit, own: false, newBranch: false };
    }
    return this.#branchWrite(ref.repo, parsed.value.base);
  }

  /**
   * A write into a branch: the commit a user opened on it, else an auto-commit of its own.
   * While another write's auto-commit holds the branch, waits for the branch (polling with a
   * growing pause, at most autoCommitWaitMsMax in all, then LIMIT_EXCEEDED), so concurrent
   * writes into one branch each get their own commit, one after another.
   */
  async #branchWrite(repo: string, branch: string): Promise<WriteTarget> {
    let waitedMs = 0;
    let pauseMs = autoCommitPauseMsMin;
    for (;;) {
      const record = await this.#branchOf(repo, branch);
      if (record !== undefined && record.open !== "" && record.openAuto !== true) {
        return { commit: await this.#meta.inspectCommit(repo, record.open), own: false,
          newBranch: false };
      }
      if (record === undefined || record.open === "") {
        try {
          const commit = await this.#meta.startCommit(repo, branch,
            { auto: true, description: this.#autoDescription });
          return { commit, own: true, newBranch: record === undefined };
        } catch (error: unknown) {
          // Another write started a commit on the branch first: look again.
          if (!(error instanceof PfsError && error.code === "FAILED_PRECONDITION")) throw error;
        }
      }
      if (waitedMs >= autoCommitWaitMsMax) {
        throw new LimitError(`milliseconds waiting for branch ${repo}@${branch}, held by other ` +
          "writes' commits (autoCommitWaitMsMax)", autoCommitWaitMsMax, waitedMs);
      }
      await delay(pauseMs, undefined, { ref: false });
      waitedMs += pauseMs;
      pauseMs = Math.min(pauseMs * 2, autoCommitPauseMsMax);
    }
  }

  /** The record of `repo@branch`, or undefined when the branch does not exist (the repo does). */
  async #branchOf(repo: string, branch: string): Promise<BranchRecord | undefined> {
    try {
      return await this.#meta.inspectBranch(repo, branch);
    } catch (error: unknown) {
      if (error instanceof PfsError && error.code === "NOT_FOUND") {
        await this.#meta.inspectRepo(repo);
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Runs `write` against the commit `ref` names; a commit started for it is finished after
   * it, or deleted with its staged data when it throws.
   */
  async withWrite<T>(ref: CommitRefMessage, write: (commit: CommitInfo) => Promise<T>):
    Promise<{ result: T; commit: CommitInfo }> {
    const target = await this.writable(ref);
    let result: T;
    try {
      result = await write(target.commit);
    } catch (error: unknown) {
      // The write's own error is what the caller sees; a failed clean-up is logged.
      if (target.own) {
        const options = { dropEmptyBranch: target.newBranch };
        await this.discard(target.commit, options).catch((cleanup: unknown) => {
          this.#logger.error("cannot delete a commit after its write failed",
            { repo: target.commit.repo, commit: target.commit.id, error: cleanup });
        });
      }
      throw error;
    }
    const commit = target.own ? await this.finish(target.commit) : target.commit;
    return { result, commit };
  }

  /** Deletes an open commit and its staged data on every shard (best effort on the data). */
  async discard(commit: CommitInfo, options: DeleteCommitOptions = {}): Promise<CommitInfo> {
    const deleted = await this.#meta.deleteCommit(commit.repo, commit.id, options);
    await this.#abortEverywhere(commit);
    return deleted;
  }

  async #abortEverywhere(commit: CommitInfo): Promise<void> {
    const replicas = await this.#router.all();
    await Promise.all(replicas.map((replica) => replica.abortCommit(shardCommitOf(commit))));
  }

  /**
   * Finishes an open commit, or resumes a finishing one (see the module comment); returns it
   * finished.
   */
  async finish(commit: CommitInfo): Promise<CommitInfo> {
    if (commit.state !== "finishing") await this.#meta.setFinishing(commit.repo, commit.id);
    for (let attempt = 1; ; attempt += 1) {
      let sealed: Sealed;
      try {
        sealed = await this.#sealEverywhere(commit);
      } catch (error: unknown) {
        const reason = error instanceof Error ? error.message : String(error);
        await this.#meta.failCommit(commit.repo, commit.id, `finishing failed: ${reason}`);
        await this.#abortEverywhere(commit).catch((cleanup: unknown) => {
          this.#logger.warn("cannot drop a failed commit's staged data",
            { repo: commit.repo, commit: commit.id, error: cleanup });
        });
        throw error;
      }
      try {
        return await this.#markFinished(commit, sealed);
      } catch (error: unknown) {
        if (!isUnavailable(error) || attempt >= finishAttemptsMax) throw error;
        this.#logger.info("a sealing master lost its term; sealing again",
          { repo: commit.repo, commit: commit.id, error });
      }
    }
  }

  /** Seals `commit` on every shard (idempotent): its total size and the masters' fences. */
  async #sealEverywhere(commit: CommitInfo): Promise<Sealed> {
    const replicas = await this.#router.all();
    const results = await Promise.all(replicas.map((replica) =>
      replica.finishCommit(shardCommitOf(commit), commit.parent)));
    const fences: MasterFence[] = [];
    results.forEach((result, shard) => {
      if (result.fence !== undefined) {
        fences.push({ shard, key: result.fence.key, revision: revision(result.fence.revision) });
      }
    });
    return { sizeBytes: results.reduce((sum, result) => sum + result.sizeBytes, 0), fences };
  }

  /**
   * Marks the sealed `commit` finished while every sealing master holds its term; one that a
   * concurrent finish marked is returned.
   */
  async #markFinished(commit: CommitInfo, sealed: Sealed): Promise<CommitInfo> {
    try {
      return await this.#meta.finishCommit(commit.repo, commit.id, sealed.sizeBytes,
        sealed.fences);
    } catch (error: unknown) {
      if (!(error instanceof PfsError && error.code === "FAILED_PRECONDITION")) throw error;
      const now = await this.#meta.inspectCommit(commit.repo, commit.id);
      if (now.state === "finished") return now;
      throw error;
    }
  }

  /**
   * Resumes a finishing commit a crash interrupted (commit-recovery.ts): seals every shard and
   * marks it finished. Unlike `finish`, a failure leaves it finishing (a shard's node may be
   * back later) and is thrown.
   */
  async resumeFinish(commit: CommitInfo): Promise<CommitInfo> {
    if (commit.state !== "finishing") {
      throw new PfsError("FAILED_PRECONDITION",
        `commit ${commit.repo}@${commit.id} is ${commit.state}, not finishing`);
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#markFinished(commit, await this.#sealEverywhere(commit));
      } catch (error: unknown) {
        if (!isUnavailable(error) || attempt >= finishAttemptsMax) throw error;
      }
    }
  }

  /** Fails an open commit with `reason` and drops its staged data. */
  async fail(commit: CommitInfo, reason: string): Promise<CommitInfo> {
    const failed = await this.#meta.failCommit(commit.repo, commit.id, reason);
    await this.#abortEverywhere(commit);
    return failed;
  }
}
