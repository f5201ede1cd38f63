/**
 * The fault schedule of a run, drawn from a seeded PRNG: every gap it kills a member with -9
 * (restarting it after a while on the same data directory) or SIGSTOPs it (and SIGCONTs it
 * later). The target is the leader most often, found through Maintenance.Status (`leader`
 * against each member's header.member_id). One member is down at a time, so a majority stays
 * up, except for a small share of overlapping double faults that take the quorum away for a
 * moment. Before each fault every member must answer Status again (bounded wait), so faults
 * do not pile up on a member still catching up.
 */
import { performance } from "node:perf_hooks";
import type { Client } from "@grpc/grpc-js";
import type { Prng } from "../../../pkg/common/index.js";
import { etcdService } from "../../compat/support/etcd-process.js";
import type { ClusterMember, MemberCluster } from "../../support/member-cluster.js";
import { KvClient, channelOptions, unaryWithDeadline } from "./kv-client.js";

export interface NemesisOptions {
  /** Pause between faults, [min, max] ms. */
  readonly gapMs: readonly [number, number];
  /** How long a killed member stays down, [min, max] ms. */
  readonly killDownMs: readonly [number, number];
  /** How long a stopped member stays stopped, [min, max] ms. */
  readonly stopDownMs: readonly [number, number];
  /** Probability that the target is the leader (when one is known). */
  readonly leaderBias: number;
  /** Probability that a fault is a SIGSTOP rather than a kill -9. */
  readonly stopShare: number;
  /** Probability that a second member fails during the first one's fault. */
  readonly doubleFaultChance: number;
  /** Faults made first, in order, on the leader (when one is known), before random ones. */
  readonly openingFaults: readonly FaultRecord["kind"][];
}

export const defaultNemesisOptions: NemesisOptions = {
  gapMs: [800, 2_500], killDownMs: [300, 2_500], stopDownMs: [800, 3_500],
  leaderBias: 0.8, stopShare: 0.35, doubleFaultChance: 0.1, openingFaults: ["kill9", "sigstop"],
};

/** One fault, for the report. */
export interface FaultRecord {
  readonly atMs: number;
  readonly kind: "kill9" | "sigstop";
  readonly member: string;
  readonly wasLeader: boolean;
  readonly downMs: number;
  readonly overlapping: boolean;
}

const statusDeadlineMs = 700;
const settleMsMax = 8_000;
/** How long an opening fault waits for the members to agree on a leader. */
const openingLeaderWaitMs = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface WireStatus {
  readonly header?: { readonly member_id?: string } | null;
  readonly leader?: string;
}

/** How long a healed member may take to serve a linearizable read again. */
const healMsMax = 30_000;

async function waitServing(member: ClusterMember, cluster: MemberCluster): Promise<void> {
  const client = new KvClient(member.clientAddress, cluster.credentials());
  const deadline = performance.now() + healMsMax;
  try {
    for (;;) {
      try {
        await client.run({ kind: "get", key: "health" }, 1_000);
        return;
      } catch (error: unknown) {
        if (!member.running) {
          throw new Error(`${member.name} exited:\n${member.log().slice(-3000)}`, { cause: error });
        }
        if (performance.now() > deadline) {
          throw new Error(`${member.name} not serving ${healMsMax} ms after healing: ` +
            `${String(error)}\n${member.log().slice(-3000)}`, { cause: error });
        }
        await sleep(200);
      }
    }
  } finally {
    client.close();
  }
}

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  readonly #clients: Client[];
  readonly #startMs = performance.now();
  #stopped = false;
  #busy = false;
  readonly #loop: Promise<void>;

  constructor(
    private readonly cluster: MemberCluster,
    private readonly prng: Prng,
    private readonly options: NemesisOptions = defaultNemesisOptions,
  ) {
    const Maintenance = etcdService("etcdserverpb.Maintenance");
    this.#clients = cluster.members.map((member) =>
      new Maintenance(member.clientAddress, cluster.credentials(), channelOptions));
    this.#loop = this.#run();
  }

  #between(range: readonly [number, number]): number {
    return this.prng.intBetween(range[0], range[1]);
  }

  async #status(index: number): Promise<WireStatus | undefined> {
    const client = this.#clients[index];
    if (client === undefined || this.cluster.members[index]?.running !== true) return undefined;
    try {
      return await unaryWithDeadline<WireStatus>(client, "Status", {}, statusDeadlineMs);
    } catch {
      return undefined;
    }
  }

  /** The leader as the members report it, or undefined. */
  async leader(): Promise<ClusterMember | undefined> {
    const statuses = await Promise.all(this.cluster.members.map((_, i) => this.#status(i)));
    const leaderIds = statuses.map((status) => status?.leader ?? "0").filter((id) => id !== "0");
    const leaderId = leaderIds[0];
    if (leaderId === undefined) return undefined;
    const index = statuses.findIndex((status) => status?.header?.member_id === leaderId);
    return this.cluster.members[index];
  }

  /** Waits (bounded) until every member answers Status. */
  async #settle(): Promise<void> {
    const deadline = performance.now() + settleMsMax;
    while (!this.#stopped && performance.now() < deadline) {
      const statuses = await Promise.all(this.cluster.members.map((_, i) => this.#status(i)));
      if (statuses.every((status) => status !== undefined)) return;
      await sleep(200);
    }
  }

  async #fault(target: ClusterMember, kind: FaultRecord["kind"], downMs: number): Promise<void> {
    if (kind === "kill9") {
      await target.kill9();
      await sleep(downMs);
      await target.restart();
    } else {
      target.sigstop();
      await sleep(downMs);
      target.sigcont();
    }
  }

  /** The leader; for an opening fault, waits (bounded) for one to be known. */
  async #target(opening: boolean): Promise<ClusterMember | undefined> {
    const deadline = performance.now() + (opening ? openingLeaderWaitMs : 0);
    for (;;) {
      const leader = await this.leader();
      if (leader !== undefined || performance.now() > deadline) return leader;
      await sleep(200);
    }
  }

  async #one(): Promise<void> {
    const opening = this.options.openingFaults[this.faults.length];
    const leader = await this.#target(opening !== undefined);
    const live = this.cluster.members.filter((member) => member.running);
    if (live.length === 0) return;
    const toLeader = opening !== undefined || this.prng.chance(this.options.leaderBias);
    const target = leader !== undefined && toLeader ? leader : this.prng.pick(live);
    const kind = opening ?? (this.prng.chance(this.options.stopShare) ? "sigstop" : "kill9");
    const downMs = this.#between(kind === "kill9" ? this.options.killDownMs : this.options.stopDownMs);
    const atMs = performance.now() - this.#startMs;
    this.faults.push({ atMs, kind, member: target.name, wasLeader: target === leader, downMs,
      overlapping: false });
    const faults = [this.#fault(target, kind, downMs)];
    const others = live.filter((member) => member !== target);
    const double = opening === undefined && this.prng.chance(this.options.doubleFaultChance);
    if (others.length > 0 && double) {
      const second = this.prng.pick(others);
      const secondDownMs = Math.floor(downMs / 2);
      this.faults.push({ atMs, kind, member: second.name, wasLeader: second === leader,
        downMs: secondDownMs, overlapping: true });
      faults.push(this.#fault(second, kind, secondDownMs));
    }
    await Promise.all(faults);
  }

  /** True once every opening fault has been made (and finished). */
  get openingDone(): boolean {
    return this.faults.length >= this.options.openingFaults.length && !this.#busy;
  }

  /** A method, so that the checks after each await are not narrowed away. */
  #isStopped(): boolean {
    return this.#stopped;
  }

  async #run(): Promise<void> {
    while (!this.#isStopped()) {
      await sleep(this.#between(this.options.gapMs));
      if (this.#isStopped()) break;
      await this.#settle();
      if (this.#isStopped()) break;
      this.#busy = true;
      try {
        await this.#one();
      } finally {
        this.#busy = false;
      }
    }
  }

  /**
   * Stops injecting, lets the fault in progress finish, then heals every member and waits
   * (bounded, every call with a deadline) until each serves a linearizable read.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    for (const member of this.cluster.members) member.sigcont();
    for (const member of this.cluster.members) if (!member.running) await member.restart();
    for (const client of this.#clients) client.close();
    await Promise.all(this.cluster.members.map((member) => waitServing(member, this.cluster)));
  }

  /** One line per fault, times relative to the start of the schedule. */
  describe(): string {
    return this.faults.map((fault) => `${(fault.atMs / 1000).toFixed(1)}s ${fault.kind} ` +
      `${fault.member}${fault.wasLeader ? " (leader)" : ""} for ${fault.downMs} ms` +
      (fault.overlapping ? " (overlapping)" : "")).join("\n");
  }
}
