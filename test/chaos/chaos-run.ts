/**
 * One chaos run, shared by test/chaos/chaos.test.ts (short) and scripts/chaos-pfs.ts (any
 * length): start a cluster, run K writers and the nemesis for `loadMs`, stop the nemesis
 * (its last victim restarted), let the writers run `tailMs` more so writes after the last
 * kill are seen, stop them, heal every node, check (checker.ts), stop the cluster. One seed
 * drives the writers and the nemesis; it is in every summary line.
 */
import { Prng } from "../../pkg/common/index.js";
import { type ChaosVerdict, checkChaosRun } from "./checker.js";
import { type KillRecord, PfsNemesis, type PfsNemesisOptions, defaultPfsNemesisOptions }
  from "./nemesis.js";
import { PfsCluster, type PfsClusterOptions, chaosClusterDefaults } from "./pfs-cluster.js";
import { type CommitRecord, Writers } from "./writers.js";

export interface ChaosRunOptions {
  readonly seed: number;
  readonly cluster: PfsClusterOptions;
  readonly writers: number;
  /** How long the nemesis runs, in ms. */
  readonly loadMs: number;
  /** How long the writers go on after the nemesis stopped, in ms. */
  readonly tailMs: number;
  readonly nemesis: PfsNemesisOptions;
  readonly log: (line: string) => void;
}

export const defaultChaosRunOptions: Omit<ChaosRunOptions, "seed" | "log"> = {
  cluster: chaosClusterDefaults, writers: 3, loadMs: 60_000, tailMs: 10_000,
  nemesis: defaultPfsNemesisOptions,
};

export interface ChaosRunResult {
  readonly seed: number;
  readonly verdict: ChaosVerdict;
  readonly kills: readonly KillRecord[];
  /** Whether a replica map was stored (replication running) at the check. */
  readonly replicated: boolean;
  /** One line: seed, commits by outcome, kills, resume delays. */
  readonly summary: string;
}

function percentile(values: readonly number[], share: number): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

function summaryOf(seed: number, verdict: ChaosVerdict, kills: readonly KillRecord[],
  replicated: boolean): string {
  const delays = verdict.resumeDelaysMs.filter((delay): delay is number => delay !== undefined);
  const roles = kills.map((kill) => kill.role[0] ?? "?").join("");
  return `seed ${seed}: ${replicated ? "replicated" : "single-copy (no replica map)"}; ` +
    `commits ok ${verdict.counts.ok}, failed ${verdict.counts["failed-definite"]}, ` +
    `indeterminate ${verdict.counts.indeterminate} (finished ${verdict.counts.finished}); ` +
    `${kills.length} kills [${roles}]; writes resumed after p50 ` +
    `${percentile(delays, 0.5) ?? "-"} ms, max ${percentile(delays, 1) ?? "-"} ms; ` +
    `${verdict.failures.length} failures`;
}

/** The most common reasons commits were not ok, with counts (ids and numbers blanked). */
export function reasonsOf(records: readonly CommitRecord[], most: number): string[] {
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.outcome === "ok") continue;
    const reason = `${record.outcome}: ${record.error}`.replace(/[0-9a-f]{32}/g, "<id>")
      .replace(/[0-9]+/g, "N").slice(0, 160);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, most)
    .map(([reason, count]) => `${count} × ${reason}`);
}

/** Runs one chaos run (see the module comment); throws only when the cluster breaks down. */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const prng = new Prng(options.seed);
  const startMs = Date.now();
  const log = (line: string): void => {
    options.log(`[${((Date.now() - startMs) / 1000).toFixed(1)} s] chaos seed ${options.seed}: ` +
      line);
  };
  log(`starting ${options.cluster.nodes} nodes`);
  const cluster = await PfsCluster.start(options.cluster);
  try {
    const writers = new Writers(cluster, prng.intBelow(2 ** 31), options.writers);
    await writers.start();
    log("writers started");
    const nemesis = new PfsNemesis(cluster, prng.fork(), options.nemesis);
    nemesis.start();
    await PfsCluster.sleep(options.loadMs);
    await nemesis.stop();
    log(`nemesis stopped after ${nemesis.kills.length} kills; writers go on for ` +
      `${options.tailMs} ms`);
    await PfsCluster.sleep(options.tailMs);
    await writers.stop();
    await cluster.healAll();
    const replicated = (await cluster.replicaMap()) !== undefined;
    log(`checking ${writers.log.records.length} commits (${writers.log.failedCycles} cycles ` +
      "failed before a commit started)");
    for (const reason of reasonsOf(writers.log.records, 6)) log(`  ${reason}`);
    const verdict = await checkChaosRun(cluster, writers.log, nemesis.kills, options.writers);
    log("checked");
    const summary = summaryOf(options.seed, verdict, nemesis.kills, replicated);
    return { seed: options.seed, verdict, kills: nemesis.kills, replicated, summary };
  } finally {
    await cluster.close();
  }
}
