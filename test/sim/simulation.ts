/**
 * A deterministic, single-threaded simulation of a Raft cluster of the core's RawNodes, driven
 * by one seed (see sim-knobs.ts for everything it derives). Time is simulation steps; every node
 * ticks every `stepsPerTick` steps (give or take a fixed drift) at its own phase. The run has
 * two phases:
 *
 * 1. safety: partitions come and go, messages are delayed, reordered, lost and duplicated,
 *    nodes crash (losing unsynced writes, maybe tearing the last append) and restart from their
 *    durable state, clients write and read, leadership is transferred, voters are removed and
 *    learners added and promoted, and the driver snapshots and compacts;
 * 2. liveness: the network heals and stops losing, every crashed member restarts, and a leader
 *    must be elected and a new proposal committed within `livenessTicksMax` ticks, after which
 *    every live member must converge to the same state.
 *
 * Checkers (sim-checker.ts, linearizability.ts) judge the run; any failure makes it fail.
 */
import { type LogIndex, type NodeId, Prng, type Term, nodeId } from "../../pkg/common/index.js";
import {
  type ConfChange, ConfChangeType, type Entry, EntryType, type Message, type Role,
  type Snapshot,
} from "../../pkg/raft/index.js";
import { kvModel } from "./kv-model.js";
import { checkLinearizable, describeFailure } from "./linearizability.js";
import { SafetyChecker } from "./sim-checker.js";
import { SimDisk } from "./sim-disk.js";
import { type KnobOverrides, type SimKnobs, deriveKnobs } from "./sim-knobs.js";
import { Membership } from "./sim-membership.js";
import { SimNetwork, fullyConnected, isolate, randomPartition } from "./sim-network.js";
import { type NodeHooks, SimNode } from "./sim-node.js";
import { decodeCommand } from "./sim-state-machine.js";
import { SimTrace } from "./sim-trace.js";
import { Workload } from "./sim-workload.js";

export interface SimOptions {
  readonly verbose?: boolean;
  readonly overrides?: KnobOverrides;
  /**
   * Breaks the driver on purpose, to show that the checkers catch it (test/sim self-tests):
   * "skip-fsync" never makes writes durable, so crashes lose them; "read-local" serves reads
   * from the local state machine without ReadIndex; "no-heal" keeps every link cut in the
   * liveness phase, which must then fail.
   */
  readonly sabotage?: Sabotage;
  /** Search steps per key for the linearizability checker (default: the checker's). */
  readonly linearizabilityBudget?: number;
}

export type Sabotage = "skip-fsync" | "read-local" | "no-heal";

export interface SimResult {
  readonly knobs: SimKnobs;
  readonly passed: boolean;
  readonly failures: readonly string[];
  /** The end of the event trace (only filled when the run failed or was verbose). */
  readonly trace: readonly string[];
  readonly summary: string;
  readonly coverage: Coverage;
}

/**
 * What a run exercised, so that a suite can insist that each feature was really tested: a
 * core that refused every conf change or transfer would otherwise pass silently.
 */
export interface Coverage {
  leadersElected: number;
  transfersCompleted: number;
  snapshotsInstalled: number;
  learnersAdded: number;
  learnersPromoted: number;
  /** Brand-new nodes added straight as voters. */
  votersAdded: number;
  votersRemoved: number;
  crashes: number;
  tornAppends: number;
  /** Crashes that lost at least one unsynced write. */
  unsyncedWritesLost: number;
  pauses: number;
  partitions: number;
  putsAcked: number;
  readsServed: number;
}

/** A coverage record with every count at zero. */
export function emptyCoverage(): Coverage {
  return {
    leadersElected: 0, transfersCompleted: 0, snapshotsInstalled: 0, learnersAdded: 0,
    learnersPromoted: 0, votersAdded: 0, votersRemoved: 0, crashes: 0, tornAppends: 0, unsyncedWritesLost: 0,
    pauses: 0,
    partitions: 0, putsAcked: 0, readsServed: 0,
  };
}

/** The client id of the liveness probe (ordinary clients are 0..clientCount-1). */
const probeClientId = 1_000;
/** Ticks the converged state must hold: longer than any message delay. */
const convergedTicksStable = 20;

export class Simulation implements NodeHooks {
  readonly knobs: SimKnobs;
  readonly trace: SimTrace;
  readonly checker = new SafetyChecker();
  readonly #network: SimNetwork;
  readonly #faultPrng: Prng;
  readonly #diskPrng: Prng;
  readonly #seedPrng: Prng;
  readonly #workload: Workload;
  readonly #membership: Membership;
  readonly #nodes = new Map<NodeId, SimNode>();
  readonly #disks = new Map<NodeId, SimDisk>();
  /** Each node's tick interval (its clock rate) and the step of its next tick. */
  readonly #clocks = new Map<NodeId, { interval: number; next: number }>();
  /** Paused nodes and the tick at which they resume. */
  readonly #paused = new Map<NodeId, number>();
  /** Crashed nodes and the tick at which they restart. */
  readonly #down = new Map<NodeId, number>();
  readonly #incarnations = new Map<NodeId, number>();
  #step = 0;
  #tick = 0;
  #partitionEndsAt = 0;
  #pendingChange: { change: ConfChange; tick: number } | undefined;
  #liveness: { startTick: number; probe?: string; committedTick?: number } | undefined;
  #convergedTick: number | undefined;
  #stableTicks = 0;
  readonly #sabotage: Sabotage | undefined;
  readonly #coverage = emptyCoverage();
  #transferTarget: NodeId | undefined;
  readonly #linearizabilityBudget: number | undefined;
  /**
   * The membership at index 0, which every node's storage starts from, joiners included: the
   * core keeps the initial configuration in the index-0 snapshot rather than in log entries,
   * so a node added later replays the log from index 1 on top of it (or gets a snapshot).
   */
  readonly #genesisVoters: readonly NodeId[];
  /**
   * Each put value's first application by any node: the step, and the key's version it made.
   * First applications happen in log order (whoever first applies i + 1 applied i before), so
   * counting puts per key here gives the versions of the committed log.
   */
  readonly #firstApplied = new Map<string, { step: number; version: number }>();
  readonly #committedVersions = new Map<string, number>();

  constructor(seed: number, options: SimOptions = {}) {
    this.knobs = deriveKnobs(seed, options.overrides);
    const verbose = options.verbose ?? false;
    this.trace = new SimTrace(verbose, verbose ? 20_000 : 2_000);
    // A stream apart from the one deriveKnobs draws from the same seed.
    const root = new Prng(seed).fork().fork();
    this.#network = new SimNetwork(root.fork(), this.knobs.network);
    this.#faultPrng = root.fork();
    this.#diskPrng = root.fork();
    this.#seedPrng = root.fork();
    const clientPrng = root.fork();
    this.#sabotage = options.sabotage;
    this.#linearizabilityBudget = options.linearizabilityBudget;
    this.#workload = new Workload(clientPrng, this.knobs.clientCount, this.knobs.keyCount,
      (line) => { this.#note(line); }, this.#sabotage === "read-local");
    const initial = Array.from({ length: this.knobs.nodeCount }, (_, i) => nodeId(BigInt(i + 1)));
    this.#membership = new Membership(initial, this.knobs.nodeCount === 3 ? 4 : 5);
    this.#genesisVoters = initial;
    for (const id of initial) this.#create(id, initial);
  }

  #note(line: string): void {
    this.trace.add(this.#step, line);
  }

  #create(id: NodeId, voters: readonly NodeId[]): void {
    const snapshot: Snapshot = {
      metadata: { index: 0 as LogIndex, term: 0 as Term, confState: { voters, learners: [] } },
      data: new Uint8Array(0),
    };
    const hardState = { term: 0 as Term, vote: 0n as NodeId, commit: 0 as LogIndex };
    this.#disks.set(id, new SimDisk({ hardState, snapshot, entries: [] }));
    const drift = this.knobs.tickDriftSteps;
    const interval = this.knobs.stepsPerTick + this.#faultPrng.intBetween(-drift, drift);
    this.#clocks.set(id, { interval, next: this.#step + 1 + this.#faultPrng.intBelow(interval) });
    this.#start(id);
  }

  #start(id: NodeId): void {
    const disk = this.#disks.get(id);
    if (disk === undefined) return;
    const incarnation = (this.#incarnations.get(id) ?? 0) + 1;
    this.#incarnations.set(id, incarnation);
    const seed = this.#seedPrng.intBelow(2 ** 31);
    const node = SimNode.start(id, incarnation, disk, seed, this.knobs, this,
      this.#sabotage === "skip-fsync");
    this.#nodes.set(id, node);
    this.#down.delete(id);
    this.#note(`n${id} start #${incarnation} (durable commit ${disk.durable.hardState.commit}, ` +
      `snapshot ${disk.durable.snapshot.metadata.index} voters ` +
      `[${disk.durable.snapshot.metadata.confState.voters.join(",")}] learners ` +
      `[${disk.durable.snapshot.metadata.confState.learners.join(",")}], ` +
      `${disk.durable.entries.length} entries)`);
  }

  /** Runs both phases and every check; never throws for a failure of the system under test. */
  run(): SimResult {
    try {
      this.#loop();
      if (this.checker.failures.length === 0) this.#finalChecks();
    } catch (error: unknown) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.checker.fail(`exception at step ${this.#step}: ${text}`);
    }
    const passed = this.checker.failures.length === 0;
    return {
      knobs: this.knobs, passed, failures: this.checker.failures,
      trace: passed && !this.trace.verbose ? [] : this.trace.tail(this.trace.verbose ? 20_000 : 400),
      summary: this.#summary(),
      coverage: {
        ...this.#coverage, putsAcked: this.#workload.stats.acked,
        readsServed: this.#workload.stats.served,
      },
    };
  }

  #loop(): void {
    const { stepsPerTick, safetyTicks, livenessTicksMax } = this.knobs;
    const stepsMax = (safetyTicks + 2 * livenessTicksMax + 10) * stepsPerTick;
    for (; this.#step < stepsMax; this.#step += 1) {
      this.#deliverDue();
      for (const [id, node] of this.#nodes) {
        const clock = this.#clocks.get(id);
        if (clock === undefined || this.#step < clock.next) continue;
        clock.next += clock.interval;
        node.tick();
      }
      if (this.#step % stepsPerTick === 0) {
        this.#perTick();
        this.#tick += 1;
      }
      this.#pollAll();
      if (this.#tick < this.knobs.safetyTicks) this.#crashesDuringSync();
      if (this.checker.failures.length > 0 || this.#convergedTick !== undefined) return;
    }
    this.checker.fail(`run did not finish within ${stepsMax} steps`);
  }

  #deliverDue(): void {
    for (;;) {
      const due = this.#network.nextDue(this.#step);
      if (due === undefined) return;
      const message = due.envelope.message;
      const target = this.#nodes.get(message.to);
      const delivered = !due.dropped && target !== undefined;
      if (this.trace.verbose) this.#traceMessage(message, delivered ? "recv" : "drop");
      if (message.type === "installSnapshot") this.#reportSnapshot(message, delivered);
      if (due.dropped) this.#reportUnreachable(message);
      if (delivered) target.deliver(message);
    }
  }

  #reportUnreachable(message: Message): void {
    if (!this.knobs.reportUnreachable) return;
    const sender = this.#nodes.get(message.from);
    sender?.whenAccepting(() => { sender.raft.reportUnreachable(message.to); });
  }

  #reportSnapshot(message: Message, delivered: boolean): void {
    const sender = this.#nodes.get(message.from);
    sender?.whenAccepting(() => { sender.raft.reportSnapshot(message.to, delivered); });
  }

  #traceMessage(message: Message, what: string): void {
    const extra = message.type === "appendEntries"
      ? ` idx ${message.index}/${message.logTerm} n=${message.entries.length} c=${message.commit}`
      : "";
    this.#note(`${what} ${message.type} ${message.from}->${message.to} t${message.term}${extra}`);
  }

  #pollAll(): void {
    for (let round = 0; round < 100; round += 1) {
      let progressed = false;
      for (const node of [...this.#nodes.values()]) {
        if (this.#nodes.get(node.id) !== node) continue; // Stopped during this round.
        for (let i = 0; i < 20 && node.poll(this.#step, this.#diskPrng); i += 1) progressed = true;
      }
      if (!progressed) return;
    }
  }

  #perTick(): void {
    const inSafety = this.#tick < this.knobs.safetyTicks;
    if (inSafety) {
      const replayed = this.#network.replayStale(this.#step);
      if (replayed !== undefined && this.trace.verbose) this.#traceMessage(replayed, "replay");
      this.#partitions();
      this.#crashes();
      this.#pauses();
      this.#transfer();
      this.#changeMembership();
    } else if (this.#liveness === undefined) {
      this.#beginLiveness();
    }
    for (const [id, at] of [...this.#down]) if (at <= this.#tick) this.#start(id);
    this.#resumePaused(!inSafety);
    if (this.#liveness === undefined || this.#liveness.committedTick === undefined) {
      const timeoutSteps = this.knobs.clientTimeoutTicks * this.knobs.stepsPerTick;
      this.#workload.tick(this.#step, this.#liveMembers(), this.knobs.clientOperationProbability,
        this.knobs.readFraction, timeoutSteps);
    }
    if (this.#liveness !== undefined) this.#checkLiveness();
  }

  #liveMembers(): SimNode[] {
    return [...this.#nodes.values()].filter((node) => this.#membership.has(node.id));
  }

  #leader(): SimNode | undefined {
    return this.#liveMembers().find((node) =>
      node.role === "leader" && this.#membership.voters.has(node.id));
  }

  #partitions(): void {
    const partition = this.#network.partition;
    if (partition !== fullyConnected && this.#tick >= this.#partitionEndsAt) {
      this.#network.setPartition(fullyConnected);
      this.#note(`partition healed`);
    }
    if (this.#network.partition !== fullyConnected) return;
    if (!this.#faultPrng.chance(this.knobs.partitionStartProbability)) return;
    const ids = [...this.#disks.keys()].filter((id) => !this.#membership.removed.has(id));
    const leader = this.#leader();
    const next = leader !== undefined && this.#faultPrng.chance(this.knobs.leaderTargetProbability)
      ? isolate(leader.id, this.#faultPrng.chance(0.5))
      : randomPartition(this.#faultPrng, ids);
    this.#network.setPartition(next);
    this.#partitionEndsAt = this.#tick + this.#faultPrng.intBetween(5, this.knobs.partitionTicksMax);
    this.#note(`partition: ${next.name} until tick ${this.#partitionEndsAt}`);
    this.#coverage.partitions += 1;
  }

  #pauses(): void {
    for (const [id, node] of this.#nodes) {
      if (node.paused || !this.#faultPrng.chance(this.knobs.pauseProbability)) continue;
      const until = this.#tick + this.#faultPrng.intBetween(1, this.knobs.pauseTicksMax);
      this.#paused.set(id, until);
      node.pause();
      this.#note(`n${id} paused until tick ${until}`);
      this.#coverage.pauses += 1;
    }
  }

  #resumePaused(all: boolean): void {
    for (const [id, until] of [...this.#paused]) {
      if (!all && until > this.#tick) continue;
      this.#paused.delete(id);
      const node = this.#nodes.get(id);
      if (node === undefined) continue;
      node.resume();
      this.#note(`n${id} resumed`);
    }
  }

  #crashes(): void {
    for (const id of [...this.#nodes.keys()]) {
      if (this.#down.size >= this.knobs.crashedNodesMax) return;
      if (!this.#faultPrng.chance(this.knobs.crashProbability)) continue;
      const leader = this.#leader();
      const victim = leader !== undefined &&
        this.#faultPrng.chance(this.knobs.leaderTargetProbability) ? leader.id : id;
      this.#crash(victim, this.#tick + this.#faultPrng.intBetween(1, this.knobs.downTicksMax));
    }
  }

  /**
   * Crashes that hit a node while its fsync is outstanding: the moment unsynced writes exist,
   * so the disk's loss and tearing are exercised far more often than by crashes at random.
   */
  #crashesDuringSync(): void {
    for (const [id, node] of [...this.#nodes]) {
      if (!node.busy || this.#down.size >= this.knobs.crashedNodesMax) continue;
      if (!this.#faultPrng.chance(this.knobs.crashProbability * 5)) continue;
      this.#crash(id, this.#tick + this.#faultPrng.intBetween(1, this.knobs.downTicksMax));
    }
  }

  #crash(id: NodeId, restartTick: number | undefined): void {
    const disk = this.#disks.get(id);
    if (disk === undefined || !this.#nodes.delete(id)) return;
    this.#paused.delete(id);
    const effect = disk.crash(this.#diskPrng, this.knobs.tearProbability);
    if (restartTick !== undefined) this.#coverage.crashes += 1;
    if (effect.tornEntriesKept !== undefined) this.#coverage.tornAppends += 1;
    if (effect.kept < effect.pending) this.#coverage.unsyncedWritesLost += 1;
    if (restartTick !== undefined) this.#down.set(id, restartTick);
    this.#note(`n${id} crash: kept ${effect.kept}/${effect.pending} unsynced writes` +
      (effect.tornEntriesKept === undefined ? "" : `, torn append kept ${effect.tornEntriesKept}`) +
      (restartTick === undefined ? ", stopped for good" : `, restart at tick ${restartTick}`));
  }

  #transfer(): void {
    if (!this.#faultPrng.chance(this.knobs.transferProbability)) return;
    const leader = this.#leader();
    const targets = [...this.#membership.voters].filter((id) => id !== leader?.id);
    if (leader === undefined || targets.length === 0) return;
    const target = this.#faultPrng.pick(targets.sort((a, b) => Number(a - b)));
    this.#note(`transfer leadership ${leader.id} -> ${target}`);
    this.#transferTarget = target;
    leader.whenAccepting(() => { leader.raft.transferLeader(target); });
  }

  #changeMembership(): void {
    const pending = this.#pendingChange;
    if (pending !== undefined && this.#tick - pending.tick > 100) this.#pendingChange = undefined;
    if (!this.knobs.membershipChanges || this.#pendingChange !== undefined) return;
    if (!this.#faultPrng.chance(this.knobs.confChangeProbability)) return;
    const leader = this.#leader();
    if (leader === undefined) return;
    const change = this.#membership.plan(this.#faultPrng);
    if (change === undefined) return;
    this.#pendingChange = { change, tick: this.#tick };
    this.#note(`propose conf change ${ConfChangeType[change.type]} ${change.nodeId} at ${leader.id}`);
    leader.whenAccepting(() => {
      const result = leader.raft.proposeConfChange(change);
      if (result.ok) return;
      this.#note(`conf change refused: ${result.error}`);
      this.#pendingChange = undefined;
    });
  }

  #beginLiveness(): void {
    this.#liveness = { startTick: this.#tick };
    this.#network.setPartition(this.#sabotage === "no-heal"
      ? { name: "everything cut", cut: () => true }
      : fullyConnected);
    this.#network.stopFaults(3 * this.knobs.stepsPerTick);
    for (const id of [...this.#down.keys()]) this.#start(id);
    this.#note(`liveness phase: network healed, all members up`);
  }

  #checkLiveness(): void {
    const liveness = this.#liveness;
    if (liveness === undefined) return;
    const elapsed = this.#tick - liveness.startTick;
    if (liveness.committedTick === undefined) {
      if (liveness.probe !== undefined && this.#workload.acked.includes(liveness.probe)) {
        liveness.committedTick = this.#tick;
        this.#note(`liveness: probe committed after ${elapsed} ticks`);
        return;
      }
      if (elapsed > this.knobs.livenessTicksMax) {
        this.checker.fail(`liveness: no leader committed a new proposal within ` +
          `${this.knobs.livenessTicksMax} ticks after healing: ${this.#roles()}`);
        return;
      }
      const leader = this.#leader();
      if (leader !== undefined && !this.#workload.isOutstanding(probeClientId)) {
        const timeoutSteps = 3 * this.knobs.electionTicks * this.knobs.stepsPerTick;
        liveness.probe = this.#workload.start(this.#step, probeClientId, leader, "k0", "put",
          timeoutSteps);
      }
      return;
    }
    this.#checkConvergence(this.#tick - liveness.committedTick);
  }

  /**
   * Converged: every live member has applied its whole log, all logs end at the same index,
   * and that has held for `convergedTicksStable` ticks (so no late proposal is still in flight).
   */
  #checkConvergence(elapsed: number): void {
    const members = this.#liveMembers();
    const lastIndexes = members.map((node) => node.raft.status().lastIndex);
    const target = Math.max(...lastIndexes);
    const converged = members.every((node, i) =>
      node.applied === target && lastIndexes[i] === target && !node.busy);
    this.#stableTicks = converged ? this.#stableTicks + 1 : 0;
    if (this.#stableTicks >= convergedTicksStable) {
      this.#convergedTick = this.#tick;
      this.#note(`converged at index ${target} after ${elapsed} ticks`);
      return;
    }
    if (elapsed > this.knobs.livenessTicksMax) {
      const applied = members.map((node) => `n${node.id}@${node.applied}`).join(" ");
      this.checker.fail(`liveness: members did not converge on index ${target} within ` +
        `${this.knobs.livenessTicksMax} ticks: ${applied}; ${this.#roles()}`);
    }
  }

  #roles(): string {
    return [...this.#nodes.values()].map((node) => {
      const status = node.raft.status();
      return `n${node.id}:${status.role}/t${status.term}/c${status.commit}/a${node.applied}`;
    }).join(" ") + ` down:[${[...this.#down.keys()].join(",")}]`;
  }

  #finalChecks(): void {
    this.#workload.finishAll(this.#firstApplied);
    const machines = new Map(this.#liveMembers().map((node) => [node.id, node.machine]));
    this.checker.checkConverged(machines, this.#workload.acked);
    const model = kvModel();
    const history = this.#workload.history;
    const budget = this.#linearizabilityBudget;
    const result = checkLinearizable(model, history,
      budget === undefined ? {} : { stepBudgetPerPartition: budget });
    for (const partition of result.partitions) {
      if (partition.outcome === "ok") continue;
      this.checker.fail(`linearizability ${partition.outcome}:\n` +
        describeFailure(model, history, partition));
    }
  }

  get #livenessTicks(): number | undefined {
    const liveness = this.#liveness;
    if (liveness?.committedTick === undefined) return undefined;
    return liveness.committedTick - liveness.startTick;
  }

  #summary(): string {
    const n = this.#network.stats;
    const w = this.#workload.stats;
    return `ticks=${this.#tick} committed=${this.checker.committedIndexMax} ` +
      `puts=${w.puts} acked=${w.acked} reads=${w.served} refused=${w.refused} ` +
      `timedOut=${w.timedOut} msgs=${n.sent} lost=${n.lost} dup=${n.duplicated} ` +
      `replayed=${n.replayed} ` +
      `cut=${n.partitioned} members=[${this.#membership.members.join(",")}] ` +
      `livenessTicks=${this.#livenessTicks ?? "-"}`;
  }

  // ---- NodeHooks --------------------------------------------------------------------------

  send(_node: SimNode, message: Message): void {
    if (this.trace.verbose) this.#traceMessage(message, `send`);
    const dropped = this.#network.send(this.#step, message, message.type !== "propose");
    if (dropped !== undefined && message.type === "installSnapshot") {
      this.#reportSnapshot(message, false);
    }
    if (dropped === "partition") this.#reportUnreachable(message);
  }

  applied(node: SimNode, entry: Entry): void {
    this.checker.entryApplied(node.id, entry);
    if (entry.type !== EntryType.Normal) return;
    const command = decodeCommand(entry.data);
    if (command === undefined) return;
    let first = this.#firstApplied.get(command.value);
    if (first === undefined) {
      const version = (this.#committedVersions.get(command.key) ?? 0) + 1;
      this.#committedVersions.set(command.key, version);
      first = { step: this.#step, version };
      this.#firstApplied.set(command.value, first);
      if (this.trace.verbose) {
        this.#note(`committed put ${command.key}=${command.value} v${version} at ${entry.index} ` +
          `(first applied by n${node.id})`);
      }
    }
    this.#workload.putApplied(this.#step, node, command.value, first.version);
  }

  snapshotRestored(node: SimNode, snapshot: Snapshot): void {
    this.#note(`n${node.id} installed snapshot at ${snapshot.metadata.index}`);
    this.#coverage.snapshotsInstalled += 1;
    this.checker.snapshotRestored(node.id, snapshot);
  }

  confChangeApplied(node: SimNode, entry: Entry, change: ConfChange): void {
    if (!this.#membership.fold(entry.index, change)) return;
    this.#note(`committed conf change ${ConfChangeType[change.type]} ${change.nodeId} ` +
      `at ${entry.index} (first applied by n${node.id})`);
    if (this.#pendingChange?.change.nodeId === change.nodeId) this.#pendingChange = undefined;
    if (change.type === ConfChangeType.AddLearner) this.#coverage.learnersAdded += 1;
    if (change.type === ConfChangeType.AddNode) {
      if (this.#disks.has(change.nodeId)) this.#coverage.learnersPromoted += 1;
      else this.#coverage.votersAdded += 1;
    }
    if (change.type === ConfChangeType.RemoveNode) this.#coverage.votersRemoved += 1;
    if (change.type === ConfChangeType.RemoveNode) {
      this.#down.delete(change.nodeId);
      this.#crash(change.nodeId, undefined);
    } else if (!this.#disks.has(change.nodeId)) {
      this.#create(change.nodeId, this.#genesisVoters);
    }
  }

  readServed(node: SimNode, context: string): void {
    this.#workload.readServed(this.#step, node, context);
  }

  roleChanged(node: SimNode, role: Role): void {
    const status = node.raft.status();
    this.#note(`n${node.id} is ${role} in term ${status.term}`);
    if (role !== "leader") return;
    this.checker.leaderElected(node.id, status.term);
    this.checker.leaderCompleteness(node.id, status.lastIndex, (index) => {
      const found = node.storage.term(index as LogIndex);
      return found.ok ? found.value : undefined;
    });
    this.#coverage.leadersElected += 1;
    if (this.#transferTarget === node.id) this.#coverage.transfersCompleted += 1;
    this.#transferTarget = undefined;
  }

  violation(node: SimNode, message: string): void {
    this.checker.fail(`n${node.id}: ${message}`);
  }
}

/** Runs one seed. */
export function runSimulation(seed: number, options: SimOptions = {}): SimResult {
  return new Simulation(seed, options).run();
}
