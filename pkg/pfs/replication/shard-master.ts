/**
 * Per-shard masters (DESIGN.md §4): the replicas of a shard elect one master through the etcd
 * election API on a short lease (`--master-lease-ttl`, default 3 s), under
 * `<root>/election/shard-master/<shard>/`. A replica campaigns only when the caller's
 * predicate says it holds every finished commit of the shard, and keeps the mastership only
 * if the predicate still holds once it is elected (then the old master can finish no more
 * commits), so a new master never lacks an acknowledged commit. The create revision of the
 * master's election key is its fencing token; `fencedTxn()` starts every metadata transaction
 * the master makes with the compare on it, so a deposed master (its lease lapsed, even while
 * it was stopped and has not noticed) changes nothing.
 *
 * Routers learn the master by `MasterObserver`, a watch on the election: the value it returns
 * is the watch's latest, never a cached answer with its own lifetime (the early Pachyderm
 * router cached masters for 5 minutes). While the election has no leader it returns undefined.
 * It keeps every candidate key with its create revision and names the lowest, as etcd's Go
 * `Observe` does; the `etcd3` client's observer is not used: with no leader, it took the last
 * key of a watch batch in which several candidates appeared, and kept naming that queued
 * candidate while another led.
 */
import type { ComparatorBuilder, Etcd3, Watcher } from "etcd3";
import {
  type Logger, PfsError, assert, limits,
} from "../../common/index.js";
import {
  type CampaignOptions, type LeaderTerm, campaignForTerm, fencedIf, unavailable,
} from "./leader-term.js";
import type { MasterSession } from "./master-session.js";

/** The election of `shard`'s master. */
export function masterElectionName(shard: number): string {
  assert(Number.isSafeInteger(shard) && shard >= 0 && shard < limits.pfsShardsMax,
    () => `shard ${shard} outside [0, ${limits.pfsShardsMax})`);
  return `shard-master/${shard}`;
}

export interface ShardMasterOptions {
  /** A root client (fence keys are full keys). */
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  readonly shard: number;
  /** This replica's node name: what observers learn as the master. */
  readonly node: string;
  /** The election lease TTL in seconds (default 3; at least etcd's 2 s). */
  readonly masterLeaseTtlSeconds?: number;
  /**
   * True when this replica holds every finished commit of the shard. Asked before the
   * campaign (to spare a useless one) and again once elected, where it decides: it must then
   * compare with the finished commits in the store (a linearizable read), not a cached view.
   */
  readonly isUpToDate: () => boolean | Promise<boolean>;
  readonly logger: Logger;
  /**
   * The node's shared master session (master-session.ts): campaigns use its lease instead of
   * one lease each (then `masterLeaseTtlSeconds` is the session's).
   */
  readonly session?: MasterSession;
}

/** One replica's candidacy for master of its shard. */
export class ShardMasterCandidate {
  readonly #options: ShardMasterOptions;
  readonly #ttlSeconds: number;
  #term: LeaderTerm | undefined;
  #campaigning = false;

  constructor(options: ShardMasterOptions) {
    const ttl = options.masterLeaseTtlSeconds ?? limits.pfsMasterLeaseTtlSecondsDefault;
    assert(Number.isSafeInteger(ttl) && ttl >= limits.pfsMasterLeaseTtlSecondsMin,
      () => `master lease TTL ${ttl} s below ${limits.pfsMasterLeaseTtlSecondsMin} s`);
    masterElectionName(options.shard);
    this.#options = options;
    this.#ttlSeconds = ttl;
  }

  /**
   * Campaigns and resolves with the term once this replica is master. Errors:
   * FAILED_PRECONDITION when the replica is not up to date (nothing is written: catch up
   * first), when it is already campaigning or master, or when `signal` aborts the wait;
   * UNAVAILABLE when the lease or the store fails (campaign again).
   */
  async campaign(signal?: AbortSignal): Promise<LeaderTerm> {
    const { shard, node } = this.#options;
    if (this.#campaigning || this.term !== undefined) {
      throw new PfsError("FAILED_PRECONDITION", `${node} already campaigns for shard ${shard}`);
    }
    this.#campaigning = true;
    try {
      if (!(await this.#options.isUpToDate())) {
        throw new PfsError("FAILED_PRECONDITION", `${node} lacks finished commits of shard ` +
          `${shard}; it may campaign once it has caught up`);
      }
      const campaign: CampaignOptions = {
        client: this.#options.client, root: this.#options.root, name: masterElectionName(shard),
        value: node, leaseTtlSeconds: this.#ttlSeconds, logger: this.#options.logger,
        ...(signal === undefined ? {} : { signal }),
      };
      const session = this.#options.session;
      const term = session === undefined ? await campaignForTerm(campaign)
        : await session.campaign(campaign.name, node, signal);
      // Checked again once elected, and this check is the one that counts: the previous
      // master's term is over, so its fenced writes can finish no more commits, and every
      // commit it did finish is in the store the predicate reads.
      if (!(await this.#options.isUpToDate())) {
        await term.resign();
        throw new PfsError("FAILED_PRECONDITION", `${node} fell behind on shard ${shard} ` +
          `while it waited to be elected; it resigned and may campaign once it has caught up`);
      }
      this.#term = term;
      return term;
    } finally {
      this.#campaigning = false;
    }
  }

  /** The current term while it lasts as far as this process knows; undefined otherwise. */
  get term(): LeaderTerm | undefined {
    const term = this.#term;
    return term === undefined || term.over.aborted ? undefined : term;
  }

  /** The fencing token of the current term (the election key's create revision). */
  get fencingToken(): bigint | undefined {
    return this.term?.fence.revision;
  }

  /**
   * Starts a metadata transaction fenced by the current term: add compares (`.and`), then
   * the ops (`.then`), and commit; `succeeded` is false when the term is over (or another
   * compare failed). FAILED_PRECONDITION when this replica is not master as far as it knows.
   */
  fencedTxn(kv: Etcd3 = this.#options.client): ComparatorBuilder {
    const term = this.term;
    if (term === undefined) {
      throw new PfsError("FAILED_PRECONDITION",
        `${this.#options.node} is not master of shard ${this.#options.shard}`);
    }
    return fencedIf(kv, term.fence);
  }

  /** Steps down (revokes the lease) so another replica takes over at once. */
  async resign(): Promise<void> {
    const term = this.#term;
    this.#term = undefined;
    if (term !== undefined && !term.over.aborted) await term.resign();
  }
}

export interface MasterObserverOptions {
  readonly client: Etcd3;
  readonly root: string;
  readonly shard: number;
  readonly logger: Logger;
}

/** The watched master of one shard, for routers. */
export class MasterObserver {
  readonly #options: MasterObserverOptions;
  readonly #listeners = new Set<(master: string | undefined) => void>();
  #watcher: Watcher | undefined;
  #master: string | undefined;
  /** Every candidate's node, oldest key first: the master, then the queue behind it. */
  #queue: readonly string[] = [];
  #closed = false;

  private constructor(options: MasterObserverOptions) {
    this.#options = options;
  }

  /** Reads the current master and starts watching; UNAVAILABLE when the store fails. */
  static async open(options: MasterObserverOptions): Promise<MasterObserver> {
    masterElectionName(options.shard);
    const observer = new MasterObserver(options);
    await observer.#observe();
    return observer;
  }

  async #observe(): Promise<void> {
    const { client, root, shard, logger } = this.#options;
    const prefix = `${root}/election/${masterElectionName(shard)}/`;
    const response = await client.getAll().prefix(prefix).exec().catch((error: unknown) => {
      throw unavailable(`cannot read the master election of shard ${shard}`, error);
    });
    const candidates = new Map<string, { createRevision: bigint; value: string }>();
    for (const kv of response.kvs) {
      candidates.set(kv.key.toString("utf8"),
        { createRevision: BigInt(kv.create_revision), value: kv.value.toString("utf8") });
    }
    const watcher = await client.watch().prefix(prefix)
      .startRevision((BigInt(response.header.revision) + 1n).toString()).create()
      .catch((error: unknown) => {
        throw unavailable(`cannot watch the master of shard ${shard}`, error);
      });
    if (this.#closed) {
      await watcher.cancel();
      return;
    }
    this.#watcher = watcher;
    const decide = (): void => {
      const queue = [...candidates.values()]
        .sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1));
      this.#queue = queue.map((candidate) => candidate.value);
      this.#set(queue[0]?.value);
    };
    decide();
    watcher.on("put", (kv) => {
      candidates.set(kv.key.toString("utf8"),
        { createRevision: BigInt(kv.create_revision), value: kv.value.toString("utf8") });
      decide();
    });
    watcher.on("delete", (kv) => {
      candidates.delete(kv.key.toString("utf8"));
      decide();
    });
    watcher.on("error", (error: unknown) => {
      logger.warn("master watch error (the client re-establishes it)", { shard, error });
    });
  }

  #set(master: string | undefined): void {
    if (master === this.#master) return;
    this.#master = master;
    for (const listener of this.#listeners) listener(master);
  }

  /** The master's node name as the watch last said, or undefined while there is none. */
  current(): string | undefined {
    return this.#master;
  }

  /** Every candidate's node as the watch last said, the master first, then in queue order. */
  queue(): readonly string[] {
    return this.#queue;
  }

  /** Calls `listener` on every change; returns the function that removes it. */
  onChange(listener: (master: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher !== undefined) await watcher.cancel();
  }
}
