/**
 * `MetaStore`: the file system's metadata (DESIGN.md §3) — cluster settings, repos, branches
 * and commits — kept in the coordination store under one root (keys.ts has the layout) and
 * changed only by etcd transactions that compare the revisions of everything they read.
 *
 * Semantics (each one a decision; pachctl's behaviour where it has one):
 * - **Cluster config.** `ensureClusterConfig(S)` writes the shard count once; a later call
 *   with another S is FAILED_PRECONDITION naming both values. S never changes.
 * - **Repos.** Create is ALREADY_EXISTS when the name is taken. Delete removes the repo, all its
 *   branches and all its commits in one transaction (as Pachyderm does, open commits included)
 *   and returns what it removed, so the data layer can collect the repo's chunks.
 * - **One open commit per branch.** `startCommit` on a branch that has an open (or finishing)
 *   commit is FAILED_PRECONDITION naming that commit; of concurrent starters exactly one wins,
 *   because each one's transaction compares the branch's revision. The branch is created when
 *   missing. The parent is the branch head unless another finished commit of the repo is named.
 * - **Provenance.** A commit may name the finished commits it was computed from ("repo@id",
 *   provenance.ts); startCommit reads them in the snapshot it decides on and compares them in
 *   its transaction, so a commit never names a commit that is missing or not finished when it
 *   starts. Provenance is fixed at start and kept through finish and failure.
 * - **Auto-commits.** A commit started with `auto` (the API's own commit for one write into a
 *   branch without an open commit) is marked on the branch record (`openAuto`) until it
 *   finishes, fails or is deleted, so the API can tell it from a user's open commit: writes
 *   join a user's open commit but wait for an auto-commit. Deleting a failed write's commit
 *   may drop the branch it created (`dropEmptyBranch`), so the failed write changes nothing.
 * - **The head moves on finish.** A branch record keeps `head` (its last finished commit) and
 *   `open` (its open commit, or ""). `finishCommit` marks the commit finished, sets
 *   `head` to it and clears `open` in one transaction that holds only if the branch's `open` is
 *   still that commit. Nothing else moves `head` while a commit is open (createBranch and
 *   deleteBranch refuse), so the head a commit finishes onto is the head it started from.
 * - **Addressing.** `repo@branch` resolves to the branch's open commit when it has one (pachctl
 *   shows the open commit as the head) and to its head otherwise; `^N`/`~N` walk parents
 *   (commit-ref.ts). Use `inspectBranch(...).head` for the last finished commit.
 * - **Commit states.** open → finishing (`setFinishing`) → finished (`finishCommit`, also
 *   straight from open); open or finishing → failed (`failCommit`, head unchanged). Only an open
 *   commit can be deleted (`deleteCommit`); finished and failed commits are final.
 * - **Branches.** `createBranch` creates or re-points a branch at a finished commit of the repo
 *   (or at no commit, with ""); it refuses while the branch has an open commit, as does
 *   `deleteBranch`. Deleting a branch keeps its commits (as Pachyderm).
 *
 * A write that loses its compare-and-swap re-reads and decides again, at most
 * metaCasAttemptsMax times (then LIMIT_EXCEEDED). Bad input is INVALID_ARGUMENT and changes
 * nothing.
 */
import { randomBytes } from "node:crypto";
import type { Etcd3, ICompare, IRequestOp } from "etcd3";
import {
  type Clock, LimitError, PfsError, type Revision, SystemClock, assert, limits,
} from "../../common/index.js";
import type { CommitId, CommitInfo, RepoInfo } from "../model.js";
import { type CommitRef, parseCommitRef } from "./commit-ref.js";
import { subscribeFinishedCommits, waitFinalCommit } from "./commit-watch.js";
import {
  MetaKeys, checkBranchName, checkCommitId, checkRepoName, isCommitId, metaRootDefault,
} from "./keys.js";
import {
  metaCasAttemptsMax, metaDescriptionBytesMax, metaFailureReasonBytesMax, metaListCommitsDefault,
  metaListCommitsMax,
} from "./limits.js";
import { type ProvenanceCommit, formatProvenance, parseProvenance } from "./provenance.js";
import {
  type KeyState, MetaKv, absentKey, deleteOp, deletePrefixOp, putOp, unchanged,
} from "./meta-kv.js";
import {
  type BranchRecord, type ClusterConfig, decodeBranchRecord, decodeClusterConfig,
  decodeCommitInfo, decodeRepoInfo, encodeRecord,
} from "./records.js";

/** What `MetaStore` is built from; only the client is required. */
export interface MetaStoreOptions {
  /** Key root (default `/pfs`); tests give each store its own. */
  readonly root?: string;
  /** Source of commit and repo timestamps (wall clock). */
  readonly clock?: Clock;
  /** Makes commit ids (default 16 random bytes from node:crypto, in hex). */
  readonly newCommitId?: () => CommitId;
  /** Told of every commit this store started or finished (the node's metrics). */
  readonly onCommit?: (event: "started" | "finished") => void;
}

export interface CreateRepoOptions {
  readonly description?: string;
}

export interface StartCommitOptions {
  /** A finished commit of the repo to build on (default: the branch head). */
  readonly parent?: CommitId;
  readonly description?: string;
  /**
   * An auto-commit (the API's own commit for one write): the branch record says so
   * (`openAuto`), so other writes wait for it rather than join it.
   */
  readonly auto?: boolean;
  /**
   * The commits this one is computed from, "repo@id" (provenance.ts): each must name an
   * existing finished commit, checked in the transaction that starts this one. Default none.
   */
  readonly provenance?: readonly string[];
}

/** A checked startCommit request, as each attempt uses it. */
interface StartRequest {
  readonly repo: string;
  readonly branch: string;
  readonly description: string;
  readonly parent: CommitId | undefined;
  readonly auto: boolean;
  readonly provenance: readonly ProvenanceCommit[];
}

export interface DeleteCommitOptions {
  /**
   * Also delete the commit's branch when it has no finished commit (head ""): the branch was
   * created by the write that started this commit, and that write failed.
   */
  readonly dropEmptyBranch?: boolean;
}

export interface SubscribeCommitsOptions {
  /** Skip the existing history: only commits that finish from now on. */
  readonly newOnly?: boolean;
}

/**
 * A shard master's fencing token (pkg/pfs/replication): its election key and that key's create
 * revision. A commit is marked finished only while the masters that sealed it hold their terms.
 */
export interface MasterFence {
  readonly shard: number;
  readonly key: string;
  readonly revision: Revision;
}

/** The compare that holds while `fence`'s election key exists with its token. */
function fenceCompare(fence: MasterFence): ICompare {
  return {
    key: Buffer.from(fence.key), target: "Create", result: "Equal",
    create_revision: fence.revision,
  };
}

export interface ListCommitsOptions {
  /** Most commits to return (default metaListCommitsDefault, at most metaListCommitsMax). */
  readonly limit?: number;
}

/** What `deleteRepo` removed, for the data layer's garbage collection. */
export interface DeletedRepo {
  readonly repo: RepoInfo;
  readonly branches: readonly BranchRecord[];
  readonly commits: readonly CommitInfo[];
}

/** A lost compare-and-swap: the attempt is retried from a fresh read. */
const lostRace = Symbol("lost race");
type Attempt<T> = T | typeof lostRace;

function checkText(what: string, text: string, bytesMax: number): void {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > bytesMax) {
    throw new LimitError(`${what} bytes (metaDescriptionBytesMax)`, bytesMax, bytes);
  }
}

/** Cuts `text` to at most `bytesMax` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, bytesMax: number): string {
  let out = text;
  while (Buffer.byteLength(out, "utf8") > bytesMax) out = out.slice(0, -1);
  return out;
}

/** `branch` with no open commit and `head` as its head (an auto-commit mark goes too). */
function closedBranch(branch: BranchRecord, head: CommitId): BranchRecord {
  return { repo: branch.repo, name: branch.name, head, open: "" };
}

function defaultCommitId(): CommitId {
  return randomBytes(16).toString("hex");
}

export class MetaStore {
  readonly #kv: MetaKv;
  readonly #keys: MetaKeys;
  readonly #clock: Clock;
  readonly #newCommitId: () => CommitId;
  readonly #onCommit: (event: "started" | "finished") => void;

  constructor(client: Etcd3, options: MetaStoreOptions = {}) {
    this.#kv = new MetaKv(client);
    this.#keys = new MetaKeys(options.root ?? metaRootDefault);
    this.#clock = options.clock ?? new SystemClock();
    this.#newCommitId = options.newCommitId ?? defaultCommitId;
    this.#onCommit = options.onCommit ?? (() => undefined);
  }

  /** The key layout this store uses. */
  get keys(): MetaKeys {
    return this.#keys;
  }

  // ---- compare-and-swap plumbing -----------------------------------------------------------

  async #withRetries<T>(attempt: () => Promise<Attempt<T>>): Promise<T> {
    for (let attempts = 1; attempts <= metaCasAttemptsMax; attempts += 1) {
      const outcome = await attempt();
      if (outcome !== lostRace) return outcome;
    }
    throw new LimitError("metaCasAttemptsMax", metaCasAttemptsMax, metaCasAttemptsMax + 1);
  }

  async #commitTxn(states: readonly KeyState[], ops: readonly IRequestOp[]): Promise<boolean> {
    const outcome = await this.#kv.txn(states.map(unchanged), ops);
    return outcome.succeeded;
  }

  // ---- cluster config ----------------------------------------------------------------------

  /**
   * Creates the cluster config with `shards` shards, or checks that the existing one has that
   * many: FAILED_PRECONDITION naming both counts otherwise. Returns the stored config.
   */
  async ensureClusterConfig(shards: number): Promise<ClusterConfig> {
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > limits.pfsShardsMax) {
      throw new PfsError("INVALID_ARGUMENT",
        `shard count ${shards} is not an integer in [1, ${limits.pfsShardsMax}]`);
    }
    const key = this.#keys.config();
    return this.#withRetries(async () => {
      const state = (await this.#kv.read([key])).get(key);
      if (state.value !== undefined) {
        const existing = decodeClusterConfig(key, state.value);
        if (existing.shards !== shards) {
          throw new PfsError("FAILED_PRECONDITION",
            `the cluster was created with ${existing.shards} shards; the shard count is fixed ` +
            `and cannot become ${shards}`, { shards: existing.shards, requested: shards });
        }
        return existing;
      }
      const config: ClusterConfig = { shards, createdMs: this.#clock.wallMs() };
      const written = await this.#commitTxn([state], [putOp(key, encodeRecord(config))]);
      return written ? config : lostRace;
    });
  }

  /** The cluster config, or undefined before `ensureClusterConfig`. */
  async clusterConfig(): Promise<ClusterConfig | undefined> {
    const key = this.#keys.config();
    const state = (await this.#kv.read([key])).get(key);
    return state.value === undefined ? undefined : decodeClusterConfig(key, state.value);
  }

  // ---- repos -------------------------------------------------------------------------------

  /** Creates repo `name`: ALREADY_EXISTS when it exists. */
  async createRepo(name: string, options: CreateRepoOptions = {}): Promise<RepoInfo> {
    checkRepoName(name);
    const description = options.description ?? "";
    checkText("repo description", description, metaDescriptionBytesMax);
    const key = this.#keys.repo(name);
    const repo: RepoInfo = { name, description, createdMs: this.#clock.wallMs() };
    const outcome = await this.#kv.txn(
      [unchanged(absentKey(key))],
      [putOp(key, encodeRecord(repo))]);
    if (!outcome.succeeded) {
      throw new PfsError("ALREADY_EXISTS", `repo ${name} already exists`, { repo: name });
    }
    return repo;
  }

  /** Repo `name`: NOT_FOUND when it does not exist. */
  async inspectRepo(name: string): Promise<RepoInfo> {
    checkRepoName(name);
    const key = this.#keys.repo(name);
    return this.#repoOf((await this.#kv.read([key])).get(key), name);
  }

  #repoOf(state: KeyState, name: string): RepoInfo {
    if (state.value === undefined) {
      throw new PfsError("NOT_FOUND", `repo ${name} not found`, { repo: name });
    }
    return decodeRepoInfo(state.key, state.value);
  }

  /** Every repo, by name. */
  async listRepos(): Promise<RepoInfo[]> {
    const { entries } = await this.#kv.readPrefix(this.#keys.reposPrefix());
    return entries.map((entry) => decodeRepoInfo(entry.key, entry.value));
  }

  /**
   * Deletes repo `name` with all its branches and commits (open ones too), atomically.
   * NOT_FOUND when it does not exist. Returns what was deleted.
   */
  async deleteRepo(name: string): Promise<DeletedRepo> {
    checkRepoName(name);
    const key = this.#keys.repo(name);
    return this.#withRetries(async () => {
      const state = (await this.#kv.read([key])).get(key);
      const repo = this.#repoOf(state, name);
      const outcome = await this.#kv.txn([unchanged(state)], [
        deleteOp(key),
        deletePrefixOp(this.#keys.branchesPrefix(name)),
        deletePrefixOp(this.#keys.commitsPrefix(name)),
        deletePrefixOp(this.#keys.stagedOnRepoPrefix(name)),
      ]);
      if (!outcome.succeeded) return lostRace;
      const deleted = (i: number): { key: string; value: Buffer }[] =>
        (outcome.responses[i]?.response_delete_range.prev_kvs ?? [])
          .map((kv) => ({ key: kv.key.toString("utf8"), value: kv.value }));
      return {
        repo,
        branches: deleted(1).map((kv) => decodeBranchRecord(kv.key, kv.value)),
        commits: deleted(2).map((kv) => decodeCommitInfo(kv.key, kv.value)),
      };
    });
  }

  // ---- commits: start and state changes ----------------------------------------------------

  /**
   * Starts a commit on `repo@branch` (the branch is created when missing) and returns it, open,
   * with `options.provenance` as its provenance. NOT_FOUND: no such repo, parent or provenance
   * commit. FAILED_PRECONDITION: the branch already has an open commit (named in the message),
   * or the parent or a provenance commit is not finished. INVALID_ARGUMENT / LIMIT_EXCEEDED:
   * a malformed or too long provenance (provenance.ts).
   */
  async startCommit(repo: string, branch: string, options: StartCommitOptions = {}):
    Promise<CommitInfo> {
    checkRepoName(repo);
    checkBranchName(branch);
    const description = options.description ?? "";
    checkText("commit description", description, metaDescriptionBytesMax);
    if (options.parent !== undefined) checkCommitId(options.parent);
    const request: StartRequest = {
      repo, branch, description, parent: options.parent, auto: options.auto === true,
      provenance: parseProvenance(options.provenance ?? []),
    };
    const started = await this.#withRetries(() => this.#startAttempt(request));
    this.#onCommit("started");
    return started;
  }

  async #startAttempt(request: StartRequest): Promise<Attempt<CommitInfo>> {
    const { repo, branch, parent: explicitParent } = request;
    const id = this.#newCommitId();
    checkCommitId(id);
    const keys = [
      this.#keys.repo(repo), this.#keys.branch(repo, branch), this.#keys.commit(repo, id),
    ];
    if (explicitParent !== undefined) keys.push(this.#keys.commit(repo, explicitParent));
    const provenanceKeys = request.provenance.map((from) => this.#keys.commit(from.repo, from.id));
    const snapshot = await this.#kv.read([...keys, ...provenanceKeys]);
    const states = keys.map((key) => snapshot.get(key));
    const [repoState, branchState, commitState, parentState] = states;
    assert(repoState !== undefined && branchState !== undefined && commitState !== undefined,
      "snapshot lacks a key");
    this.#repoOf(repoState, repo);
    const current = this.#branchOf(branchState, repo, branch);
    if (current.open !== "") {
      throw new PfsError("FAILED_PRECONDITION",
        `branch ${repo}@${branch} already has open commit ${current.open}; finish or delete it ` +
        "first", { repo, branch, open: current.open });
    }
    if (commitState.value !== undefined) return lostRace; // an id collision: draw another
    let parent = current.head;
    if (explicitParent !== undefined) {
      assert(parentState !== undefined, "snapshot lacks the parent");
      this.#finishedCommitOf(parentState, repo, explicitParent);
      parent = explicitParent;
    }
    const provenanceStates = provenanceKeys.map((key) => snapshot.get(key));
    request.provenance.forEach((from, i) => {
      const state = provenanceStates[i];
      assert(state !== undefined, () => `snapshot lacks provenance ${i}`);
      this.#finishedCommitOf(state, from.repo, from.id, "provenance ");
    });
    const commit: CommitInfo = {
      repo, id, branch, parent, state: "open", description: request.description,
      startedMs: this.#clock.wallMs(), finishedMs: 0, sizeBytes: 0, error: "",
      provenance: request.provenance.map(formatProvenance),
    };
    const record: BranchRecord = {
      repo, name: branch, head: current.head, open: id, ...(request.auto ? { openAuto: true } : {}),
    };
    const written = await this.#commitTxn([...states, ...provenanceStates], [
      putOp(commitState.key, encodeRecord(commit)), putOp(branchState.key, encodeRecord(record)),
    ]);
    return written ? commit : lostRace;
  }

  /** The branch record in `state`, or a new empty one when the branch does not exist. */
  #branchOf(state: KeyState, repo: string, branch: string): BranchRecord {
    if (state.value === undefined) return { repo, name: branch, head: "", open: "" };
    return decodeBranchRecord(state.key, state.value);
  }

  /** The commit in `state`; NOT_FOUND (the message starts with `role`) when it is absent. */
  #commitOf(state: KeyState, repo: string, id: string, role = ""): CommitInfo {
    if (state.value === undefined) {
      throw new PfsError("NOT_FOUND", `${role}commit ${repo}@${id} not found`,
        { repo, commit: id });
    }
    return decodeCommitInfo(state.key, state.value);
  }

  /** The finished commit in `state`: NOT_FOUND when absent, FAILED_PRECONDITION when not final. */
  #finishedCommitOf(state: KeyState, repo: string, id: string, role = ""): CommitInfo {
    const commit = this.#commitOf(state, repo, id, role);
    if (commit.state !== "finished") {
      throw new PfsError("FAILED_PRECONDITION",
        `${role}commit ${repo}@${id} is ${commit.state}, not finished`, { repo, commit: id });
    }
    return commit;
  }

  /**
   * One state change of commit `repo@id`: reads the commit and its branch together, lets
   * `decide` compute the new commit (or undefined to delete it) and the new branch record
   * (or undefined to delete it), and writes both if neither changed meanwhile.
   */
  async #transition(repo: string, id: string, decide: (commit: CommitInfo,
    branch: BranchRecord) => { commit: CommitInfo | undefined; branch: BranchRecord | undefined },
  fences: readonly MasterFence[] = []):
    Promise<CommitInfo> {
    checkRepoName(repo);
    checkCommitId(id);
    const commitKey = this.#keys.commit(repo, id);
    return this.#withRetries(async () => {
      const first = this.#commitOf((await this.#kv.read([commitKey])).get(commitKey), repo, id);
      const branchKey = this.#keys.branch(repo, first.branch);
      const snapshot = await this.#kv.read([commitKey, branchKey]);
      const commitState = snapshot.get(commitKey);
      const branchState = snapshot.get(branchKey);
      const commit = this.#commitOf(commitState, repo, id);
      const branch = this.#branchOf(branchState, repo, commit.branch);
      const next = decide(commit, branch);
      const commitOp = next.commit === undefined
        ? deleteOp(commitKey)
        : putOp(commitKey, encodeRecord(next.commit));
      const ops = [commitOp, next.branch === undefined
        ? deleteOp(branchKey) : putOp(branchKey, encodeRecord(next.branch))];
      // A commit leaving open/finishing has no staged data any more: its staged-on marks go.
      const settled = next.commit === undefined || next.commit.state === "finished" ||
        next.commit.state === "failed";
      if (settled) ops.push(deletePrefixOp(this.#keys.stagedOnCommitPrefix(repo, id)));
      const compares = [...[commitState, branchState].map(unchanged), ...fences.map(fenceCompare)];
      const outcome = await this.#kv.txn(compares, ops);
      if (outcome.succeeded) return next.commit ?? commit;
      if (fences.length > 0) await this.#checkFences(fences);
      return lostRace;
    });
  }

  /** Throws UNAVAILABLE naming the first fence that is no longer held. */
  async #checkFences(fences: readonly MasterFence[]): Promise<void> {
    const states = await this.#kv.read(fences.map((fence) => fence.key));
    for (const fence of fences) {
      const state = states.get(fence.key);
      if (state.value === undefined || state.createRevision !== fence.revision) {
        throw new PfsError("UNAVAILABLE", `the master that sealed shard ${fence.shard} lost ` +
          `its term (${fence.key}) before the commit was marked finished; finish again`,
        { shard: fence.shard });
      }
    }
  }

  /** Throws FAILED_PRECONDITION unless `commit` is in one of `states` and open on `branch`. */
  #requireState(commit: CommitInfo, branch: BranchRecord, action: string,
    states: readonly CommitInfo["state"][]): void {
    const where = `${commit.repo}@${commit.id}`;
    if (!states.includes(commit.state)) {
      throw new PfsError("FAILED_PRECONDITION",
        `cannot ${action} commit ${where}: it is ${commit.state}`,
        { repo: commit.repo, commit: commit.id, state: commit.state });
    }
    if (branch.open !== commit.id) {
      throw new PfsError("DATA_CORRUPTED",
        `commit ${where} is ${commit.state} but branch ${commit.branch} has open commit ` +
        `"${branch.open}"`, { repo: commit.repo, commit: commit.id });
    }
  }

  /** open → finishing. FAILED_PRECONDITION from any other state. */
  async setFinishing(repo: string, id: CommitId): Promise<CommitInfo> {
    return this.#transition(repo, id, (commit, branch) => {
      this.#requireState(commit, branch, "set finishing", ["open"]);
      return { commit: { ...commit, state: "finishing" }, branch };
    });
  }

  /**
   * open or finishing → finished with `sizeBytes`, and the branch head moves to it, in one
   * transaction. FAILED_PRECONDITION when it is already finished or failed.
   */
  async finishCommit(repo: string, id: CommitId, sizeBytes: number,
    fences: readonly MasterFence[] = []): Promise<CommitInfo> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new PfsError("INVALID_ARGUMENT", `commit size ${sizeBytes} is not a byte count`);
    }
    const finished = await this.#transition(repo, id, (commit, branch) => {
      this.#requireState(commit, branch, "finish", ["open", "finishing"]);
      const finishedMs = Math.max(this.#clock.wallMs(), commit.startedMs);
      return {
        commit: { ...commit, state: "finished", finishedMs, sizeBytes },
        branch: closedBranch(branch, commit.id),
      };
    }, fences);
    this.#onCommit("finished");
    return finished;
  }

  /** open or finishing → failed with `reason` (cut to metaFailureReasonBytesMax); head stays. */
  async failCommit(repo: string, id: CommitId, reason: string): Promise<CommitInfo> {
    const error = truncateUtf8(reason.length === 0 ? "failed" : reason, metaFailureReasonBytesMax);
    return this.#transition(repo, id, (commit, branch) => {
      this.#requireState(commit, branch, "fail", ["open", "finishing"]);
      const finishedMs = Math.max(this.#clock.wallMs(), commit.startedMs);
      return {
        commit: { ...commit, state: "failed", finishedMs, error },
        branch: closedBranch(branch, branch.head),
      };
    });
  }

  /**
   * Deletes an open commit (returned as it was); FAILED_PRECONDITION in any other state. With
   * `dropEmptyBranch`, a branch left without any finished commit goes too, in the same
   * transaction.
   */
  async deleteCommit(repo: string, id: CommitId, options: DeleteCommitOptions = {}):
    Promise<CommitInfo> {
    return this.#transition(repo, id, (commit, branch) => {
      this.#requireState(commit, branch, "delete", ["open"]);
      const drop = options.dropEmptyBranch === true && branch.head === "";
      return { commit: undefined, branch: drop ? undefined : closedBranch(branch, branch.head) };
    });
  }

  // ---- commits: reads ----------------------------------------------------------------------

  /**
   * The commit `ref` names in `repo` (a commit id or branch, with `^N`/`~N` ancestry; see the
   * module comment). NOT_FOUND when it names nothing.
   */
  async inspectCommit(repo: string, ref: string): Promise<CommitInfo> {
    checkRepoName(repo);
    const parsed = parseCommitRef(ref);
    if (!parsed.ok) throw new PfsError("INVALID_ARGUMENT", parsed.error, { repo });
    const snapshot = await this.#refSnapshot(repo, parsed.value);
    let commit = this.#commitOf(snapshot.commit, repo, parsed.value.base);
    for (let step = 1; step <= parsed.value.steps; step += 1) {
      if (commit.parent === "") {
        throw new PfsError("NOT_FOUND",
          `commit ${repo}@${ref} not found: ${repo}@${parsed.value.base} has only ${step - 1} ` +
          "ancestors", { repo, ref });
      }
      commit = await this.#commitAt(repo, commit.parent, snapshot.revision);
    }
    return commit;
  }

  /** Reads the base of `ref` (a branch's open-or-head commit, or a commit id) and the repo. */
  async #refSnapshot(repo: string, ref: CommitRef): Promise<{
    readonly commit: KeyState; readonly revision: Revision;
  }> {
    const repoKey = this.#keys.repo(repo);
    if (isCommitId(ref.base)) {
      const commitKey = this.#keys.commit(repo, ref.base);
      const snapshot = await this.#kv.read([repoKey, commitKey]);
      this.#repoOf(snapshot.get(repoKey), repo);
      return { commit: snapshot.get(commitKey), revision: snapshot.revision };
    }
    checkBranchName(ref.base);
    const tip = await this.#branchTip(repo, ref.base);
    if (tip.commit === "") {
      throw new PfsError("NOT_FOUND", `branch ${repo}@${ref.base} has no commits`,
        { repo, branch: ref.base });
    }
    const commitKey = this.#keys.commit(repo, tip.commit);
    const atRevision = await this.#kv.read([commitKey], tip.revision);
    return { commit: atRevision.get(commitKey), revision: tip.revision };
  }

  async #commitAt(repo: string, id: string, at: Revision): Promise<CommitInfo> {
    const key = this.#keys.commit(repo, id);
    const state = (await this.#kv.read([key], at)).get(key);
    if (state.value === undefined) {
      throw new PfsError("DATA_CORRUPTED", `commit ${repo}@${id}, a parent, is missing`,
        { repo, commit: id });
    }
    return decodeCommitInfo(key, state.value);
  }

  /**
   * Commits newest first: with `branch`, its open-or-head commit and then its parents; without,
   * every commit of the repo by start time. At most `limit`.
   */
  async listCommits(repo: string, branch?: string, options: ListCommitsOptions = {}):
    Promise<CommitInfo[]> {
    checkRepoName(repo);
    const limit = options.limit ?? metaListCommitsDefault;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > metaListCommitsMax) {
      throw new PfsError("INVALID_ARGUMENT",
        `commit list limit ${limit} is not an integer in [1, ${metaListCommitsMax}]`);
    }
    if (branch === undefined) {
      await this.inspectRepo(repo);
      const { entries } = await this.#kv.readPrefix(this.#keys.commitsPrefix(repo));
      const commits = entries.map((entry) => decodeCommitInfo(entry.key, entry.value));
      commits.sort((a, b) => b.startedMs - a.startedMs || (a.id < b.id ? -1 : 1));
      return commits.slice(0, limit);
    }
    checkBranchName(branch);
    const head = await this.#branchTip(repo, branch);
    if (head.commit === "") return [];
    return this.#ancestry(repo, head.commit, head.revision, limit);
  }

  /** The open-or-head commit of an existing branch ("" when it has none). */
  async #branchTip(repo: string, branch: string): Promise<{ commit: string; revision: Revision }> {
    const read = await this.#readBranch(repo, branch);
    const record = this.#existingBranchOf(read.state, repo, branch);
    return { commit: record.open !== "" ? record.open : record.head, revision: read.revision };
  }

  /** Reads a branch's key and checks, in the same read, that its repo exists. */
  async #readBranch(repo: string, branch: string): Promise<{
    readonly state: KeyState; readonly revision: Revision;
  }> {
    const repoKey = this.#keys.repo(repo);
    const branchKey = this.#keys.branch(repo, branch);
    const snapshot = await this.#kv.read([repoKey, branchKey]);
    this.#repoOf(snapshot.get(repoKey), repo);
    return { state: snapshot.get(branchKey), revision: snapshot.revision };
  }

  /** `from` and its parents, newest first, at most `limit`, read at revision `at`. */
  async #ancestry(repo: string, from: string, at: Revision, limit: number): Promise<CommitInfo[]> {
    const commits: CommitInfo[] = [];
    let next = from;
    while (next !== "" && commits.length < limit) {
      const commit = await this.#commitAt(repo, next, at);
      commits.push(commit);
      next = commit.parent;
    }
    return commits;
  }

  /**
   * Resolves once commit `repo@ref` is finished or failed, with its final state. NOT_FOUND if
   * it does not exist or is deleted while waited on; rejects with the signal's reason on abort.
   * Uses one etcd watch started at the revision of the first read: no polling, no gap.
   */
  async waitCommit(repo: string, ref: string, signal?: AbortSignal): Promise<CommitInfo> {
    const commit = await this.inspectCommit(repo, ref);
    return waitFinalCommit(this.#kv, this.#keys.commit(repo, commit.id), signal);
  }

  /**
   * The finished commits of `repo@branch`: first those already in its history (oldest first;
   * none with `newOnly`), then each commit started on the branch as it finishes, each exactly
   * once. Ends when `signal` aborts or the consumer stops iterating.
   */
  subscribeCommits(repo: string, branch: string, signal?: AbortSignal,
    options: SubscribeCommitsOptions = {}): AsyncIterable<CommitInfo> {
    checkRepoName(repo);
    checkBranchName(branch);
    return subscribeFinishedCommits({
      kv: this.#kv, keys: this.#keys, repo, branch,
      ...(signal === undefined ? {} : { signal }),
      history: async () => {
        const tip = await this.#branchHead(repo, branch);
        if (tip.commit === "" || options.newOnly === true) {
          return { commits: [], revision: tip.revision };
        }
        const commits = await this.#historyAt(repo, tip.commit, tip.revision);
        return { commits, revision: tip.revision };
      },
    });
  }

  /**
   * `from` and all its ancestors, oldest first, as of revision `at`: one paged read of the
   * repo's commits, then a walk in memory (a history of N commits is not N round trips).
   */
  async #historyAt(repo: string, from: string, at: Revision): Promise<CommitInfo[]> {
    const { entries } = await this.#kv.readPrefix(this.#keys.commitsPrefix(repo), at);
    const byId = new Map<string, CommitInfo>();
    for (const entry of entries) {
      const commit = decodeCommitInfo(entry.key, entry.value);
      byId.set(commit.id, commit);
    }
    const chain: CommitInfo[] = [];
    for (let next = from; next !== "";) {
      const commit = byId.get(next);
      if (commit === undefined || chain.length >= byId.size) {
        throw new PfsError("DATA_CORRUPTED", `the ancestry of ${repo}@${from} is broken at ` +
          `${next} (${commit === undefined ? "missing" : "a cycle"})`, { repo, commit: next });
      }
      chain.push(commit);
      next = commit.parent;
    }
    return chain.reverse();
  }

  /** The last finished commit of a branch ("" when none, or when the branch is missing). */
  async #branchHead(repo: string, branch: string): Promise<{ commit: string; revision: Revision }> {
    const read = await this.#readBranch(repo, branch);
    return { commit: this.#branchOf(read.state, repo, branch).head, revision: read.revision };
  }

  // ---- branches ----------------------------------------------------------------------------

  #existingBranchOf(state: KeyState, repo: string, branch: string): BranchRecord {
    if (state.value === undefined) {
      throw new PfsError("NOT_FOUND", `branch ${repo}@${branch} not found`, { repo, branch });
    }
    return decodeBranchRecord(state.key, state.value);
  }

  /**
   * Creates branch `repo@branch` pointing at `head` (a finished commit of the repo, or "" for
   * none), or re-points it. FAILED_PRECONDITION while the branch has an open commit or when
   * `head` is not finished; NOT_FOUND when the repo or the commit does not exist.
   */
  async createBranch(repo: string, branch: string, head: CommitId): Promise<BranchRecord> {
    checkRepoName(repo);
    checkBranchName(branch);
    if (head !== "") checkCommitId(head);
    return this.#withRetries(async () => {
      const keys = [this.#keys.repo(repo), this.#keys.branch(repo, branch)];
      if (head !== "") keys.push(this.#keys.commit(repo, head));
      const snapshot = await this.#kv.read(keys);
      const states = keys.map((key) => snapshot.get(key));
      const [repoState, branchState, headState] = states;
      assert(repoState !== undefined && branchState !== undefined, "snapshot lacks a key");
      this.#repoOf(repoState, repo);
      const current = this.#branchOf(branchState, repo, branch);
      this.#refuseOpen(current, "re-point");
      if (headState !== undefined) this.#finishedCommitOf(headState, repo, head);
      const record: BranchRecord = { repo, name: branch, head, open: "" };
      const written = await this.#commitTxn(states, [putOp(branchState.key, encodeRecord(record))]);
      return written ? record : lostRace;
    });
  }

  #refuseOpen(branch: BranchRecord, action: string): void {
    if (branch.open !== "") {
      throw new PfsError("FAILED_PRECONDITION",
        `cannot ${action} branch ${branch.repo}@${branch.name}: it has open commit ${branch.open}`,
        { repo: branch.repo, branch: branch.name, open: branch.open });
    }
  }

  /** Branch `repo@branch`: NOT_FOUND when the repo or the branch does not exist. */
  async inspectBranch(repo: string, branch: string): Promise<BranchRecord> {
    checkRepoName(repo);
    checkBranchName(branch);
    return this.#existingBranchOf((await this.#readBranch(repo, branch)).state, repo, branch);
  }

  /** The branches of `repo` by name; NOT_FOUND when the repo does not exist. */
  async listBranches(repo: string): Promise<BranchRecord[]> {
    const info = await this.inspectRepo(repo);
    const { entries } = await this.#kv.readPrefix(this.#keys.branchesPrefix(info.name));
    return entries.map((entry) => decodeBranchRecord(entry.key, entry.value));
  }

  /**
   * Deletes branch `repo@branch`, keeping its commits; returns it as it was. NOT_FOUND when it
   * does not exist; FAILED_PRECONDITION while it has an open commit.
   */
  async deleteBranch(repo: string, branch: string): Promise<BranchRecord> {
    checkRepoName(repo);
    checkBranchName(branch);
    const key = this.#keys.branch(repo, branch);
    return this.#withRetries(async () => {
      const state = (await this.#kv.read([key])).get(key);
      const record = this.#existingBranchOf(state, repo, branch);
      this.#refuseOpen(record, "delete");
      return (await this.#commitTxn([state], [deleteOp(key)])) ? record : lostRace;
    });
  }
}
