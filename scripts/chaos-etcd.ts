/**
 * Seeded chaos runs of the linearizability and watch checks (test/e2e/support/fault-run.ts),
 * longer than CI can afford. Run through scripts/chaos-etcd, which builds first:
 *
 *   scripts/chaos-etcd [--kind pfsd|etcd] [--minutes N] [--run-seconds S] [--seed S]
 *                      [--save DIR]
 *   scripts/chaos-etcd --check FILE.json.gz      judge a saved recording again
 *
 * Back-to-back runs of --run-seconds (default 60) each on a fresh 3-member cluster until
 * --minutes (default 5) have passed; run i uses seed S + i (S from --seed, else fresh and
 * printed). --save keeps every recording (gzip'd JSON) in DIR; a failing run is always saved to
 * the temp dir. Exit code 0 when every run passed, 1 when any failed, 2 on a usage error.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { prngSeedMax, systemSeed } from "../pkg/common/index.js";
import {
  type FaultRunRecording, defaultFaultRunOptions, judgeFaultRun, recordFaultRun,
} from "../test/e2e/support/fault-run.js";
import { recordingFromJson, recordingToJson } from "../test/e2e/support/recording-file.js";
import type { MemberKind } from "../test/support/member-cluster.js";

interface Args {
  readonly kind: MemberKind;
  readonly minutes: number;
  readonly runSeconds: number;
  readonly seed: number;
  readonly save: string | undefined;
  readonly check: string | undefined;
}

function usage(message: string): never {
  process.stderr.write(`scripts/chaos-etcd: ${message}\nusage: scripts/chaos-etcd ` +
    "[--kind pfsd|etcd] [--minutes N] [--run-seconds S] [--seed S] [--save DIR] | --check FILE\n");
  process.exit(2);
}

function number(flag: string, text: string | undefined, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < 0 || value > max) {
    usage(`${flag} needs a number in [0, ${max}]`);
  }
  return value;
}

function parseArgs(argv: readonly string[]): Args {
  const args = {
    kind: "pfsd" as MemberKind, minutes: 5, runSeconds: 60, seed: systemSeed(),
    save: undefined as string | undefined, check: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--kind":
        if (value !== "pfsd" && value !== "etcd") usage("--kind is pfsd or etcd");
        args.kind = value;
        break;
      case "--minutes": args.minutes = number(flag, value, 10_000); break;
      case "--run-seconds": args.runSeconds = Math.max(5, number(flag, value, 3_600)); break;
      case "--seed": args.seed = Math.floor(number(flag, value, prngSeedMax - 100_000)); break;
      case "--save": args.save = value ?? usage("--save needs a directory"); break;
      case "--check": args.check = value ?? usage("--check needs a file"); break;
      default: usage(`unknown argument ${String(flag)}`);
    }
  }
  return args;
}

function save(recording: FaultRunRecording, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chaos-${recording.kind}-${recording.seed}.json.gz`);
  writeFileSync(file, gzipSync(JSON.stringify(recordingToJson(recording))));
  return file;
}

function report(recording: FaultRunRecording): boolean {
  const verdict = judgeFaultRun(recording);
  process.stdout.write(`${verdict.failures.length === 0 ? "PASS" : "FAIL"} ${verdict.summary}\n`);
  for (const failure of verdict.failures) process.stdout.write(`  ${failure}\n`);
  return verdict.failures.length === 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.check !== undefined) {
    const json: unknown = JSON.parse(gunzipSync(readFileSync(args.check)).toString("utf8"));
    return report(recordingFromJson(json)) ? 0 : 1;
  }
  const endMs = Date.now() + args.minutes * 60_000;
  let failed = 0;
  for (let run = 0; run === 0 || Date.now() < endMs; run += 1) {
    const seed = args.seed + run;
    process.stderr.write(`run ${run}: scripts/chaos-etcd --kind ${args.kind} --seed ${seed} ` +
      `--minutes 0 --run-seconds ${args.runSeconds}\n`);
    let recording: FaultRunRecording;
    try {
      recording = await recordFaultRun({
        ...defaultFaultRunOptions, kind: args.kind, seed, loadMs: args.runSeconds * 1000,
        log: (line) => process.stderr.write(`${line}\n`),
      });
    } catch (error: unknown) {
      // The cluster or the run broke down (a member that never served, a heal that timed
      // out): that is a failure of the run too, but there is no history to judge.
      process.stdout.write(`ERROR ${args.kind} seed ${seed}: ${String(error).slice(0, 2_000)}\n`);
      failed += 1;
      continue;
    }
    const passed = report(recording);
    if (args.save !== undefined || !passed) {
      process.stdout.write(`  saved ${save(recording, args.save ?? tmpdir())}\n`);
    }
    if (!passed) failed += 1;
  }
  process.stdout.write(`${failed} failed run(s)\n`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`scripts/chaos-etcd: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
