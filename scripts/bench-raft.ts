// scripts/bench raft: the write path of a three-member Raft cluster on loopback, with real
// fsync (each member a raft-test-node process with its WAL in a temp dir). For 1 and 256
// concurrent proposers of 256-byte entries sent to the leader, it measures proposals/s, the
// p50 and p99 latency from request to applied-on-the-leader answer (HTTP included), the
// leader's fsyncs/s and mean entries per fsync (the group-commit batch), and prints a
// markdown table. Then it kills the leader with SIGKILL `--kills` times under a light load
// (etcd's timing: 100 ms tick, 1 s election timeout) and reports the time to an agreed new
// leader and the longest stretch without an acknowledged write, p50/p99/max. For scale it
// also measures this disk's serial 4 KiB write+fdatasync rate in the same run.
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RaftCluster, type NodeStatus } from "../test/support/raft-cluster.js";

const entryBytes = 256;

interface Row {
  readonly proposers: number;
  readonly proposals: number;
  readonly failures: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly fsyncsPerSecond: number;
  readonly meanBatch: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = Math.min(sorted.length - 1, Math.floor(fraction * sorted.length));
  return sorted[at] ?? Number.NaN;
}

async function leaderOf(cluster: RaftCluster): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const leader = await cluster.agreedLeader();
    if (leader !== undefined) return leader;
    if (Date.now() > deadline) throw new Error("no leader within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function run(cluster: RaftCluster, proposers: number, seconds: number): Promise<Row> {
  const leader = await leaderOf(cluster);
  const before = (await cluster.status(leader)) as NodeStatus;
  const latenciesMs: number[] = [];
  let failures = 0;
  const endAt = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: proposers }, async (_, proposer) => {
    const payload = Buffer.alloc(entryBytes, 97 + (proposer % 26));
    for (let n = 0; performance.now() < endAt; n += 1) {
      payload.write(`${proposer}-${n}-`, 0);
      const start = performance.now();
      const outcome = await cluster.propose(leader, payload);
      if (outcome.ok) latenciesMs.push(performance.now() - start);
      else failures += 1;
    }
  }));
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  const after = (await cluster.status(leader)) as NodeStatus;
  latenciesMs.sort((a, b) => a - b);
  const syncs = after.syncCount - before.syncCount;
  return {
    proposers,
    proposals: latenciesMs.length,
    failures,
    perSecond: latenciesMs.length / elapsedSeconds,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    fsyncsPerSecond: syncs / elapsedSeconds,
    meanBatch: syncs === 0 ? 0 : (after.persistedEntryCount - before.persistedEntryCount) / syncs,
  };
}

function table(rows: readonly Row[], seconds: number): string {
  const lines = [
    `3 members on loopback, real fsync, ${entryBytes}-byte entries, ${seconds} s per row`,
    "",
    "| proposers | proposals/s | p50 ms | p99 ms | leader fsyncs/s | entries/fsync | ok | failed |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(`| ${r.proposers} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ` +
      `${r.p99Ms.toFixed(2)} | ${r.fsyncsPerSecond.toFixed(0)} | ${r.meanBatch.toFixed(1)} | ` +
      `${r.proposals} | ${r.failures} |`);
  }
  return lines.join("\n");
}

/** Serial 4 KiB write + fdatasync operations per second on the benchmark's disk. */
function fdatasyncsPerSecond(root: string, seconds: number): number {
  const fd = openSync(join(root, "fdatasync-probe"), "w");
  const block = Buffer.alloc(4096, 1);
  let count = 0;
  const endAt = performance.now() + seconds * 1000;
  try {
    while (performance.now() < endAt) {
      writeSync(fd, block);
      fdatasyncSync(fd);
      count += 1;
    }
  } finally {
    closeSync(fd);
  }
  return count / seconds;
}

interface Failover {
  readonly electionMs: number[];
  readonly writeGapMs: number[];
}

/** Kills the leader `kills` times under a light load, restarting it after each election. */
async function failover(cluster: RaftCluster, kills: number): Promise<Failover> {
  const result: Failover = { electionMs: [], writeGapMs: [] };
  let stopped = false;
  let lastAckMs = performance.now();
  let longestGapMs = 0;
  const load = Array.from({ length: 4 }, async (_, client) => {
    for (let n = 0; !stopped; n += 1) {
      const live = cluster.ids.filter((id) => cluster.isAlive(id));
      const target = live[(client + n) % live.length] ?? 1;
      const outcome = await cluster.propose(target, Buffer.from(`f${client}-${n}`), 500);
      if (outcome.ok) {
        const now = performance.now();
        longestGapMs = Math.max(longestGapMs, now - lastAckMs);
        lastAckMs = now;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  });
  try {
    for (let kill = 0; kill < kills; kill += 1) {
      const leader = await leaderOf(cluster);
      await new Promise((resolve) => setTimeout(resolve, 500));
      longestGapMs = 0;
      const killedAt = performance.now();
      await cluster.kill(leader);
      for (;;) {
        const next = await cluster.agreedLeader();
        if (next !== undefined && next !== leader) break;
        if (performance.now() - killedAt > 30_000) throw new Error("no new leader within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      result.electionMs.push(performance.now() - killedAt);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      result.writeGapMs.push(longestGapMs);
      await cluster.restart(leader);
    }
  } finally {
    stopped = true;
    await Promise.all(load);
  }
  return result;
}

function summary(label: string, samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] ?? Number.NaN;
  return `| ${label} | ${sorted.length} | ${percentile(sorted, 0.5).toFixed(0)} | ` +
    `${percentile(sorted, 0.99).toFixed(0)} | ${max.toFixed(0)} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "10" },
      kills: { type: "string", default: "20" },
    },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds ${values.seconds} is not a positive number`);
  const kills = Number(values.kills);
  if (!Number.isInteger(kills) || kills < 0) throw new Error(`--kills ${values.kills} is bad`);
  const root = await mkdtemp(join(tmpdir(), "pfs-bench-raft-"));
  const cluster = await RaftCluster.start({
    size: 3, root, tickMs: 100, snapshotEntries: 10_000,
  });
  try {
    const rows: Row[] = [];
    for (const proposers of [1, 256]) rows.push(await run(cluster, proposers, seconds));
    process.stdout.write(`${table(rows, seconds)}\n`);
    const baseline = fdatasyncsPerSecond(root, 2);
    process.stdout.write(`\nthis disk: ${baseline.toFixed(0)} serial 4 KiB write+fdatasync/s\n`);
    if (kills > 0) {
      const measured = await failover(cluster, kills);
      process.stdout.write([
        "",
        `kill -9 of the leader under load, ${kills} times (100 ms tick, 1 s election timeout)`,
        "",
        "| measure | kills | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        summary("kill → agreed new leader", measured.electionMs),
        summary("longest stretch without an acknowledged write", measured.writeGapMs),
        "",
      ].join("\n"));
    }
  } finally {
    await cluster.stop(true);
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-raft: ${error instanceof Error ? error.stack ?? "" : String(error)}\n`);
  process.exit(1);
});
