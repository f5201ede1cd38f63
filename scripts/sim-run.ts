/**
 * The simulator's command line (run through scripts/sim, which builds first):
 *
 *   scripts/sim --seed N                 one seed, verbose: knobs, summary, and on failure the
 *                                        failures and the event trace with message detail
 *   scripts/sim --seeds K [--start-seed S]   K seeds from S (default 1), one line per failure, progress on stderr every 5 s
 *                                        and a summary
 *   options: --nodes 3|5  --no-membership  --ticks T (safety phase)  --trace (print the trace
 *            even when the seed passes)  --sabotage skip-fsync|read-local|no-heal (break the driver on
 *            purpose, to see the checkers fire)
 *
 * Exit code 0 when every seed passed, 1 when any failed, 2 on a usage error. Every failure
 * prints the exact command that replays it.
 */
import { prngSeedMax } from "../pkg/common/index.js";
import type { KnobOverrides } from "../test/sim/sim-knobs.js";
import { formatKnobs } from "../test/sim/sim-knobs.js";
import { type Sabotage, type SimOptions, type SimResult, runSimulation } from "../test/sim/simulation.js";

interface Args {
  readonly seed?: number;
  readonly seeds?: number;
  readonly startSeed: number;
  readonly overrides: KnobOverrides;
  readonly overrideFlags: string[];
  readonly trace: boolean;
  readonly sabotage?: Sabotage;
}

function usage(message: string): never {
  process.stderr.write(`scripts/sim: ${message}\n` +
    `usage: scripts/sim --seed N | --seeds K [--start-seed S] [--nodes 3|5] ` +
    `[--no-membership] [--ticks T] [--trace] [--sabotage skip-fsync|read-local|no-heal]\n`);
  process.exit(2);
}

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) usage(`${flag} needs a non-negative integer`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    usage(`${flag} ${text} is outside [${min}, ${max}]`);
  }
  return value;
}

function parseArgs(argv: readonly string[]): Args {
  let seed: number | undefined;
  let seeds: number | undefined;
  let startSeed = 1;
  let trace = false;
  let sabotage: Sabotage | undefined;
  const overrides: { nodeCount?: number; membershipChanges?: boolean; safetyTicks?: number } = {};
  const overrideFlags: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--seed": seed = integer(flag, value, 0, prngSeedMax); i += 1; break;
      case "--seeds": seeds = integer(flag, value, 1, 1_000_000); i += 1; break;
      case "--start-seed": startSeed = integer(flag, value, 0, prngSeedMax); i += 1; break;
      case "--nodes":
        overrides.nodeCount = integer(flag, value, 3, 5);
        overrideFlags.push(`--nodes ${value}`);
        i += 1;
        break;
      case "--ticks":
        overrides.safetyTicks = integer(flag, value, 1, 1_000_000);
        overrideFlags.push(`--ticks ${value}`);
        i += 1;
        break;
      case "--no-membership":
        overrides.membershipChanges = false;
        overrideFlags.push(flag);
        break;
      case "--trace": trace = true; break;
      case "--sabotage":
        if (value !== "skip-fsync" && value !== "read-local" && value !== "no-heal") {
          usage(`unknown sabotage ${String(value)}`);
        }
        sabotage = value;
        overrideFlags.push(`--sabotage ${value}`);
        i += 1;
        break;
      default: usage(`unknown argument ${String(flag)}`);
    }
  }
  if ((seed === undefined) === (seeds === undefined)) usage("give exactly one of --seed, --seeds");
  const base = { startSeed, overrides, overrideFlags, trace, ...(sabotage ? { sabotage } : {}) };
  if (seed !== undefined) return { ...base, seed };
  return { ...base, seeds: seeds ?? 1 };
}

function options(args: Args): SimOptions {
  return { overrides: args.overrides, ...(args.sabotage ? { sabotage: args.sabotage } : {}) };
}

function replayCommand(seed: number, args: Args): string {
  return ["scripts/sim --seed", String(seed), ...args.overrideFlags].join(" ");
}

function printFailure(result: SimResult, args: Args, withTrace: boolean): void {
  const out = process.stdout;
  out.write(`FAIL seed ${result.knobs.seed}: ${result.failures[0] ?? "?"}\n`);
  for (const failure of result.failures.slice(1)) out.write(`  also: ${failure}\n`);
  if (!withTrace) out.write(`  knobs: ${formatKnobs(result.knobs)}\n`);
  if (withTrace) out.write(`trace:\n${result.trace.join("\n")}\n`);
  out.write(`replay: ${replayCommand(result.knobs.seed, args)}\n`);
}

function runOne(seed: number, args: Args): number {
  const result = runSimulation(seed, { verbose: true, ...options(args) });
  process.stdout.write(`seed ${seed}: ${formatKnobs(result.knobs)}\n`);
  if (args.trace && result.passed) process.stdout.write(`trace:\n${result.trace.join("\n")}\n`);
  process.stdout.write(`${result.passed ? "PASS" : "FAIL"} seed ${seed}: ${result.summary}\n`);
  if (result.passed) return 0;
  printFailure(result, args, true);
  return 1;
}

/** Interval of the progress line a long run prints on stderr. */
const progressIntervalMs = 5_000;

function runMany(count: number, args: Args): number {
  const failed: number[] = [];
  const started = performance.now();
  let reportedAt = started;
  for (let seed = args.startSeed; seed < args.startSeed + count; seed += 1) {
    const result = runSimulation(seed, options(args));
    if (!result.passed) {
      failed.push(seed);
      printFailure(result, args, false);
    }
    const now = performance.now();
    if (now - reportedAt >= progressIntervalMs) {
      reportedAt = now;
      const done = seed - args.startSeed + 1;
      const etaSeconds = ((now - started) / done) * (count - done) / 1000;
      process.stderr.write(`scripts/sim: ${done}/${count} seeds, ${failed.length} failed, ` +
        `about ${etaSeconds.toFixed(0)} s left\n`);
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${count} seeds from ${args.startSeed}: ${count - failed.length} passed, ` +
    `${failed.length} failed (${seconds} s)${failed.length > 0 ? `: ${failed.join(" ")}` : ""}\n`);
  return failed.length > 0 ? 1 : 0;
}

const args = parseArgs(process.argv.slice(2));
process.exitCode = args.seed !== undefined ? runOne(args.seed, args) : runMany(args.seeds ?? 1, args);
