/**
 * `PpsMaster`: the elected pps master (DESIGN.md §5). Every pfsd runs one; the one that holds
 * the election `<pps root>/election/pps-master/` (campaignForTerm, fenced) turns finished
 * input commits into jobs and drives them (master-term.ts): starts them (output commit, datum
 * split, skips, tasks), keeps their progress, assembles their output, kills them when their
 * pipeline is updated or deleted, and cleans up after them. The workers (pkg/pps/worker) run
 * the datums.
 *
 * While it holds a term it runs one MasterTerm; when the term is over (lease lost, a fenced
 * write refused) it stops at once and campaigns again after `ppsMasterRecampaignMs`. A master
 * deposed without noticing writes nothing: each write is fenced by the term's key. `close()`
 * resigns, so another node's master takes over at once.
 */
import type { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import type { PfsClient } from "../../pfs/client/index.js";
import { type Clock, type Logger, PfsError, assert } from "../../common/index.js";
import {
  type LeaderTerm, MetaKeys, campaignForTerm, decodeClusterConfig, metaRootDefault,
} from "../../pfs/index.js";
import { type PpsKeys, ppsMasterElection } from "../keys.js";
import { ppsMasterLeaseTtlSecondsDefault, ppsMasterRecampaignMs } from "./limits.js";
import { MasterStore } from "./master-store.js";
import { MasterTerm } from "./master-term.js";

export interface PpsMasterOptions {
  /** A ROOT client (fence keys are full keys). */
  readonly client: Etcd3;
  readonly keys: PpsKeys;
  /** Dialled to this node's own pfs API. */
  readonly pfs: PfsClient;
  /** This node's name (what the election announces). */
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default `ppsMasterLeaseTtlSecondsDefault`. */
  readonly leaseTtlSeconds?: number;
  /** The cluster's shard count S; read from pfs's cluster config when absent. */
  readonly shards?: number;
  /** pfs's key root, where the cluster config is (default `/pfs`). */
  readonly pfsRoot?: string;
}

/** What the master has done, for status and tests. */
export interface PpsMasterStats {
  readonly terms: number;
  readonly leading: boolean;
}

export class PpsMaster {
  readonly #options: PpsMasterOptions;
  readonly #closing = new AbortController();
  readonly #logger: Logger;
  #run: Promise<void> | undefined;
  #term: LeaderTerm | undefined;
  #terms = 0;

  constructor(options: PpsMasterOptions) {
    const ttl = options.leaseTtlSeconds ?? ppsMasterLeaseTtlSecondsDefault;
    assert(Number.isSafeInteger(ttl) && ttl >= 1, () => `pps master lease TTL ${ttl} s`);
    assert(options.node !== "", "the pps master needs its node's name");
    this.#options = options;
    this.#logger = options.logger.child({ component: "pps-master" });
  }

  /** Starts campaigning; the master then leads whenever it holds the election. */
  start(): void {
    assert(this.#run === undefined, "pps master started twice");
    this.#run = this.#campaignLoop().catch((error: unknown) => {
      this.#logger.error("the pps master stopped", { error });
    });
  }

  get stats(): PpsMasterStats {
    return { terms: this.#terms, leading: this.#term !== undefined && !this.#term.over.aborted };
  }

  /** Stops leading (resigns the election) and campaigning; resolves once stopped. */
  async close(): Promise<void> {
    this.#closing.abort();
    const term = this.#term;
    if (term !== undefined && !term.over.aborted) {
      await term.resign().catch((error: unknown) => {
        this.#logger.warn("cannot resign the pps master term (its lease will expire)", { error });
      });
    }
    await this.#run;
  }

  async #shards(): Promise<number> {
    if (this.#options.shards !== undefined) return this.#options.shards;
    const key = new MetaKeys(this.#options.pfsRoot ?? metaRootDefault).config();
    const value = await this.#options.client.get(key).buffer();
    if (value === null) {
      throw new PfsError("UNAVAILABLE", `the pfs cluster config ${key} is not written yet`);
    }
    return decodeClusterConfig(key, value).shards;
  }

  #closed(): boolean {
    return this.#closing.signal.aborted;
  }

  async #campaignLoop(): Promise<void> {
    const { clock } = this.#options;
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      try {
        await this.#lead();
      } catch (error: unknown) {
        if (!this.#closed()) this.#logger.warn("pps master term ended", { error });
      }
      this.#term = undefined;
      if (!this.#closed()) await clock.sleep(ppsMasterRecampaignMs, signal).catch(() => undefined);
    }
  }

  /** Wins one term and runs it until it is over. */
  async #lead(): Promise<void> {
    const { client, keys, node } = this.#options;
    const term = await campaignForTerm({
      client, root: keys.root, name: ppsMasterElection, value: node, logger: this.#logger,
      leaseTtlSeconds: this.#options.leaseTtlSeconds ?? ppsMasterLeaseTtlSecondsDefault,
      signal: this.#closing.signal,
    });
    this.#term = term;
    this.#terms += 1;
    try {
      const run = new MasterTerm({
        client, store: new MasterStore(client, keys, term.fence), pfs: this.#options.pfs,
        shards: await this.#shards(), over: term.over, clock: this.#options.clock,
        logger: this.#logger,
      });
      await run.run();
    } finally {
      // A term that ends for another reason than a lost lease is given up, so the next
      // campaign (ours or another node's) is not stuck behind our own key.
      if (!term.over.aborted) {
        await term.resign().catch((error: unknown) => {
          this.#logger.warn("cannot resign the pps master term (its lease will expire)",
            { error });
        });
      }
    }
  }
}
