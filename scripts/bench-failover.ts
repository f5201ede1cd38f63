/**
 * scripts/bench failover: what replication costs and how fast it recovers, with real pfsd
 * processes on loopback (the chaos harness's cluster, test/chaos/pfs-cluster.ts):
 *
 * 1. failover: on 5 nodes (R=3, W=2, 4 shards, --master-lease-ttl L), kill -9 the master of
 *    a shard and time until the first commit writing a file on that shard finishes through
 *    another node (a writer retries every 50 ms from the kill on); the victim is restarted
 *    and the shard given a master again before the next kill. p50/p99 over --kills (20)
 *    kills; the target is under 2 × L. With PFS_BENCH_LOGS=DIR the nodes log at info level
 *    and every kill slower than the target leaves each node's recent log in DIR. Without shard masters (replication not wired in the
 *    built pfsd) the victim is the shard's only holder, restarted at once, so the figure is
 *    a restart, and the table says so.
 * 2. throughput: on 3 nodes (real disk under the OS temp dir, so fsyncs cost what they cost;
 *    a 10 s master lease, so load does not move masters), settled by a commit on every shard,
 *    R=1 against R=3 W=2: one big file (--megabytes, 256; --quick 64) and --files 4 KiB files
 *    in one tar put (10,000; --quick 2,000), each put + finish, in MiB/s and files/s.
 *
 *   scripts/bench failover [--quick] [--kills N] [--lease S] [--megabytes N] [--files N]
 *                          [--only failover|throughput]
 *
 * Prints progress to stderr and a markdown table to stdout.
 */
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type PfsClient, tarOf } from "../test/e2e/pfs-api-support.js";
import { PfsCluster, chaosClusterDefaults } from "../test/chaos/pfs-cluster.js";
import { pathOnShard } from "../test/chaos/shard-calls.js";

interface Args {
  quick: boolean;
  kills: number;
  leaseSeconds: number;
  megabytes: number;
  files: number;
  only: "failover" | "throughput" | undefined;
}

const fileBytes = 4096;
const retryPauseMs = 50;
/**
 * Master lease of the throughput clusters, in seconds: long enough that a loaded machine
 * (a stalled event loop missing a renewal) does not move a mastership during a timed commit,
 * which would fail it; failover speed is the other case's business.
 */
const throughputLeaseSeconds = 10;
/** A kill whose writes did not resume in this long is reported as a failure of the run. */
const resumeMsMax = 120_000;

function usage(message: string): never {
  process.stderr.write(`scripts/bench failover: ${message}\nusage: scripts/bench failover ` +
    "[--quick] [--kills N] [--lease S] [--megabytes N] [--files N] " +
    "[--only failover|throughput]\n");
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: argv.includes("--quick"), kills: 20, leaseSeconds: 2,
    megabytes: 0, files: 0, only: undefined };
  const number = (flag: string, text: string | undefined, min: number, max: number): number => {
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < min || value > max) {
      usage(`${flag} needs an integer in [${min}, ${max}]`);
    }
    return value;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === "--quick") continue;
    const value = argv[i + 1];
    i += 1;
    switch (flag) {
      case "--kills": args.kills = number(flag, value, 1, 1_000); break;
      case "--lease": args.leaseSeconds = number(flag, value, 2, 60); break;
      case "--megabytes": args.megabytes = number(flag, value, 1, 16_384); break;
      case "--files": args.files = number(flag, value, 1, 1_000_000); break;
      case "--only":
        if (value !== "failover" && value !== "throughput") usage("--only failover|throughput");
        args.only = value;
        break;
      default: usage(`unknown argument ${String(flag)}`);
    }
  }
  if (args.megabytes === 0) args.megabytes = args.quick ? 64 : 256;
  if (args.files === 0) args.files = args.quick ? 2_000 : 10_000;
  return args;
}

function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? Number.NaN;
}

/** `bytes` of unique content (an AES-CTR keystream keyed by `label`), in 1 MiB pieces. */
function* uniqueBytes(bytes: number, label: string): Generator<Buffer> {
  const key = createHash("sha256").update(label).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let done = 0; done < bytes; done += zeros.length) {
    yield cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - done)));
  }
}

/** One commit writing `path` through `client`; true when it finished. */
async function commitOnce(client: PfsClient, repo: string, path: string): Promise<boolean> {
  try {
    const open = (await client.call("InspectBranch", { repo, branch: "master" })).open;
    if (open !== "") {
      await client.call("FinishCommit", { commit: { repo, commit: open }, error: "bench retry" });
    }
  } catch (error: unknown) {
    if ((error as { code?: unknown }).code !== 5) return false;
  }
  try {
    const commit = await client.call("StartCommit", { repo, branch: "master" });
    await client.putFile({ repo, commit: commit.id, path }, [Buffer.from(path)]);
    const info = await client.call("FinishCommit", { commit: { repo, commit: commit.id } });
    return info.state === "FINISHED";
  } catch {
    return false;
  }
}

/** The victim for `shard`: its master, else (no masters) its only holder. */
async function victimOf(cluster: PfsCluster, shard: number): Promise<
  { node: string; elected: boolean }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const master = await cluster.shardMaster(shard).catch(() => undefined);
    if (master !== undefined) return { node: master, elected: true };
    const holder = (await cluster.holders(shard).catch(() => []))[0];
    if (holder !== undefined && (await cluster.replicaMap()) === undefined) {
      return { node: holder, elected: false };
    }
    if (Date.now() > deadline) throw new Error(`shard ${shard} has no master for 60 s`);
    await PfsCluster.sleep(200);
  }
}

/** Every node's recent log (the cluster keeps the last 50 kB of each) into `dir`. */
async function saveLogs(cluster: PfsCluster, dir: string, label: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(cluster.names.map((name) =>
    writeFile(join(dir, `${label}-${name}.log`), cluster.member(name).log())));
  progress(`  logs of ${label} in ${dir}`);
}

async function failover(args: Args, rows: string[]): Promise<void> {
  progress(`failover: 5 nodes, R=3, W=2, lease ${args.leaseSeconds} s, ${args.kills} kills`);
  const logDir = process.env["PFS_BENCH_LOGS"];
  const cluster = await PfsCluster.start({ ...chaosClusterDefaults,
    masterLeaseTtlSeconds: args.leaseSeconds,
    ...(logDir === undefined ? {} : { extraArgs: ["--log-level", "info"] }) });
  const delays: number[] = [];
  let elected = true;
  try {
    const repo = "failover";
    await cluster.client(cluster.names[0] ?? "").call("CreateRepo", { name: repo });
    for (let kill = 0; kill < args.kills; kill += 1) {
      const shard = kill % cluster.options.shards;
      const path = pathOnShard(`/k${kill}-`, shard, cluster.options.shards);
      // A commit on the shard first: the cluster is settled and the shard placed.
      const warm = pathOnShard(`/w${kill}-`, shard, cluster.options.shards);
      if (!await commitOnce(cluster.client(cluster.names[kill % cluster.names.length] ?? ""),
        repo, warm)) progress("  warm-up commit failed");
      const victim = await victimOf(cluster, shard);
      elected &&= victim.elected;
      const via = cluster.names.find((name) => name !== victim.node) ?? "";
      const client = cluster.client(via);
      const raftLeader = await cluster.raftLeader().catch(() => undefined);
      const killedMs = performance.now();
      await cluster.kill9(victim.node);
      const restarted = victim.elected ? Promise.resolve() : cluster.restart(victim.node);
      while (!await commitOnce(client, repo, path)) {
        if (performance.now() - killedMs > resumeMsMax) {
          throw new Error(`no commit on shard ${shard} ${resumeMsMax} ms after killing ` +
            victim.node);
        }
        await PfsCluster.sleep(retryPauseMs);
      }
      delays.push(performance.now() - killedMs);
      if (logDir !== undefined && (delays.at(-1) ?? 0) > 2 * args.leaseSeconds * 1000) {
        await saveLogs(cluster, logDir, `kill-${kill + 1}`);
      }
      await restarted;
      if (victim.elected) await cluster.restart(victim.node);
      progress(`  kill ${kill + 1}/${args.kills}: ${victim.node} (shard ${shard}` +
        `${raftLeader === victim.node ? ", also the Raft leader" : ""}) → ` +
        `${(delays[delays.length - 1] ?? 0).toFixed(0)} ms`);
    }
  } finally {
    await cluster.close();
  }
  const what = elected ? "kill -9 of a shard master → first commit on its shard"
    : "kill -9 of a shard's only holder + restart → first commit on it (no masters)";
  rows.push(`| ${what} | p50 ${percentile(delays, 0.5).toFixed(0)} ms, p99 ` +
    `${percentile(delays, 0.99).toFixed(0)} ms over ${delays.length} kills | target < ` +
    `${2 * args.leaseSeconds * 1000} ms (2 × lease) |`);
}

/** Seconds of one put + finish of `data` at `path` (format RAW or TAR), and of the finish. */
async function timedCommit(client: PfsClient, repo: string, path: string,
  data: Iterable<Buffer>, format: "RAW" | "TAR"): Promise<{ seconds: number; finish: number }> {
  const started = performance.now();
  const commit = await client.call("StartCommit", { repo, branch: "master" });
  await client.putFile({ repo, commit: commit.id, path, format }, data);
  const finishing = performance.now();
  const info = await client.call("FinishCommit", { commit: { repo, commit: commit.id } });
  if (info.state !== "FINISHED") throw new Error(`commit ${info.state}: ${info.error}`);
  const ended = performance.now();
  return { seconds: (ended - started) / 1000, finish: (ended - finishing) / 1000 };
}

/**
 * Waits until a commit writing a file on every shard finishes (every shard placed and with a
 * master the routers see), so the timed commits measure writing, not the cluster settling.
 */
async function settle(cluster: PfsCluster, client: PfsClient, repo: string): Promise<void> {
  const deadline = performance.now() + resumeMsMax;
  for (let shard = 0; shard < cluster.options.shards; shard += 1) {
    const path = pathOnShard(`/settle-${shard}-`, shard, cluster.options.shards);
    while (!await commitOnce(client, repo, path)) {
      if (performance.now() > deadline) throw new Error(`shard ${shard} takes no commit`);
      await PfsCluster.sleep(retryPauseMs);
    }
  }
}

/** One cluster's figures: MiB/s and files/s of put + finish, and each case's finish in s. */
interface Throughput {
  readonly bigMiBps: number;
  readonly filesPerSecond: number;
  readonly bigFinishSeconds: number;
  readonly filesFinishSeconds: number;
}

async function throughputOf(args: Args, replicas: number): Promise<Throughput> {
  progress(`throughput: 3 nodes, R=${replicas}`);
  const cluster = await PfsCluster.start({ ...chaosClusterDefaults, nodes: 3, replicas,
    writeQuorum: replicas === 1 ? 1 : 2, parentDir: tmpdir(),
    masterLeaseTtlSeconds: throughputLeaseSeconds, deadTimeSeconds: 3 * throughputLeaseSeconds });
  try {
    const client = cluster.client(cluster.names[0] ?? "");
    await client.call("CreateRepo", { name: "bench" });
    await settle(cluster, client, "bench");
    const big = await timedCommit(client, "bench", "/big",
      uniqueBytes(args.megabytes * 1024 * 1024, `big-${replicas}`), "RAW");
    progress(`  ${args.megabytes} MiB in ${big.seconds.toFixed(1)} s (finish ` +
      `${big.finish.toFixed(1)} s)`);
    const entries = Array.from({ length: args.files }, (_, index) => ({
      name: `f${String(index).padStart(6, "0")}.bin`,
      // hex: 4,096 ASCII characters are 4,096 bytes in the archive
      data: [...uniqueBytes(fileBytes / 2, `small-${replicas}-${index}`)][0]?.toString("hex")
        ?? "",
    }));
    const archive = await tarOf(entries);
    const small = await timedCommit(client, "bench", "/small", [archive], "TAR");
    progress(`  ${args.files} files in ${small.seconds.toFixed(1)} s (finish ` +
      `${small.finish.toFixed(1)} s)`);
    return { bigMiBps: args.megabytes / big.seconds, filesPerSecond: args.files / small.seconds,
      bigFinishSeconds: big.finish, filesFinishSeconds: small.finish };
  } finally {
    await cluster.close();
  }
}

async function throughput(args: Args, rows: string[]): Promise<void> {
  const one = await throughputOf(args, 1);
  const three = await throughputOf(args, 3);
  rows.push(`| ${args.megabytes} MiB file, put + finish | R=1: ${one.bigMiBps.toFixed(1)} MiB/s ` +
    `(finish ${one.bigFinishSeconds.toFixed(1)} s) | R=3, W=2: ${three.bigMiBps.toFixed(1)} ` +
    `MiB/s (${(three.bigMiBps / one.bigMiBps).toFixed(2)}×; finish ` +
    `${three.bigFinishSeconds.toFixed(1)} s) |`);
  rows.push(`| ${args.files} files of 4 KiB (one tar put) + finish | R=1: ` +
    `${one.filesPerSecond.toFixed(0)} files/s (finish ${one.filesFinishSeconds.toFixed(1)} s) | ` +
    `R=3, W=2: ${three.filesPerSecond.toFixed(0)} files/s ` +
    `(${(three.filesPerSecond / one.filesPerSecond).toFixed(2)}×; finish ` +
    `${three.filesFinishSeconds.toFixed(1)} s) |`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows: string[] = [];
  if (args.only !== "throughput") await failover(args, rows);
  if (args.only !== "failover") await throughput(args, rows);
  process.stdout.write("| case | result | against |\n| --- | --- | --- |\n" +
    rows.map((row) => `${row}\n`).join(""));
}

main().catch((error: unknown) => {
  process.stderr.write(`scripts/bench failover: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
