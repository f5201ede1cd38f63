/**
 * The pfs commits the pps master opens, finishes and fails: a job's output commit on
 * `<pipeline>@master`, its logs commit on `<pipeline>@logs`, and the staging branches it
 * deletes when the job ends. Commits are named "repo@id" as the job records name them.
 *
 * A branch holds one open commit at a time, and jobs of a pipeline run one at a time, so an
 * open commit found on the output or logs branch when a job opens its own is a stray of an
 * interrupted master (it started the commit and lost its term before recording it): it is
 * deleted (or, when already finishing, waited for) before the new one starts.
 */
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import {
  type BranchInfoMessage, type CommitInfoMessage, type PfsClient, commitRef,
} from "../../pfs/client/index.js";
import { type Logger, PfsError } from "../../common/index.js";
import { stagingBranch } from "../task-records.js";
import { parseCommitName } from "./job-plan.js";
import { ppsMasterFinishingWaitMs } from "./limits.js";

/** Whether `error` is a PfsError with one of `codes`. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof PfsError && codes.includes(error.code);
}

/** The output branch of every pipeline. */
export const outputBranch = "master";

/** Deletes the open commit of `repo@branch`, if any (a finishing one is waited for). */
async function clearOpen(pfs: PfsClient, repo: string, branch: string): Promise<void> {
  let open: string;
  try {
    open = (await pfs.inspectBranch(repo, branch)).open;
  } catch (error: unknown) {
    if (isCode(error, "NOT_FOUND")) return;
    throw error;
  }
  if (open === "") return;
  try {
    await pfs.deleteCommit(commitRef(repo, open));
  } catch (error: unknown) {
    if (isCode(error, "NOT_FOUND")) return;
    if (!isCode(error, "FAILED_PRECONDITION")) throw error;
    await pfs.waitCommit(commitRef(repo, open), ppsMasterFinishingWaitMs);
  }
}

/**
 * Opens a commit on `repo@branch` with `provenance` ("repo@id" of the finished commits it is
 * computed from; the repo is created when missing), after clearing a stray open commit there;
 * resolves with "repo@id".
 */
export async function openCommit(pfs: PfsClient, repo: string, branch: string,
  provenance: readonly string[] = []): Promise<string> {
  await clearOpen(pfs, repo, branch);
  let started: CommitInfoMessage;
  try {
    started = await pfs.startCommit(repo, branch, "", "", provenance);
  } catch (error: unknown) {
    if (!isCode(error, "NOT_FOUND")) throw error;
    await pfs.createRepo(repo).catch((created: unknown) => {
      if (!isCode(created, "ALREADY_EXISTS")) throw created;
    });
    started = await pfs.startCommit(repo, branch, "", "", provenance);
  }
  return `${repo}@${started.id}`;
}

/** The commit's state as pfs reports it ("OPEN", "FINISHED", "FAILED", ...). */
export async function commitInfo(pfs: PfsClient, commit: string): Promise<CommitInfoMessage> {
  const { repo, id } = parseCommitName(commit);
  return pfs.inspectCommit(commitRef(repo, id));
}

/** Finishes `commit`; with `error`, fails it. */
export async function finishCommit(pfs: PfsClient, commit: string, error = ""):
  Promise<CommitInfoMessage> {
  const { repo, id } = parseCommitName(commit);
  return pfs.finishCommit(commitRef(repo, id), error);
}

/**
 * Fails `commit` with `error` when it is still open; a commit or repo already gone, or
 * already final, is left as it is (a killed job's output commit, its repo deleted).
 */
export async function failIfOpen(pfs: PfsClient, commit: string, error: string): Promise<void> {
  if (commit === "") return;
  try {
    const info = await commitInfo(pfs, commit);
    if (info.state !== "OPEN") return;
    await finishCommit(pfs, commit, error);
  } catch (failure: unknown) {
    if (!isCode(failure, "NOT_FOUND", "FAILED_PRECONDITION")) throw failure;
  }
}

/** Deletes an open commit; one already gone or final is left. */
export async function deleteIfOpen(pfs: PfsClient, commit: string): Promise<void> {
  const { repo, id } = parseCommitName(commit);
  await pfs.deleteCommit(commitRef(repo, id)).catch((error: unknown) => {
    if (!isCode(error, "NOT_FOUND", "FAILED_PRECONDITION")) throw error;
  });
}

/** Deletes `branch` of `repo`, its open commit first; one already gone is left. */
async function deleteBranchWithOpen(pfs: PfsClient, repo: string, branch: BranchInfoMessage,
  logger: Logger): Promise<void> {
  if (branch.open !== "") await deleteIfOpen(pfs, `${repo}@${branch.open}`);
  await pfs.deleteBranch(repo, branch.name).catch((error: unknown) => {
    if (!isCode(error, "NOT_FOUND")) throw error;
    logger.debug("staging branch already gone", { repo, branch: branch.name });
  });
}

/** The branches of `repo`; none when the repo is gone. */
async function branchesOf(pfs: PfsClient, repo: string): Promise<BranchInfoMessage[]> {
  try {
    return await pfs.listBranch(repo);
  } catch (error: unknown) {
    if (isCode(error, "NOT_FOUND")) return [];
    throw error;
  }
}

/** Deletes every staging branch of `jobId` in `repo` (its open commits first). */
export async function deleteStagingBranches(pfs: PfsClient, repo: string, jobId: string,
  logger: Logger): Promise<void> {
  const prefix = stagingBranch(jobId, "");
  for (const branch of await branchesOf(pfs, repo)) {
    if (branch.name.startsWith(prefix)) await deleteBranchWithOpen(pfs, repo, branch, logger);
  }
}

/** The job id a staging branch name (`stagingBranch(job, node)`) holds, or undefined. */
export function stagingJobOf(branch: string): string | undefined {
  const prefix = stagingBranch("", "").slice(0, -1);
  const match = /^([0-9a-f]{32})-/.exec(branch.startsWith(prefix) ? branch.slice(prefix.length)
    : "");
  return match?.[1];
}

/** Deletes every staging branch of `repo` whose job is not `live`. */
export async function deleteDeadStagingBranches(pfs: PfsClient, repo: string,
  live: (jobId: string) => boolean, logger: Logger): Promise<void> {
  for (const branch of await branchesOf(pfs, repo)) {
    const jobId = stagingJobOf(branch.name);
    if (jobId !== undefined && !live(jobId)) {
      await deleteBranchWithOpen(pfs, repo, branch, logger);
    }
  }
}
