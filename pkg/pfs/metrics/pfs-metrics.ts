/**
 * The metrics of one pfs node (`pfs_*`), registered on the registry of its pfsd process
 * (cmd/pfsd-metrics.ts; one per process, never prom-client's global one):
 * - pfs_api_received_bytes_total / pfs_api_sent_bytes_total{method}: file bytes taken in by
 *   PutFile and sent out by GetFile on this node (the data parts of the messages: content
 *   or tar bytes as the client sent or got them);
 * - pfs_commits_started_total / pfs_commits_finished_total: commits this node started and
 *   finished in the metadata (StartCommit, FinishCommit, and the auto-commits of puts);
 *   summed over the nodes, the cluster's;
 * - per shard held here, read at scrape time from the shard host (`bind`): pfs_shard_master
 *   (1 while this node is the shard's master), pfs_replication_lag_commits (finished commits
 *   the master has that this replica does not yet, 0 on the master), pfs_masters_held;
 * - pfs_chunk_store_bytes{shard}: bytes of chunk files on disk per replica held here,
 *   measured by walking the chunk directories at most every chunkStoreScanIntervalMs.
 *
 * Pipelines (pps, issue 8) do not exist yet; they register their metrics on `registry`
 * (the same process registry), with the `pfs_pipeline_` prefix.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import { chunkStoreScanIntervalMs } from "./limits.js";

/** One replica held by the node, as the shard host reports it. */
export interface ShardStanding {
  readonly shard: number;
  readonly master: boolean;
  /** Finished commits behind the master (0 on the master). */
  readonly lag: number;
}

/** Where the node's metrics go and where a held shard's chunks lie on disk. */
export interface PfsMetricsOptions {
  readonly registry: Registry;
  /** The chunk directory of the replica of `shard` held here. */
  readonly chunkDir: (shard: number) => string;
}

/** Sums the sizes of the files in `dir` and its subdirectories (0 when it is missing). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const entries = await readdir(next, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(next, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) total += await stat(path).then((info) => info.size, () => 0);
    }
  }
  return total;
}

export class PfsMetrics {
  /** The process registry; pipelines (issue 8) register their metrics here. */
  readonly registry: Registry;
  readonly #options: PfsMetricsOptions;
  readonly #received: Counter<"method">;
  readonly #sent: Counter<"method">;
  readonly #commitsStarted: Counter;
  readonly #commitsFinished: Counter;
  #standings: () => readonly ShardStanding[] = () => [];
  #chunkScan: { readonly atMs: number; readonly bytes: Promise<Map<number, number>> } | undefined;

  constructor(options: PfsMetricsOptions) {
    this.registry = options.registry;
    this.#options = options;
    const registers = [options.registry];
    this.#received = new Counter({ name: "pfs_api_received_bytes_total", labelNames: ["method"],
      help: "File bytes received by pfs API calls on this node (PutFile data).", registers });
    this.#sent = new Counter({ name: "pfs_api_sent_bytes_total", labelNames: ["method"],
      help: "File bytes sent by pfs API calls on this node (GetFile data).", registers });
    this.#commitsStarted = new Counter({ name: "pfs_commits_started_total",
      help: "Commits this node started (explicit and auto-commits).", registers });
    this.#commitsFinished = new Counter({ name: "pfs_commits_finished_total",
      help: "Commits this node finished.", registers });
    this.#registerShardGauges();
  }

  /** Starts reading the per-shard gauges from the shard host's standings. */
  bind(standings: () => readonly ShardStanding[]): void {
    this.#standings = standings;
  }

  /** `bytes` of file data came in on `method`. */
  received(method: string, bytes: number): void { this.#received.inc({ method }, bytes); }
  /** `bytes` of file data went out on `method`. */
  sent(method: string, bytes: number): void { this.#sent.inc({ method }, bytes); }
  commitStarted(): void { this.#commitsStarted.inc(); }
  commitFinished(): void { this.#commitsFinished.inc(); }

  /** `parts` passed through, their bytes counted as received on `method`. */
  async *countReceived(method: string, parts: AsyncIterable<Uint8Array>):
    AsyncIterable<Uint8Array> {
    for await (const part of parts) {
      this.received(method, part.length);
      yield part;
    }
  }

  #registerShardGauges(): void {
    const registers = [this.registry];
    const standings = (): readonly ShardStanding[] => this.#standings();
    new Gauge({ name: "pfs_shard_master", labelNames: ["shard"], registers,
      help: "1 while this node is the master of the shard, 0 for a replica it holds.",
      collect() {
        this.reset();
        for (const each of standings()) {
          this.set({ shard: String(each.shard) }, Number(each.master));
        }
      } });
    new Gauge({ name: "pfs_replication_lag_commits", labelNames: ["shard"], registers,
      help: "Finished commits the shard's master has that this replica has not yet.",
      collect() {
        this.reset();
        for (const each of standings()) this.set({ shard: String(each.shard) }, each.lag);
      } });
    new Gauge({ name: "pfs_masters_held", registers,
      help: "Shards this node is the master of.",
      collect() { this.set(standings().filter((each) => each.master).length); } });
    const chunkBytes = (): Promise<Map<number, number>> => this.#chunkBytes();
    new Gauge({ name: "pfs_chunk_store_bytes", labelNames: ["shard"], registers,
      help: "Bytes of chunk files on disk of the shard's replica held here (walked at most " +
        `every ${chunkStoreScanIntervalMs / 1_000} s).`,
      async collect() {
        const sums = await chunkBytes();
        this.reset();
        for (const [shard, bytes] of sums) this.set({ shard: String(shard) }, bytes);
      } });
  }

  /** The chunk bytes per held shard, from the last walk if it is recent enough. */
  #chunkBytes(): Promise<Map<number, number>> {
    const nowMs = Date.now();
    const last = this.#chunkScan;
    if (last !== undefined && nowMs - last.atMs < chunkStoreScanIntervalMs) return last.bytes;
    const shards = this.#standings().map((each) => each.shard);
    const bytes = Promise.all(shards.map(async (shard) =>
      [shard, await directoryBytes(this.#options.chunkDir(shard))] as const))
      .then((pairs) => new Map(pairs));
    this.#chunkScan = { atMs: nowMs, bytes };
    return bytes;
  }
}
