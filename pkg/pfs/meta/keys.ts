/**
 * Where the file system's metadata lives in the coordination store, and which names may be
 * part of a key. Every key sits below one root (`/pfs` unless a test picks its own):
 *
 * | key                               | value (JSON)                         |
 * | --------------------------------- | ------------------------------------ |
 * | `<root>/config`                   | ClusterConfig: shard count S, fixed  |
 * | `<root>/repos/<repo>`             | RepoInfo                             |
 * | `<root>/branches/<repo>/<branch>` | BranchRecord (BranchInfo + `open`)   |
 * | `<root>/commits/<repo>/<id>`      | CommitInfo                           |
 * | `<root>/staged-on/<repo>/<id>/<s>` | the identity of the replica whose    |
 * |                                   | staging log holds the open commit's  |
 * |                                   | data on shard s (replication)        |
 *
 * Invariants: a name never contains "/" (so a prefix `<root>/branches/<repo>/` holds exactly
 * that repo's branches); a branch name is never 32 lowercase hex characters (so `repo@x` names a
 * commit id or a branch, never both); names are ASCII, so key order is byte order.
 */
import { PfsError } from "../../common/index.js";
import type { CommitId } from "../model.js";
import { metaBranchNameCharsMax, metaRepoNameCharsMax } from "./limits.js";

/** The root used when none is given: DESIGN.md §3 puts metadata under `/pfs/…`. */
export const metaRootDefault = "/pfs";

const repoNamePattern = /^[A-Za-z0-9_-]+$/;
const branchNamePattern = /^[A-Za-z0-9_.-]+$/;
const commitIdPattern = /^[0-9a-f]{32}$/;

/** True when `text` has the shape of a commit id (32 lowercase hex characters). */
export function isCommitId(text: string): boolean {
  return commitIdPattern.test(text);
}

/** Throws INVALID_ARGUMENT unless `name` is a valid repo name. */
export function checkRepoName(name: string): void {
  if (name.length === 0 || name.length > metaRepoNameCharsMax || !repoNamePattern.test(name)) {
    throw new PfsError("INVALID_ARGUMENT",
      `invalid repo name ${JSON.stringify(name)}: use 1 to ${metaRepoNameCharsMax} of ` +
      "A-Z a-z 0-9 _ -", { repo: name });
  }
}

/** Throws INVALID_ARGUMENT unless `name` is a valid branch name. */
export function checkBranchName(name: string): void {
  const shaped = name.length > 0 && name.length <= metaBranchNameCharsMax &&
    branchNamePattern.test(name) && name !== "." && name !== "..";
  if (!shaped) {
    throw new PfsError("INVALID_ARGUMENT",
      `invalid branch name ${JSON.stringify(name)}: use 1 to ${metaBranchNameCharsMax} of ` +
      "A-Z a-z 0-9 _ - .", { branch: name });
  }
  if (isCommitId(name)) {
    throw new PfsError("INVALID_ARGUMENT",
      `invalid branch name ${name}: it looks like a commit id`, { branch: name });
  }
}

/** Throws INVALID_ARGUMENT unless `id` is a commit id. */
export function checkCommitId(id: string): asserts id is CommitId {
  if (!isCommitId(id)) {
    throw new PfsError("INVALID_ARGUMENT",
      `invalid commit id ${JSON.stringify(id)}: want 32 lowercase hex characters`, { commit: id });
  }
}

/** The keys of one metadata root. Names must be checked before they are put in a key. */
export class MetaKeys {
  constructor(readonly root: string) {
    if (!root.startsWith("/") || root.endsWith("/")) {
      throw new PfsError("INVALID_ARGUMENT",
        `metadata root ${JSON.stringify(root)} must start with "/" and not end with it`);
    }
  }

  config(): string {
    return `${this.root}/config`;
  }

  repo(repo: string): string {
    return `${this.root}/repos/${repo}`;
  }

  reposPrefix(): string {
    return `${this.root}/repos/`;
  }

  branch(repo: string, branch: string): string {
    return `${this.root}/branches/${repo}/${branch}`;
  }

  branchesPrefix(repo: string): string {
    return `${this.root}/branches/${repo}/`;
  }

  commit(repo: string, id: CommitId): string {
    return `${this.root}/commits/${repo}/${id}`;
  }

  commitsPrefix(repo: string): string {
    return `${this.root}/commits/${repo}/`;
  }

  /** Which replica holds `repo@id`'s staged data on `shard` (pkg/pfs/replication). */
  stagedOn(repo: string, id: CommitId, shard: number): string {
    return `${this.root}/staged-on/${repo}/${id}/${shard}`;
  }

  stagedOnCommitPrefix(repo: string, id: CommitId): string {
    return `${this.root}/staged-on/${repo}/${id}/`;
  }

  stagedOnRepoPrefix(repo: string): string {
    return `${this.root}/staged-on/${repo}/`;
  }
}
