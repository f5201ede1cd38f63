/**
 * Every knob of a simulation run, derived from one seed (TigerBeetle's VOPR): cluster size,
 * network faults, disk latency and tearing, crash and restart rates, client load, leader
 * transfers, membership changes and snapshot frequency. Printed at the start of a run.
 */
import { Prng, prngSeedMax, assertSafeInteger } from "../../pkg/common/index.js";
import type { NetworkKnobs } from "./sim-network.js";

export interface SimKnobs {
  readonly seed: number;
  readonly nodeCount: number;
  /** Simulation steps per Raft tick; message delays and fsyncs are measured in steps. */
  readonly stepsPerTick: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly safetyTicks: number;
  /** Ticks the liveness phase may take to elect a leader and commit a new proposal. */
  readonly livenessTicksMax: number;
  readonly network: NetworkKnobs;
  /** Per tick: chance that a new partition starts when none is active. */
  readonly partitionStartProbability: number;
  readonly partitionTicksMax: number;
  readonly fsyncStepsMax: number;
  readonly tearProbability: number;
  /** Per tick and node: chance that a live node crashes. */
  readonly crashProbability: number;
  readonly downTicksMax: number;
  /** At most this many nodes down at once (the safety phase may exceed a minority). */
  readonly crashedNodesMax: number;
  readonly clientCount: number;
  readonly keyCount: number;
  /** Per tick and idle client: chance of starting an operation. */
  readonly clientOperationProbability: number;
  readonly readFraction: number;
  readonly clientTimeoutTicks: number;
  readonly transferProbability: number;
  readonly membershipChanges: boolean;
  readonly confChangeProbability: number;
  /** The driver snapshots and compacts every this many applied entries. */
  readonly snapshotEntries: number;
  /** Entries kept behind a snapshot (etcd catch-up entries). */
  readonly compactionKeepEntries: number;
  /** Whether messages and ticks reach a node between ready() and advance() (etcd allows it). */
  readonly stepWhileSyncing: boolean;
  /** Each node's tick interval is stepsPerTick plus a fixed drift in [-this, +this] steps. */
  readonly tickDriftSteps: number;
  /** Per tick and node: chance that a live node pauses (no ticks, no processing). */
  readonly pauseProbability: number;
  readonly pauseTicksMax: number;
  /** Whether the driver reports a peer unreachable when a message to it is cut. */
  readonly reportUnreachable: boolean;
  /** Chance that a crash or an isolation picks the current leader rather than any node. */
  readonly leaderTargetProbability: number;
  /** Flow-control limits of the core, small to exercise probing and pipelining. */
  readonly maxEntriesPerMessage: number;
  readonly maxInflightMessages: number;
}

/** Options that override what the seed would choose (tests pin some features). */
export interface KnobOverrides {
  readonly nodeCount?: number;
  readonly safetyTicks?: number;
  readonly membershipChanges?: boolean;
  readonly crashProbability?: number;
}

/** Derives the knobs of a run from its seed; the same seed always gives the same knobs. */
export function deriveKnobs(seed: number, overrides: KnobOverrides = {}): SimKnobs {
  assertSafeInteger(seed, "simulation seed", 0, prngSeedMax);
  const prng = new Prng(seed);
  const nodeCount = overrides.nodeCount ?? prng.pick([3, 3, 5]);
  // Up to 12 ticks: beyond the election timeout, where elections keep failing (safety only;
  // the liveness phase caps delays at 3 ticks).
  const delayStepsMax = prng.pick([3, 10, 25, 60, 120]);
  const knobs = {
    seed, nodeCount, stepsPerTick: 10, electionTicks: 10, heartbeatTicks: 1,
    safetyTicks: overrides.safetyTicks ?? prng.intBetween(1000, 3000),
    livenessTicksMax: 300,
    network: {
      delayStepsMin: 1, delayStepsMax,
      lossProbability: prng.pick([0, 0.01, 0.05, 0.2]),
      duplicateProbability: prng.pick([0, 0.02, 0.1]),
      staleReplayProbability: prng.pick([0, 0.05, 0.3]),
    },
    partitionStartProbability: prng.pick([0, 0.005, 0.02, 0.05]),
    partitionTicksMax: prng.pick([20, 80, 200]),
    fsyncStepsMax: prng.pick([0, 2, 8, 30]),
    tearProbability: prng.pick([0, 0.5]),
    crashProbability: pickOverride(prng, overrides.crashProbability,
      [0, 0.0005, 0.002, 0.006, 0.02]),
    downTicksMax: prng.pick([5, 40, 150]),
    crashedNodesMax: prng.pick([1, Math.floor(nodeCount / 2), nodeCount]),
    clientCount: prng.pick([2, 4, 6, 12]),
    keyCount: prng.intBetween(1, 4),
    clientOperationProbability: prng.pick([0.1, 0.3, 0.8]),
    readFraction: prng.pick([0.2, 0.5]),
    clientTimeoutTicks: prng.pick([15, 40]),
    transferProbability: prng.pick([0, 0.002, 0.01]),
    membershipChanges: overrides.membershipChanges ?? prng.chance(0.5),
    confChangeProbability: prng.pick([0.005, 0.02]),
    snapshotEntries: prng.pick([5, 20, 100]),
    compactionKeepEntries: prng.pick([0, 3, 50]),
    stepWhileSyncing: prng.chance(0.7),
    tickDriftSteps: prng.pick([0, 1, 3]),
    pauseProbability: prng.pick([0, 0.001, 0.004]),
    pauseTicksMax: prng.pick([5, 30]),
    reportUnreachable: prng.chance(0.5),
    leaderTargetProbability: prng.pick([0, 0.3, 0.7]),
    maxEntriesPerMessage: prng.pick([1, 3, 64]),
    maxInflightMessages: prng.pick([1, 4, 256]),
  };
  // Drawn last so that adding them did not change the scenario of any earlier seed.
  const [electionTicks, heartbeatTicks] = prng.pick([[10, 1], [10, 1], [5, 1], [20, 3]] as const);
  return { ...knobs, electionTicks, heartbeatTicks };
}

/** The override if given, else a pick (drawn either way, so other knobs do not shift). */
function pickOverride<T>(prng: Prng, override: T | undefined, choices: readonly T[]): T {
  const picked = prng.pick(choices);
  return override ?? picked;
}

/** One line per knob, for the start of a verbose run and for failure reports. */
export function formatKnobs(knobs: SimKnobs): string {
  return Object.entries(knobs)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(" ");
}
