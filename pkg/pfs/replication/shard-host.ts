/**
 * `ShardHost`: the shard replicas the replica map places on this node, kept running (DESIGN.md
 * §4). For each one it
 *
 * - opens the local replica (once; a replica moved away and back reuses it) and serves it to
 *   the cluster as a `HostedShard` (master rules in hosted-shard.ts);
 * - **catches it up** from the node's watched index of finished commits (finished-commits.ts),
 *   not from listings: per replica it keeps only the finished commits not known to be here
 *   (`missing`; all the others are); a commit the index reports finished is added to it
 *   and a catch-up pass runs `catchUpAfterFinishMs` later, copying the sealed manifest and
 *   its missing chunks from the master or any other replica that has it (transfer.ts;
 *   resumable, since a retry asks again what is missing). A pass also runs when the map
 *   gives this node a replica, after the index reloads, and every `catchUpRecheckMs` to
 *   retry failed copies. A pass costs the
 *   replica's missing commits, not all commits; only a new replica or a reload of the index
 *   walks the whole index (in memory). The lag (finished commits it lacks) is published under
 *   `<root>/replica-status/<shard>/<node>` on a lease of its own whenever it changes, and the
 *   record is refreshed by the slow re-check;
 * - **campaigns for master** whenever it is up to date, on the node's one master session lease
 *   (master-session.ts; its renewals confirm every term of the node), holds the term until its
 *   key or the session goes, and resigns when the map moves the replica away or the node shuts
 *   down, so a rolling restart hands mastership over at once.
 *
 * Why the index is as safe as a fresh listing for candidacy (`#isUpToDate`, which the candidate
 * calls again once elected, and that call decides): it first reads the store's current
 * revision N (a linearizable read, so N is at or after the election win E, which came before
 * the call), waits until the index has applied every change up to N, and only then compares
 * the index with the replica. A commit of the shard is finished either at a revision ≤ E (a
 * previous master's fenced finish), hence ≤ N and in the view, or after E, when the finish
 * transaction's fence is ours (the previous master's key is gone before we win, so its fence
 * no longer holds) and we sealed that commit ourselves. So the view misses no commit a fresh
 * listing after the win would show. "Applied every change up to N" may rest on a progress
 * response, which etcd before the fix of etcd-io/etcd#15220 could send ahead of events; so the
 * check also reads from the store every commit finished after the revision the index reached
 * through events alone (`finishedSince`: filtered by mod revision, only recent records travel)
 * and requires those too. While any commit record does not decode, no replica counts as up to
 * date (as a listing that failed to decode did before).
 *
 * Invariants: a replica is master only while the map places it on this node; a replica that
 * lacks a finished commit of its shard never keeps a term (shard-master.ts); a replica's
 * `missing` holds only commits the index holds, and every other commit of the index is here.
 * Memory: the index (finished-commits.ts) plus, per replica, its missing commits (the lag).
 */
import type { Etcd3, Lease } from "etcd3";
import { type Clock, type Logger, PfsError, assertNever } from "../../common/index.js";
import { nodeLeaseTtlSeconds } from "../placement/limits.js";
import type { ShardCommit, ShardReplica } from "../shard/shard-api.js";
import { type FinishedChange, FinishedCommits } from "./finished-commits.js";
import { HostedShard, type MasterStanding, type ReplicateCommit } from "./hosted-shard.js";
import type { LeaderTerm } from "./leader-term.js";
import {
  candidateRetryMs, catchUpAfterFinishMs, catchUpRecheckMs, preferredMasterDelayMs,
} from "./limits.js";
import { MasterSession } from "./master-session.js";
import type { ReplicaDirectory } from "./replica-directory.js";
import { encodeReplicaStatus, replicaStatusKey } from "./replica-status.js";
import { ShardMasterCandidate } from "./shard-master.js";

/** Copies a sealed commit from `source` to `target` (transfer.ts `copyCommit`). */
export type CopyCommit = (source: ShardReplica, target: ShardReplica, commit: ShardCommit,
  signal: AbortSignal) => Promise<void>;

export interface ShardHostOptions {
  readonly client: Etcd3;
  /**
   * The client of the master session (its own channel: the etcd3 client resets a channel's
   * every call when one fails, and a slow keep-alive must not take the node's reads with it).
   */
  readonly sessionClient: Etcd3;
  readonly root: string;
  readonly node: string;
  /** This node's identity in staged-on marks (hosted-shard.ts): name and data-dir incarnation. */
  readonly identity: string;
  readonly directory: ReplicaDirectory;
  /** Opens this node's replica of a shard (called at most once per shard). */
  readonly openLocal: (shard: number) => Promise<ShardReplica>;
  /** The replica of `shard` on another node, while that node is live. */
  readonly remote: (node: string, shard: number) => ShardReplica | undefined;
  readonly replicate: ReplicateCommit;
  readonly copy: CopyCommit;
  /** W, this replica's own acknowledgement included (≥ 1). */
  readonly writeQuorum: number;
  readonly masterLeaseTtlSeconds: number;
  /**
   * True while this node should let the other replicas become masters first (pfsd: while its
   * member is the Raft leader, so that one node's death is not two failovers in series).
   */
  readonly deferCampaign?: () => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** One replica this node holds now. */
interface Held {
  readonly shard: number;
  readonly local: ShardReplica;
  readonly hosted: HostedShard;
  readonly candidate: ShardMasterCandidate;
  readonly stop: AbortController;
  standing: MasterStanding | undefined;
  run: Promise<void>;
  /**
   * The index's finished commits not known to be here (unchecked or lacking), by
   * `<repo>/<id>`; every other commit of the index is here.
   */
  readonly missing: Map<string, ShardCommit>;
  /** Finished commits of the shard this replica lacks, as of the last pass (-1: not yet). */
  lag: number;
  /** Finished commits it holds, as of the last pass. */
  finished: number;
  /** The lag last published (-2: never). */
  publishedLag: number;
}

/** Whether `signal` has aborted (a call, so a check after an await is not narrowed away). */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function commitKeyOf(commit: ShardCommit): string {
  return `${commit.repo}/${commit.id}`;
}

export class ShardHost {
  readonly #options: ShardHostOptions;
  readonly #index: FinishedCommits;
  readonly #opened = new Map<number, Promise<ShardReplica>>();
  readonly #held = new Map<number, Held>();
  readonly #closing = new AbortController();
  #reconciling: Promise<void> = Promise.resolve();
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #scanTimer: ReturnType<Clock["setTimer"]> | undefined;
  /** When the pending pass is due (`clock.nowMs()`), while `#scanTimer` is set. */
  #scanDueMs = 0;
  /** When the last re-check pass started (`clock.nowMs()`; -∞: never). */
  #recheckedMs = Number.NEGATIVE_INFINITY;
  #removeListener: (() => void) | undefined;
  #removeIndexListener: (() => void) | undefined;
  #statusLease: Lease | undefined;
  readonly #session: MasterSession;

  constructor(options: ShardHostOptions) {
    this.#options = options;
    this.#session = new MasterSession({
      client: options.sessionClient, root: options.root,
      ttlSeconds: options.masterLeaseTtlSeconds,
      clock: options.clock, logger: options.logger,
    });
    this.#index = new FinishedCommits({
      client: options.client, root: options.root, clock: options.clock, logger: options.logger,
    });
  }

  /**
   * Starts following the map: opens, catches up and campaigns for the replicas placed here.
   * Resolves once the map known now is applied (its replicas here are open).
   */
  async start(): Promise<void> {
    this.#removeListener = this.#options.directory.onChange(() => { this.#reconcile(); });
    this.#removeIndexListener = this.#index.onChange((change) => { this.#onIndexChange(change); });
    // A failed first load retries by itself; until it works nothing catches up or campaigns.
    this.#index.start().catch((error: unknown) => {
      this.#options.logger.warn("cannot load the finished-commit index yet", { error });
    });
    this.#reconcile();
    this.#scheduleScan(0);
    await this.#reconciling;
  }

  /**
   * This node's replica of `shard` as served to the cluster: INVALID_ARGUMENT for a shard out
   * of range, UNAVAILABLE when this node does not hold it (now).
   */
  hosted(shard: number): HostedShard {
    const shards = this.#options.directory.shards;
    if (!Number.isSafeInteger(shard) || shard < 0 || shard >= shards) {
      throw new PfsError("INVALID_ARGUMENT", `shard ${shard} is not in [0, ${shards})`);
    }
    const held = this.#held.get(shard);
    if (held === undefined) {
      throw new PfsError("UNAVAILABLE", `node ${this.#options.node} holds no replica of ` +
        `shard ${shard} (the replica map places it on ` +
        `${this.#options.directory.replicasOf(shard).join(", ") || "no node yet"})`,
      { shard });
    }
    return held.hosted;
  }

  /** This node's local replica of `shard` (what its collector reconciles); UNAVAILABLE. */
  localOf(shard: number): ShardReplica {
    const held = this.#held.get(shard);
    if (held === undefined) return this.hosted(shard);
    return held.local;
  }

  /** True when this node holds `shard`. */
  holds(shard: number): boolean {
    return this.#held.has(shard);
  }

  /** The local replicas held now (for garbage collection). */
  localReplicas(): ShardReplica[] {
    return [...this.#held.values()].sort((a, b) => a.shard - b.shard).map((held) => held.local);
  }

  /** Per held shard: whether it is master, its lag and finished count (for status and tests). */
  standings(): { shard: number; master: boolean; lag: number; finished: number }[] {
    return [...this.#held.values()].sort((a, b) => a.shard - b.shard).map((held) => ({
      shard: held.shard, master: held.standing !== undefined, lag: held.lag,
      finished: held.finished,
    }));
  }

  // ---- following the map -------------------------------------------------------------

  #reconcile(): void {
    if (this.#closing.signal.aborted) return;
    this.#reconciling = this.#reconciling.then(() => this.#applyMap()).catch((error: unknown) => {
      this.#options.logger.error("cannot apply the replica map", { error });
    });
  }

  async #applyMap(): Promise<void> {
    const { directory, node } = this.#options;
    if (directory.map === undefined || this.#closing.signal.aborted) return;
    const wanted = new Set<number>();
    for (let shard = 0; shard < directory.shards; shard += 1) {
      if (directory.replicasOf(shard).includes(node)) wanted.add(shard);
    }
    for (const [shard, held] of this.#held) {
      if (!wanted.has(shard)) await this.#release(held);
    }
    let added = false;
    for (const shard of wanted) {
      if (this.#held.has(shard) || aborted(this.#closing.signal)) continue;
      await this.#hold(shard);
      added = true;
    }
    if (added) this.#scheduleScan(0);
  }

  async #hold(shard: number): Promise<void> {
    const options = this.#options;
    let opening = this.#opened.get(shard);
    if (opening === undefined) {
      opening = options.openLocal(shard);
      this.#opened.set(shard, opening);
      opening.catch(() => { this.#opened.delete(shard); });
    }
    const local = await opening;
    const ttlMs = options.masterLeaseTtlSeconds * 1_000;
    const held: Held = {
      shard, local, stop: new AbortController(), standing: undefined, run: Promise.resolve(),
      missing: new Map(), lag: -1, finished: 0, publishedLag: -2,
      candidate: new ShardMasterCandidate({
        client: options.client, root: options.root, shard, node: options.node,
        masterLeaseTtlSeconds: options.masterLeaseTtlSeconds, logger: options.logger,
        isUpToDate: () => this.#isUpToDate(shard), session: this.#session,
      }),
      hosted: new HostedShard({
        client: options.client, root: options.root, node: options.node,
        identity: options.identity, local,
        standing: () => this.#standing(shard),
        mayBeElectedHere: () => {
          const master = options.directory.masterOf(shard);
          return master === undefined || master === options.node;
        },
        peers: () => this.#peers(shard),
        mapped: () => options.directory.replicasOf(shard).length,
        writeQuorum: options.writeQuorum, confirmStaleMs: ttlMs, replicate: options.replicate,
        clock: options.clock, logger: options.logger,
      }),
    };
    for (const commit of this.#index.finishedOf(shard)) {
      held.missing.set(commitKeyOf(commit), commit);
    }
    this.#held.set(shard, held);
    held.run = this.#candidacy(held);
    options.logger.info("holding a replica", { shard });
  }

  async #release(held: Held): Promise<void> {
    this.#held.delete(held.shard);
    held.stop.abort();
    await held.run;
    await this.#deleteStatus(held.shard);
    this.#options.logger.info("released a replica (the map moved it away)", { shard: held.shard });
  }

  /** The other live replicas of `shard` the map names. */
  #peers(shard: number): { node: string; replica: ShardReplica }[] {
    const peers: { node: string; replica: ShardReplica }[] = [];
    for (const node of this.#options.directory.replicasOf(shard)) {
      if (node === this.#options.node) continue;
      const replica = this.#options.remote(node, shard);
      if (replica !== undefined) peers.push({ node, replica });
    }
    return peers;
  }

  // ---- mastership --------------------------------------------------------------------

  async #candidacy(held: Held): Promise<void> {
    const { clock, logger } = this.#options;
    const signal = held.stop.signal;
    while (!signal.aborted) {
      if (held.lag !== 0 && !(await this.#isUpToDate(held.shard, signal).catch(() => false))) {
        this.#scheduleScan(0);
        await clock.sleep(candidateRetryMs, signal).catch(() => undefined);
        continue;
      }
      await this.#yieldToPreferred(held);
      if (aborted(signal)) break;
      let term: LeaderTerm;
      const requeue = this.#requeueWhenDeferred(held);
      try {
        term = await held.candidate.campaign(AbortSignal.any([signal, requeue.signal]));
      } catch (error: unknown) {
        if (aborted(signal)) break;
        if (requeue.signal.aborted) continue;
        logger.debug("not campaigning for master now", { shard: held.shard, error });
        await clock.sleep(candidateRetryMs, signal).catch(() => undefined);
        continue;
      } finally {
        requeue.cancel();
      }
      held.standing = { fence: term.fence, confirmedMs: clock.nowMs() };
      logger.info("master of shard", { shard: held.shard, token: String(term.fence.revision) });
      await this.#holdTerm(held, term);
      held.standing = undefined;
      await held.candidate.resign().catch(() => undefined);
      logger.info("no longer master of shard", { shard: held.shard });
    }
    held.standing = undefined;
    await held.candidate.resign().catch((error: unknown) => {
      logger.warn("cannot resign as master (its lease will expire)", { shard: held.shard, error });
    });
  }

  /**
   * While the candidate waits in the election's queue, aborts its campaign (its key goes) once
   * this node is asked to defer (it became the Raft leader) and another node's candidate waits
   * behind it: it then campaigns again, behind that one. With nobody behind it, it stays (a
   * Raft leader that is the only up-to-date replica still becomes master).
   */
  #requeueWhenDeferred(held: Held): { signal: AbortSignal; cancel: () => void } {
    const { clock, directory, node } = this.#options;
    const controller = new AbortController();
    let timer: { cancel(): void } | undefined;
    const check = (): void => {
      const queue = directory.queueOf(held.shard);
      const behind = queue.slice(queue.indexOf(node) + 1).some((name) => name !== node);
      if (this.#options.deferCampaign?.() === true && queue.includes(node) && behind) {
        this.#options.logger.debug("leaving the master queue behind the other replicas",
          { shard: held.shard });
        controller.abort(new PfsError("FAILED_PRECONDITION", "requeued behind other replicas"));
        return;
      }
      timer = clock.setTimer(candidateRetryMs, check);
    };
    if (this.#options.deferCampaign !== undefined) timer = clock.setTimer(candidateRetryMs, check);
    return { signal: controller.signal, cancel: () => { timer?.cancel(); } };
  }

  /**
   * Spreads masters over the nodes: the map's k-th replica of a shard waits k ×
   * `preferredMasterDelayMs` before it campaigns while a replica listed before it is live and
   * the shard has no master, so the map's first live replica usually wins. A node asked to
   * defer (`deferCampaign`: the Raft leader) waits R × that first whenever another replica is
   * live, master or not, so it joins the election's queue behind them.
   */
  async #yieldToPreferred(held: Held): Promise<void> {
    const { directory, node, clock } = this.#options;
    const replicas = directory.replicasOf(held.shard);
    if (this.#options.deferCampaign?.() === true && replicas.some((name) => name !== node &&
      directory.addressOf(name) !== undefined)) {
      await clock.sleep(replicas.length * preferredMasterDelayMs, held.stop.signal)
        .catch(() => undefined);
    }
    if (directory.masterOf(held.shard) !== undefined) return;
    const rank = replicas.indexOf(node);
    const earlierLive = replicas.slice(0, Math.max(0, rank))
      .some((name) => directory.addressOf(name) !== undefined);
    if (!earlierLive) return;
    await clock.sleep(rank * preferredMasterDelayMs, held.stop.signal).catch(() => undefined);
  }

  /** Waits until the term is over (its key gone or the session lost) or the replica stops. */
  async #holdTerm(held: Held, term: LeaderTerm): Promise<void> {
    const over = AbortSignal.any([term.over, held.stop.signal]);
    if (over.aborted) return;
    await new Promise<void>((resolve) => {
      over.addEventListener("abort", () => { resolve(); }, { once: true });
    });
  }

  /** The term of `shard` with its last confirmation: the session lease's last renewal. */
  #standing(shard: number): MasterStanding | undefined {
    const held = this.#held.get(shard);
    const standing = held?.standing;
    if (standing === undefined) return undefined;
    return { fence: standing.fence, confirmedMs: this.#session.confirmedMs() };
  }

  // ---- catching up -------------------------------------------------------------------

  /** Keeps every replica's `missing` in step with the index, then runs a pass. */
  #onIndexChange(change: FinishedChange): void {
    for (const held of this.#held.values()) {
      switch (change.kind) {
        case "added":
          held.missing.set(commitKeyOf(change.commit), change.commit);
          break;
        case "removed":
          held.missing.delete(commitKeyOf(change.commit));
          break;
        case "reloaded":
          break;
        default:
          assertNever(change);
      }
      this.#count(held);
    }
    this.#scheduleScan(change.kind === "added" ? catchUpAfterFinishMs : 0);
  }

  /**
   * Drops from `held.missing` those of `commits` (default: all of it) that are here (no
   * copy); the rest stay. Updates lag and finished count; returns how many of `commits` are
   * still missing (one dropped meanwhile, copied or deleted, is not).
   */
  async #checkMissing(held: Held,
    commits: readonly ShardCommit[] = [...held.missing.values()]): Promise<number> {
    let lacking = 0;
    for (const commit of commits) {
      const key = commitKeyOf(commit);
      if (!held.missing.has(key)) continue;
      if (!(await held.local.hasCommit(commit))) {
        if (held.missing.has(key)) lacking += 1;
        continue;
      }
      held.missing.delete(key);
    }
    this.#count(held);
    return lacking;
  }

  #count(held: Held): void {
    if (held.lag < 0 && !this.#index.ready) return;
    held.lag = held.missing.size;
    held.finished = Math.max(0, this.#index.size - held.missing.size);
  }

  /**
   * Whether the replica of `shard` holds every finished commit, judged on a view of the index
   * at least as new as this call (the module comment has the argument). False while the index
   * is not loaded or a commit record does not decode; UNAVAILABLE when the store or the index
   * cannot answer in time.
   */
  async #isUpToDate(shard: number, signal?: AbortSignal): Promise<boolean> {
    const now = await this.#index.currentRevision();
    await this.#index.waitForRevision(now, signal);
    const held = this.#held.get(shard);
    if (held === undefined || !this.#index.ready || this.#index.unreadable > 0) return false;
    // Taken right after the wait: the view as of a revision ≥ `now`. A commit added later
    // finished after `now`, so after the win: sealed here by this master, or no concern yet.
    // The view may rest on a progress response that overtook events (etcd before #15237):
    // the commits finished after what events proved are read from the store itself.
    const due = [...held.missing.values()];
    const recent = await this.#index.finishedSince(this.#index.eventRevision);
    if (recent === undefined) return false;
    if (await this.#checkMissing(held, due) !== 0) return false;
    for (const commit of recent) {
      if (!(await held.local.hasCommit(commit))) return false;
    }
    return true;
  }

  /**
   * Runs a catch-up pass in `delayMs` (one at a time; a request during a pass runs another
   * right after it, and a pass already due sooner is kept, so a stream of commits cannot
   * postpone it). A pass at least `catchUpRecheckMs` after the last re-check is a re-check.
   */
  #scheduleScan(delayMs: number): void {
    const clock = this.#options.clock;
    if (this.#closing.signal.aborted) return;
    if (this.#scanning !== undefined) {
      this.#rescan = true;
      return;
    }
    const dueMs = clock.nowMs() + delayMs;
    if (this.#scanTimer !== undefined && this.#scanDueMs <= dueMs) return;
    this.#scanTimer?.cancel();
    this.#scanDueMs = dueMs;
    this.#scanTimer = clock.setTimer(delayMs, () => {
      this.#scanTimer = undefined;
      const recheck = clock.nowMs() - this.#recheckedMs >= catchUpRecheckMs;
      if (recheck) this.#recheckedMs = clock.nowMs();
      this.#scanning = this.#scan(recheck).catch((error: unknown) => {
        this.#options.logger.warn("catch-up pass failed; retrying", { error });
      }).finally(() => {
        this.#scanning = undefined;
        const again = this.#rescan;
        this.#rescan = false;
        this.#scheduleScan(again ? catchUpAfterFinishMs : catchUpRecheckMs);
      });
    });
  }

  /**
   * One catch-up pass over the replicas held: copies what each one misses. A `recheck` (the
   * slow timer) also re-publishes every status record (its lease may have lapsed).
   */
  async #scan(recheck: boolean): Promise<void> {
    if (!this.#index.ready) return;
    for (const held of [...this.#held.values()]) {
      if (held.stop.signal.aborted) continue;
      await this.#checkMissing(held);
      if (recheck || held.lag !== held.publishedLag) await this.#publishStatus(held);
      if (held.missing.size === 0) continue;
      this.#options.logger.info("catching up a replica", { shard: held.shard, lag: held.lag });
      for (const [key, commit] of [...held.missing]) {
        if (aborted(held.stop.signal)) break;
        if (!(await this.#pull(held, commit))) continue;
        held.missing.delete(key);
      }
      this.#count(held);
      await this.#publishStatus(held);
    }
  }

  /** Copies `commit` into `held` from the master or another replica; true once it is here. */
  async #pull(held: Held, commit: ShardCommit): Promise<boolean> {
    const { directory, node, logger } = this.#options;
    const master = directory.masterOf(held.shard);
    const sources = [...new Set([...(master === undefined ? [] : [master]),
      ...directory.replicasOf(held.shard)])].filter((name) => name !== node);
    for (const source of sources) {
      const replica = this.#options.remote(source, held.shard);
      if (replica === undefined) continue;
      try {
        await this.#options.copy(replica, held.local, commit, held.stop.signal);
        return true;
      } catch (error: unknown) {
        logger.debug("cannot copy a commit from this replica; trying the next",
          { shard: held.shard, source, repo: commit.repo, commit: commit.id, error });
      }
    }
    return false;
  }

  // ---- replica status records --------------------------------------------------------

  #lease(): Lease {
    let lease = this.#statusLease;
    if (lease === undefined || lease.revoked()) {
      lease = this.#options.client.lease(nodeLeaseTtlSeconds, { autoKeepAlive: true });
      lease.on("lost", () => {
        if (this.#statusLease === lease) this.#statusLease = undefined;
      });
      this.#statusLease = lease;
    }
    return lease;
  }

  async #publishStatus(held: Held): Promise<void> {
    const key = replicaStatusKey(this.#options.root, held.shard, this.#options.node);
    const value = encodeReplicaStatus({
      lag: held.lag, finished: held.finished, updatedMs: this.#options.clock.wallMs(),
    });
    try {
      await this.#lease().put(key).value(value).exec();
      held.publishedLag = held.lag;
    } catch (error: unknown) {
      this.#statusLease = undefined;
      this.#options.logger.debug("cannot publish a replica's status", { shard: held.shard, error });
    }
  }

  async #deleteStatus(shard: number): Promise<void> {
    const key = replicaStatusKey(this.#options.root, shard, this.#options.node);
    await this.#options.client.delete().key(key).exec().catch(() => undefined);
  }

  /**
   * Resigns every mastership and stops catching up and campaigning; the replicas still serve
   * reads (a draining server may be using them) until `close`.
   */
  async stop(): Promise<void> {
    this.#closing.abort();
    this.#removeListener?.();
    this.#removeIndexListener?.();
    this.#scanTimer?.cancel();
    await this.#reconciling;
    const held = [...this.#held.values()];
    for (const one of held) one.stop.abort();
    await Promise.all(held.map((one) => one.run));
    await this.#session.close();
    await this.#scanning;
    await this.#index.close();
    await this.#statusLease?.revoke().catch(() => undefined);
  }

  /** Stops (if not yet) and closes the local replicas. */
  async close(): Promise<void> {
    await this.stop();
    this.#held.clear();
    const opened = [...this.#opened.values()];
    this.#opened.clear();
    for (const replica of await Promise.allSettled(opened)) {
      if (replica.status === "fulfilled") await replica.value.close();
    }
  }
}
