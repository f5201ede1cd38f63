/**
 * The chaos run's nemesis: every gap it kills -9 one node (the Raft leader or a shard master
 * more often than the others) and restarts it on its data dir after a random pause. At most
 * one node is down at a time, so with R=3 every shard keeps a majority of its replicas and
 * every acknowledged commit (W=2 copies) keeps a copy on a live node. Each kill is recorded
 * with the victim's role and the times of the kill and the restart; the checker adds when
 * writes succeeded again. Randomness comes from the run's seed.
 */
import type { Prng } from "../../pkg/common/index.js";
import type { PfsCluster } from "./pfs-cluster.js";

export interface PfsNemesisOptions {
  /** Pause between the end of one fault and the next kill, [min, max] ms. */
  readonly gapMs: readonly [number, number];
  /** How long a killed node stays down, [min, max] ms. */
  readonly downMs: readonly [number, number];
  /** Probability that the victim is the Raft leader (when one is known). */
  readonly leaderBias: number;
  /** Otherwise, probability that the victim is a random shard's master (when it has one). */
  readonly masterBias: number;
}

export const defaultPfsNemesisOptions: PfsNemesisOptions = {
  gapMs: [2_000, 5_000], downMs: [1_000, 4_000], leaderBias: 0.35, masterBias: 0.5,
};

export type VictimRole = "raft-leader" | "shard-master" | "random";

export interface KillRecord {
  readonly node: string;
  readonly role: VictimRole;
  /** Date.now() at the kill. */
  readonly atMs: number;
  /** Date.now() once the node served again (0 while it is down). */
  restartedAtMs: number;
  /** A restart that failed, and why (the run fails). */
  restartError: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class PfsNemesis {
  readonly kills: KillRecord[] = [];
  readonly #cluster: PfsCluster;
  readonly #prng: Prng;
  readonly #options: PfsNemesisOptions;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(cluster: PfsCluster, prng: Prng, options: PfsNemesisOptions) {
    this.#cluster = cluster;
    this.#prng = prng;
    this.#options = options;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops after the fault in progress healed; resolves then. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  #between(range: readonly [number, number]): number {
    return this.#prng.intBetween(range[0], range[1]);
  }

  async #victim(): Promise<{ node: string; role: VictimRole }> {
    const names = this.#cluster.names;
    if (this.#prng.chance(this.#options.leaderBias)) {
      const leader = await this.#cluster.raftLeader();
      if (leader !== undefined) return { node: leader, role: "raft-leader" };
    }
    if (this.#prng.chance(this.#options.masterBias)) {
      const shard = this.#prng.intBelow(this.#cluster.options.shards);
      const master = await this.#cluster.shardMaster(shard).catch(() => undefined);
      if (master !== undefined && names.includes(master)) {
        return { node: master, role: "shard-master" };
      }
    }
    const node = names[this.#prng.intBelow(names.length)];
    if (node === undefined) throw new Error("a cluster without nodes");
    return { node, role: "random" };
  }

  async #run(): Promise<void> {
    for (;;) {
      await sleep(this.#between(this.#options.gapMs));
      if (this.#stopped) return;
      if (this.#cluster.running().length < this.#cluster.names.length) continue;
      const victim = await this.#victim();
      const record: KillRecord = { ...victim, atMs: Date.now(), restartedAtMs: 0,
        restartError: "" };
      this.kills.push(record);
      await this.#cluster.kill9(victim.node);
      await sleep(this.#between(this.#options.downMs));
      try {
        await this.#cluster.restart(victim.node);
        record.restartedAtMs = Date.now();
      } catch (error: unknown) {
        record.restartError = String(error).slice(0, 2_000);
        this.#stopped = true;
      }
    }
  }
}
