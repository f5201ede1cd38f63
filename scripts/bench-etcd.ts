// scripts/bench etcd: pfsd against etcd 3.4.23, both as 3-member clusters on this machine's
// loopback, one after the other in one run, driven by the same Go load generator
// (scripts/loadgen/etcd-loadgen, on etcd's own clientv3): put, linearizable get,
// serializable get, txn (compare-and-put) and watch fan-out, 256 clients over 16 connections,
// 256-byte values, a fixed duration per workload and a fixed seed. For each target it then
// runs `etcdctl check perf --load=s` (PASS/FAIL) and kills the leader with -9 under load
// `--kills` times (kill → agreed new leader; longest stretch without a successful write).
// To show the generator is not the bottleneck it reports the generator's CPU next to the
// servers' for every workload, and the rate the same generator reaches against a null KV
// server that answers at once. Progress goes to stderr; the markdown tables and then one
// JSON summary line go to stdout.
//
//   scripts/bench etcd [--seconds N] [--only etcd|pfsd] [--workloads a,b] [--kills K]
//                      [--shm] [--skip-check-perf] [--members 3|1]
// Data directories are under .bench/data (the real disk) unless --shm puts them in /dev/shm.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../test/compat/support/etcd-process.js";
import {
  type MemberCluster, type MemberKind, startCluster,
} from "../test/support/member-cluster.js";
import { type FailoverResult, failover } from "./bench-etcd-failover.js";
import {
  ensureLoadgen, killChildren, type LoadgenResult, spawnTracked, startLoadgen,
} from "./bench-etcd-loadgen.js";

const workloadsAll = ["put", "get-linearizable", "get-serializable", "txn", "watch"];
const kindsAll: readonly MemberKind[] = ["etcd", "pfsd"];
const membersDefault = 3;
const clients = 256;
const connections = 16;
const valueBytes = 256;
const seed = 1;
const warmupSeconds = 1;
/** Keys written by put and preloaded for the gets. */
const keys = 10_000;
const secondsDefault = 10;
const killsDefault = 5;
/** check perf --load=s runs 60 s; allow for its cleanup on a loaded machine. */
const checkPerfMsMax = 300_000;
const etcdctlBinary = "/usr/bin/etcdctl";
/** How long a run may outlast its warm-up and measured time (preload, drain, slow answers). */
const loadgenOverrunMsMax = 180_000;
/** Characters of an error text (often a member's log) kept in the report. */
const errorTextMax = 2_000;
/** How long the null server may take to listen. */
const nullServerStartMsMax = 10_000;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Options {
  readonly seconds: number;
  readonly kinds: readonly MemberKind[];
  readonly workloads: readonly string[];
  readonly kills: number;
  readonly shm: boolean;
  readonly skipCheckPerf: boolean;
  /** Members per cluster: 3 by default; 1 for a first look before pfsd clusters (no kills). */
  readonly members: number;
}

interface WorkloadOutcome {
  readonly workload: string;
  readonly result?: LoadgenResult;
  /** Server CPU seconds (all members, user+system) over the generator's whole run. */
  readonly serverCpuSeconds?: number;
  readonly error?: string;
}

interface CheckPerf {
  readonly pass: boolean;
  readonly lines: readonly string[];
}

interface TargetReport {
  readonly target: string;
  startError?: string;
  readonly workloads: WorkloadOutcome[];
  checkPerf?: CheckPerf;
  failover?: FailoverResult;
  failoverError?: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: `${secondsDefault}` },
      only: { type: "string" },
      workloads: { type: "string", default: workloadsAll.join(",") },
      kills: { type: "string", default: `${killsDefault}` },
      shm: { type: "boolean", default: false },
      "skip-check-perf": { type: "boolean", default: false },
      members: { type: "string", default: `${membersDefault}` },
    },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds ${values.seconds} is not a positive number`);
  const kills = Number(values.kills);
  if (!Number.isInteger(kills) || kills < 0) throw new Error(`--kills ${values.kills} is bad`);
  const members = Number(values.members);
  if (members !== 1 && members !== 3) throw new Error(`--members ${values.members}: 1 or 3`);
  const only = values.only;
  const kinds = kindsAll.filter((kind) => only === undefined || kind === only);
  if (kinds.length === 0) throw new Error(`--only ${only ?? ""}: expected etcd or pfsd`);
  const workloads = values.workloads.split(",").filter((name) => name !== "");
  for (const name of workloads) {
    if (!workloadsAll.includes(name)) {
      throw new Error(`--workloads: unknown ${name} (known: ${workloadsAll.join(",")})`);
    }
  }
  return {
    seconds, kinds, workloads, kills: members === 1 ? 0 : kills, shm: values.shm,
    skipCheckPerf: values["skip-check-perf"], members,
  };
}

const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

/** User+system CPU seconds of the given processes (from /proc/<pid>/stat); gone ones count 0. */
function cpuSecondsOf(pids: readonly (number | undefined)[]): number {
  let ticks = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
    } catch {
      // the process is gone: nothing to add
    }
  }
  return ticks / clockTicksPerSecond;
}

function loadgenArgs(addresses: string, workload: string, seconds: number): string[] {
  return [
    "-endpoints", addresses, "-workload", workload, "-clients", `${clients}`,
    "-connections", `${connections}`, "-value-bytes", `${valueBytes}`,
    "-seconds", `${seconds}`, "-warmup-seconds", `${warmupSeconds}`, "-keys", `${keys}`,
    "-seed", `${seed}`,
  ];
}

function describe(result: LoadgenResult): string {
  return `${result.opsPerSecond.toFixed(0)} ops/s, p50 ${result.p50Ms.toFixed(1)} ms, ` +
    `p99 ${result.p99Ms.toFixed(1)} ms, max ${result.maxMs.toFixed(0)} ms, ` +
    `${result.errors} errors`;
}

/** Runs one workload with server CPU sampled around it; failures become an outcome. */
async function runWorkload(target: string, addresses: string, pids: () => (number | undefined)[],
  loadgen: string, workload: string, seconds: number): Promise<WorkloadOutcome> {
  process.stderr.write(`bench-etcd: ${target} ${workload} (${warmupSeconds} s warm-up, ` +
    `${seconds} s measured)\n`);
  const before = cpuSecondsOf(pids());
  try {
    const result = await startLoadgen(loadgen, loadgenArgs(addresses, workload, seconds),
      `${target} ${workload}`, (warmupSeconds + seconds) * 1000 + loadgenOverrunMsMax).result;
    const serverCpuSeconds = cpuSecondsOf(pids()) - before;
    process.stderr.write(`bench-etcd: ${target} ${workload}: ${describe(result)}\n`);
    return { workload, result, serverCpuSeconds };
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`bench-etcd: ${target} ${workload} FAILED: ${message}\n`);
    return { workload, error: message };
  }
}

async function checkPerf(cluster: MemberCluster): Promise<CheckPerf> {
  process.stderr.write(`bench-etcd: ${cluster.kind}: etcdctl check perf --load=s (60 s)\n`);
  const run = spawnTracked(etcdctlBinary,
    ["--endpoints", cluster.endpoints, "check", "perf", "--load=s"],
    `${cluster.kind} check perf`, { env: { ...process.env, ETCDCTL_API: "3" } });
  const timer = setTimeout(() => run.child.kill("SIGKILL"), checkPerfMsMax);
  const exit = await run.done;
  clearTimeout(timer);
  const lines = `${exit.stdout}\n${exit.stderr}`.split(/[\r\n]+/)
    .map((line) => line.trim())
    // etcdctl prints "Slowest request took too long" and "Stddev too high" without a FAIL:.
    .filter((line) => /^(PASS|FAIL|Slowest request took too long|Stddev too high)/.test(line));
  const pass = exit.code === 0 && lines.at(-1) === "PASS";
  if (lines.length === 0) lines.push(`no verdict (exit ${exit.code}): ${exit.stderr.slice(-500)}`);
  process.stderr.write(`bench-etcd: ${cluster.kind} check perf: ${lines.join(" | ")}\n`);
  return { pass, lines };
}

/** Starts one cluster, runs everything against it, and always stops it. */
async function benchCluster(kind: MemberKind, options: Options, loadgen: string,
  live: Set<MemberCluster>): Promise<TargetReport> {
  const report: TargetReport = { target: kind, workloads: [] };
  const parentDir = options.shm ? "/dev/shm" : join(repoRoot, ".bench", "data");
  await mkdir(parentDir, { recursive: true });
  process.stderr.write(`bench-etcd: starting ${options.members} ${kind} member(s) in ` +
    `${parentDir}\n`);
  let cluster: MemberCluster;
  try {
    cluster = await startCluster({ kind, size: options.members, parentDir });
  } catch (error: unknown) {
    report.startError = error instanceof Error ? error.message : String(error);
    process.stderr.write(`bench-etcd: ${kind} did not start: ${report.startError}\n`);
    return report;
  }
  live.add(cluster);
  try {
    const addresses = cluster.members.map((member) => member.clientAddress).join(",");
    const pids = (): (number | undefined)[] => cluster.members.map((member) => member.pid);
    for (const workload of options.workloads) {
      report.workloads.push(
        await runWorkload(kind, addresses, pids, loadgen, workload, options.seconds));
    }
    if (!options.skipCheckPerf) report.checkPerf = await checkPerf(cluster);
    if (options.kills > 0) {
      try {
        report.failover = await failover(cluster, loadgen, options.kills);
      } catch (error: unknown) {
        report.failoverError = error instanceof Error ? error.message : String(error);
        process.stderr.write(`bench-etcd: ${kind} failover FAILED: ${report.failoverError}\n`);
      }
    }
  } finally {
    process.stderr.write(`bench-etcd: stopping ${kind}\n`);
    await cluster.stop();
    live.delete(cluster);
  }
  return report;
}

function waitListening(port: number): Promise<void> {
  const deadline = performance.now() + nullServerStartMsMax;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (performance.now() > deadline) reject(new Error(`null server not on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** The generator against a null KV server (no watch): its own ceiling on this machine. */
async function benchCeiling(options: Options, loadgen: string): Promise<TargetReport> {
  const report: TargetReport = { target: "null", workloads: [] };
  const port = await freePort();
  const server = spawnTracked(loadgen, ["-serve-null", `127.0.0.1:${port}`], "null server");
  try {
    await waitListening(port);
    const pids = (): (number | undefined)[] => [server.child.pid];
    for (const workload of options.workloads.filter((name) => name !== "watch")) {
      report.workloads.push(await runWorkload("null", `127.0.0.1:${port}`, pids, loadgen,
        workload, options.seconds));
    }
  } finally {
    server.child.kill("SIGTERM");
    await server.done;
  }
  return report;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}

function outcomeOf(report: TargetReport | undefined, workload: string): LoadgenResult | undefined {
  return report?.workloads.find((outcome) => outcome.workload === workload)?.result;
}

function comparisonTable(options: Options, reports: readonly TargetReport[]): string[] {
  const etcd = reports.find((report) => report.target === "etcd");
  const pfsd = reports.find((report) => report.target === "pfsd");
  const lines = [
    "| workload | etcd ops/s | etcd p50 ms | etcd p99 ms | pfsd ops/s | pfsd p50 ms | " +
      "pfsd p99 ms | pfsd/etcd ops/s | pfsd/etcd p99 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const workload of options.workloads) {
    const e = outcomeOf(etcd, workload);
    const p = outcomeOf(pfsd, workload);
    const ratio = e !== undefined && p !== undefined && e.opsPerSecond > 0
      ? p.opsPerSecond / e.opsPerSecond : undefined;
    const p99Ratio = e !== undefined && p !== undefined && e.p99Ms > 0
      ? p.p99Ms / e.p99Ms : undefined;
    lines.push(`| ${workload} | ${fixed(e?.opsPerSecond, 0)} | ${fixed(e?.p50Ms, 1)} | ` +
      `${fixed(e?.p99Ms, 1)} | ${fixed(p?.opsPerSecond, 0)} | ${fixed(p?.p50Ms, 1)} | ` +
      `${fixed(p?.p99Ms, 1)} | ${fixed(ratio, 2)} | ${fixed(p99Ratio, 2)} |`);
  }
  return lines;
}

function generatorTable(reports: readonly TargetReport[]): string[] {
  const lines = [
    "| target | workload | ops/s | errors | generator CPU µs/op | generator CPU cores | " +
      "servers CPU cores | generator share of CPU |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const report of reports) {
    for (const outcome of report.workloads) {
      const r = outcome.result;
      if (r === undefined || outcome.serverCpuSeconds === undefined) continue;
      const generatorCores = r.cpuSecondsTotal / r.wallSecondsTotal;
      const serverCores = outcome.serverCpuSeconds / r.wallSecondsTotal;
      const share = r.cpuSecondsTotal / (r.cpuSecondsTotal + outcome.serverCpuSeconds);
      lines.push(`| ${report.target} | ${outcome.workload} | ${r.opsPerSecond.toFixed(0)} | ` +
        `${r.errors} | ${fixed(r.cpuSeconds / r.ops * 1e6, 0)} | ` +
        `${generatorCores.toFixed(2)} | ${serverCores.toFixed(2)} | ` +
        `${(share * 100).toFixed(0)}% |`);
    }
  }
  return lines;
}

function percentile(samples: readonly number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

function faultTable(reports: readonly TargetReport[]): string[] {
  const lines = [
    "| target | check perf --load=s | kills | kill → new leader p50 / max ms | " +
      "longest stretch without a write p50 / max ms | write errors |",
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const report of reports) {
    if (report.target === "null") continue;
    const perf = report.checkPerf === undefined ? "not run"
      : `${report.checkPerf.pass ? "PASS" : "FAIL"} (${report.checkPerf.lines.join("; ")})`;
    const f = report.failover;
    if (f === undefined) {
      const why = report.failoverError === undefined ? "not run" : "failed (below)";
      lines.push(`| ${report.target} | ${perf} | — | ${why} | — | — |`);
      continue;
    }
    const stopped = f.error === undefined ? "" : " (then stopped: below)";
    lines.push(`| ${report.target} | ${perf} | ${f.electionMs.length}${stopped} | ` +
      `${fixed(percentile(f.electionMs, 0.5), 0)} / ${fixed(Math.max(...f.electionMs), 0)} | ` +
      `${fixed(percentile(f.writeGapMs, 0.5), 0)} / ${fixed(Math.max(...f.writeGapMs), 0)} | ` +
      `${f.writeErrors} |`);
  }
  return lines;
}

/** Long error texts (member logs) shortened to their first line and their tail. */
function brief(text: string): string {
  if (text.length <= errorTextMax) return text;
  const firstLine = text.split("\n")[0] ?? "";
  return `${firstLine.slice(0, errorTextMax / 4)} … ${text.slice(-errorTextMax / 2)}`;
}

function failures(reports: readonly TargetReport[]): string[] {
  const lines: string[] = [];
  for (const report of reports) {
    const failoverError = report.failoverError ?? report.failover?.error;
    if (failoverError !== undefined) {
      lines.push(`- ${report.target} leader kills: ${brief(failoverError)}`);
    }
    if (report.startError !== undefined) {
      lines.push(`- ${report.target} did not start: ${brief(report.startError)}`);
    }
    for (const outcome of report.workloads) {
      const samples = outcome.result?.errorSamples ?? [];
      if (outcome.error !== undefined) {
        lines.push(`- ${report.target} ${outcome.workload} failed: ${brief(outcome.error)}`);
      } else if (samples.length > 0 || (outcome.result?.watchEventsMissing ?? 0) > 0) {
        lines.push(`- ${report.target} ${outcome.workload}: ${outcome.result?.errors ?? 0} ` +
          `errors, ${outcome.result?.watchEventsMissing ?? 0} watch events missing; ` +
          `e.g. ${samples.join(" / ")}`);
      }
    }
  }
  return lines;
}

function conditions(options: Options, loadBefore: readonly number[]): string {
  return `${options.members} member(s) per cluster on loopback, data dirs on ` +
    `${options.shm ? "/dev/shm (no real fsync)" : "the real disk"}; ${cpus().length} cores; ` +
    `${clients} clients over ${connections} connections ` +
    `(connection i → member i mod ${options.members}), ` +
    `${valueBytes}-byte values, ${keys} keys, seed ${seed}, ${warmupSeconds} s warm-up then ` +
    `${options.seconds} s per workload; watch: ${clients} watchers on one prefix, one ` +
    `closed-loop writer, ops/s = events delivered/s, latency = put sent → event received; ` +
    `load average before the run ${loadBefore.map((value) => value.toFixed(1)).join(" ")}`;
}

function print(options: Options, reports: readonly TargetReport[], loadBefore: number[]): void {
  const out = [
    "", conditions(options, loadBefore), "", ...comparisonTable(options, reports), "",
    "Generator CPU versus the servers' over each run (null = a KV server that answers at " +
      "once: the generator's own ceiling here)", "", ...generatorTable(reports), "",
    ...faultTable(reports), "", ...failures(reports), "",
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(`${JSON.stringify({
    conditions: conditions(options, loadBefore), loadAverageAfter: loadavg(), reports,
  })}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const live = new Set<MemberCluster>();
  const interrupt = (signal: NodeJS.Signals): void => {
    process.stderr.write(`bench-etcd: ${signal}: stopping\n`);
    killChildren();
    void Promise.allSettled([...live].map((cluster) => cluster.stop()))
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  const loadBefore = loadavg();
  const loadgen = await ensureLoadgen(repoRoot);
  const reports: TargetReport[] = [];
  try {
    reports.push(await benchCeiling(options, loadgen));
    for (const kind of options.kinds) {
      reports.push(await benchCluster(kind, options, loadgen, live));
    }
  } finally {
    killChildren();
  }
  print(options, reports, loadBefore);
}

main().catch((error: unknown) => {
  const text = error instanceof Error ? error.stack ?? "" : String(error);
  process.stderr.write(`bench-etcd: ${text}\n`);
  killChildren();
  process.exit(1);
});
