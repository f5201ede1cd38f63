/**
 * Seeded replication chaos runs (test/chaos/chaos-run.ts: writers, kill -9 nemesis, checker)
 * of any length, on a fresh pfsd cluster each. Run through scripts/chaos, which builds first:
 *
 *   scripts/chaos [--minutes N] [--run-seconds S] [--seed S] [--nodes N] [--shards S]
 *                 [--replicas R] [--write-quorum W] [--writers K]
 *
 * Back-to-back runs of --run-seconds (default 120) of faults each until --minutes (default 5)
 * have passed; run i uses seed S + i (S from --seed, else fresh and printed). Prints one
 * summary line per run (PASS/FAIL, commits by outcome, kills, resume delays) and the
 * failures. Exit code 0 when every run passed, 1 when any failed, 2 on a usage error.
 */
import { prngSeedMax, systemSeed } from "../pkg/common/index.js";
import { defaultChaosRunOptions, runChaos } from "../test/chaos/chaos-run.js";
import { chaosClusterDefaults } from "../test/chaos/pfs-cluster.js";

interface Args {
  minutes: number;
  runSeconds: number;
  seed: number;
  nodes: number;
  shards: number;
  replicas: number;
  writeQuorum: number;
  writers: number;
}

function usage(message: string): never {
  process.stderr.write(`scripts/chaos: ${message}\nusage: scripts/chaos [--minutes N] ` +
    "[--run-seconds S] [--seed S] [--nodes N] [--shards S] [--replicas R] " +
    "[--write-quorum W] [--writers K]\n");
  process.exit(2);
}

function number(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < min || value > max) {
    usage(`${flag} needs a number in [${min}, ${max}]`);
  }
  return value;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    minutes: 5, runSeconds: 120, seed: systemSeed(), nodes: chaosClusterDefaults.nodes,
    shards: chaosClusterDefaults.shards, replicas: chaosClusterDefaults.replicas,
    writeQuorum: chaosClusterDefaults.writeQuorum, writers: defaultChaosRunOptions.writers,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--minutes": args.minutes = number(flag, value, 0, 10_000); break;
      case "--run-seconds": args.runSeconds = number(flag, value, 10, 36_000); break;
      case "--seed": args.seed = Math.floor(number(flag, value, 0, prngSeedMax - 100_000)); break;
      case "--nodes": args.nodes = number(flag, value, 1, 5); break;
      case "--shards": args.shards = number(flag, value, 1, 64); break;
      case "--replicas": args.replicas = number(flag, value, 1, 5); break;
      case "--write-quorum": args.writeQuorum = number(flag, value, 0, 5); break;
      case "--writers": args.writers = number(flag, value, 1, 32); break;
      default: usage(`unknown argument ${String(flag)}`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const endMs = Date.now() + args.minutes * 60_000;
  let failed = 0;
  for (let run = 0; run === 0 || Date.now() < endMs; run += 1) {
    const seed = args.seed + run;
    process.stderr.write(`run ${run}: scripts/chaos --seed ${seed} --minutes 0 ` +
      `--run-seconds ${args.runSeconds}\n`);
    try {
      const result = await runChaos({
        ...defaultChaosRunOptions, seed, writers: args.writers, loadMs: args.runSeconds * 1000,
        cluster: { ...chaosClusterDefaults, nodes: args.nodes, shards: args.shards,
          replicas: args.replicas, writeQuorum: args.writeQuorum },
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const passed = result.verdict.failures.length === 0;
      process.stdout.write(`${passed ? "PASS" : "FAIL"} ${result.summary}\n`);
      for (const failure of result.verdict.failures) process.stdout.write(`  ${failure}\n`);
      if (!passed) failed += 1;
    } catch (error: unknown) {
      // The cluster broke down (a node that never served again): a failed run without a
      // history to judge.
      process.stdout.write(`ERROR seed ${seed}: ${String(error).slice(0, 2_000)}\n`);
      failed += 1;
    }
  }
  process.stdout.write(`${failed} failed run(s)\n`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`scripts/chaos: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
