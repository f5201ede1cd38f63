// Goal (issue 6, test 4): a sixth node joining a running cluster with --join takes replicas
// and catches up (holds every finished commit of the shards placed on it); and a rolling
// restart of every node, one at a time (SIGTERM, restart on its data dir, wait until the
// replicas caught up), keeps writes and reads available throughout: writers keep committing
// (no gap between successful commits longer than the resume bound), and every read of an
// earlier commit succeeds (a failed read is retried on other nodes; it must succeed within
// a bound, and the retries are reported).
// Method: real pfsd processes (R=3, W=2, 4 shards; 5 nodes for the join, 3 for the roll so
// that every restart takes a replica of every shard away), seeded writers (writers.ts), a reader
// loop, the checker's replica check on disk. The seed is in the titles; PFS_TEST_SEED
// reproduces a run.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Prng } from "../../pkg/common/index.js";
import { eventually } from "../e2e/pfs-crash-support.js";
import { type ReplicaCheckDepth, checkChaosRun, checkReplicas } from "./checker.js";
import { features, waitingFor } from "./features.js";
import {
  healMsMax, readRetryMsMax, readRetryPauseMs, writeResumeMsMax,
} from "./limits.js";
import { PfsCluster, chaosClusterDefaults } from "./pfs-cluster.js";
import { type CommitRecord, Writers, describeError, withDeadline } from "./writers.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);

/**
 * Reads earlier commits' files from random nodes that are not being restarted. A read that
 * fails is retried on other nodes every readRetryPauseMs; it fails only when no attempt
 * succeeded within readRetryMsMax (a client that retries must get its data within that).
 */
class Reader {
  readonly failures: string[] = [];
  /** Reads whose first attempt failed, and the last such error. */
  retried = 0;
  lastRetryReason = "";
  reads = 0;
  readonly restarting = new Set<string>();
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(private readonly cluster: PfsCluster, private readonly records: CommitRecord[],
    private readonly prng: Prng) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  #node(): string | undefined {
    const nodes = this.cluster.running().filter((name) => !this.restarting.has(name));
    return nodes[this.prng.intBelow(Math.max(1, nodes.length))];
  }

  async #readOnce(record: CommitRecord, path: string, sha256: string): Promise<string> {
    const node = this.#node();
    if (node === undefined) return "no node to read from";
    try {
      const bytes = await withDeadline(
        this.cluster.client(node).getFile(record.repo, record.commit, path),
        readRetryMsMax, `get ${path}`);
      const got = createHash("sha256").update(bytes).digest("hex");
      return got === sha256 ? "" : `${path} from ${node}: sha256 ${got}, written ${sha256}`;
    } catch (error: unknown) {
      return `${record.repo}@${record.commit}${path} from ${node}: ${describeError(error)}`;
    }
  }

  async #read(record: CommitRecord, path: string, sha256: string): Promise<void> {
    const deadline = Date.now() + readRetryMsMax;
    for (let attempt = 0; ; attempt += 1) {
      const failure = await this.#readOnce(record, path, sha256);
      if (failure === "") return;
      if (failure.includes("sha256")) {
        this.failures.push(failure);
        return;
      }
      if (attempt === 0) {
        this.retried += 1;
        this.lastRetryReason = failure;
      }
      if (Date.now() > deadline) {
        this.failures.push(`no read succeeded in ${readRetryMsMax} ms: ${failure}`);
        return;
      }
      await PfsCluster.sleep(readRetryPauseMs);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const done = this.records.filter((record) => record.outcome === "ok");
      const record = done[this.prng.intBelow(Math.max(1, done.length))];
      const file = record?.files[this.prng.intBelow(Math.max(1, record.files.length))];
      if (record !== undefined && file !== undefined) {
        await this.#read(record, file.path, file.sha256);
        this.reads += 1;
      }
      await PfsCluster.sleep(100);
    }
  }
}

/** Waits until every holder of every finished commit's shards holds it; returns failures. */
async function caughtUp(cluster: PfsCluster, via: string, records: readonly CommitRecord[],
  depth: ReplicaCheckDepth): Promise<string[]> {
  const deadline = Date.now() + healMsMax;
  const failures: string[] = [];
  for (const record of records.filter((candidate) => candidate.outcome === "ok")) {
    failures.push(...await checkReplicas(cluster, via, record, deadline, depth));
  }
  return failures;
}

/** The longest time in [fromMs, toMs] without a successful commit. */
function longestGap(okTimes: readonly number[], fromMs: number, toMs: number): number {
  let last = fromMs;
  let longest = 0;
  for (const time of okTimes.filter((candidate) => candidate > fromMs && candidate <= toMs)) {
    longest = Math.max(longest, time - last);
    last = time;
  }
  return Math.max(longest, toMs - last);
}

const rollingTitle = `rolling restart: writes and reads stay available (seed ${seed})`;
if (!features.replication) {
  test.todo(waitingFor(rollingTitle, "replication wired into pfsd (reads from any replica)"));
} else {
  test(rollingTitle, async (t) => {
    t.timeout(280_000);
    // 3 nodes: each restart takes a replica of every shard away (R=3, W=2 still met), and
    // the roll stays within CI's bounds.
    const cluster = await PfsCluster.start({ ...chaosClusterDefaults, nodes: 3 });
    try {
      const writers = new Writers(cluster, seed, 2);
      await writers.start();
      await PfsCluster.sleep(4_000);
      const reader = new Reader(cluster, writers.log.records, new Prng(seed + 1));
      reader.start();
      const rollStartMs = Date.now();
      for (const name of cluster.names) {
        reader.restarting.add(name);
        const stoppedMs = Date.now();
        await cluster.terminate(name);
        await cluster.restart(name);
        const restartedMs = Date.now();
        reader.restarting.delete(name);
        const via = cluster.names.find((other) => other !== name) ?? name;
        t.deepEqual(await caughtUp(cluster, via, writers.log.records, "manifests"), [],
          `replicas did not catch up after ${name} restarted`);
        t.log(`${name}: restart ${restartedMs - stoppedMs} ms, caught up ` +
          `${Date.now() - restartedMs} ms later`);
      }
      const rollEndMs = Date.now();
      await writers.stop();
      await reader.stop();
      const gap = longestGap(writers.okTimes(), rollStartMs, rollEndMs);
      t.log(`roll ${rollEndMs - rollStartMs} ms; longest gap between commits ${gap} ms; ` +
        `${reader.reads} reads, ${reader.retried} retried (last: ${reader.lastRetryReason})`);
      t.true(gap <= writeResumeMsMax, `no commit succeeded for ${gap} ms during the roll`);
      t.true(reader.reads > 0);
      t.deepEqual(reader.failures.slice(0, 10), []);
      const verdict = await checkChaosRun(cluster, writers.log, [], 2);
      t.deepEqual(verdict.failures.slice(0, 20), []);
    } finally {
      await cluster.close();
    }
  });
}

const joinTitle = `join: a sixth node joining with --join takes replicas and catches up (seed ${seed})`;
if (!features.replication || !features.join) {
  test.todo(waitingFor(joinTitle, "pfsd --join and replication wired into pfsd"));
} else {
  test(joinTitle, async (t) => {
    t.timeout(200_000);
    const cluster = await PfsCluster.start(chaosClusterDefaults);
    const root = await mkdtemp(join(tmpdir(), "pfs-chaos-join-"));
    const joiner = await cluster.spawnJoiner("m6", join(root, "m6"));
    try {
      const writers = new Writers(cluster, seed, 2);
      await writers.start();
      await PfsCluster.sleep(5_000);
      await cluster.adopt("m6", join(root, "m6"));
      const placed = await eventually(healMsMax, async () => {
        const map = await cluster.replicaMap();
        return map?.placement.some((nodes) => nodes.includes("m6")) === true;
      });
      t.true(placed, `m6 holds no replica: ${JSON.stringify(await cluster.replicaMap())}\n` +
        joiner.stderr().slice(-3_000));
      await writers.stop();
      t.deepEqual(await caughtUp(cluster, "m6", writers.log.records, "full"), []);
      const verdict = await checkChaosRun(cluster, writers.log, [], 2);
      t.deepEqual(verdict.failures.slice(0, 20), []);
    } finally {
      await joiner.stop();
      await cluster.close();
      await rm(root, { recursive: true, force: true });
    }
  });
}
