/**
 * The metrics of pipelines (`pfs_pipeline_*`), registered on the pfsd process registry (the
 * one PfsMetrics uses; cmd/pfsd-metrics.ts), read from the coordination store rather than
 * pushed by the master and workers, so they need no hook in either:
 *
 * - pfs_pipeline_pipelines: pipelines defined (cluster-wide; every node reports the same);
 * - pfs_pipeline_jobs{pipeline,state}: job records by state (cluster-wide, like the above);
 * - pfs_pipeline_datums_total{pipeline,outcome}: datums whose result this node's worker
 *   wrote (outcome success or failure); summed over the nodes, the cluster's;
 * - pfs_pipeline_datum_duration_seconds{pipeline}: how long those datums ran (all tries).
 *
 * The gauges are computed at scrape time from watched copies of the pipeline and job
 * prefixes. The datum counters come from a watch on the results prefix: a result counts when
 * its key is created (version 1) and names this node, so a re-put or a restart of the watch
 * from the current revision never counts it twice; a result whose job record is not (yet)
 * known counts under pipeline "". A damaged record is skipped with a warning, never thrown.
 */
import type { Etcd3, Watcher } from "etcd3";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type Logger, PfsError } from "../../common/index.js";
import { PrefixCache } from "../../pfs/index.js";
import type { PpsKeys } from "../keys.js";
import { decodeJob, jobStates } from "../records.js";
import { decodeDatumResult } from "../task-records.js";
import { ppsDatumDurationBucketsSeconds } from "./limits.js";

export interface PpsMetricsOptions {
  readonly client: Etcd3;
  readonly keys: PpsKeys;
  /** This node's name: the results it counts are those its worker wrote. */
  readonly node: string;
  readonly registry: Registry;
  readonly logger: Logger;
}

export class PpsMetrics {
  readonly #options: PpsMetricsOptions;
  readonly #pipelines: PrefixCache;
  readonly #jobs: PrefixCache;
  readonly #datums: Counter<"pipeline" | "outcome">;
  readonly #durations: Histogram<"pipeline">;
  #watcher: Watcher | undefined;

  constructor(options: PpsMetricsOptions) {
    this.#options = options;
    const { client, keys, logger, registry } = options;
    this.#pipelines = new PrefixCache(client, keys.pipelinesPrefix, logger);
    this.#jobs = new PrefixCache(client, keys.jobsPrefix, logger);
    const pipelines = this.#pipelines;
    new Gauge({
      name: "pfs_pipeline_pipelines", help: "Pipelines defined in the cluster.",
      registers: [registry],
      collect(): void { this.set(pipelines.entries.size); },
    });
    const jobCounts = (): Map<string, number> => this.#jobCounts();
    new Gauge({
      name: "pfs_pipeline_jobs", help: "Jobs of each pipeline by state (the cluster's).",
      labelNames: ["pipeline", "state"] as const, registers: [registry],
      collect(): void {
        this.reset();
        for (const [labels, count] of jobCounts()) {
          const [pipeline = "", state = ""] = labels.split("\0");
          this.set({ pipeline, state }, count);
        }
      },
    });
    this.#datums = new Counter({
      name: "pfs_pipeline_datums_total",
      help: "Datums this node's worker ran to a result, by outcome (success, failure).",
      labelNames: ["pipeline", "outcome"] as const, registers: [registry],
    });
    this.#durations = new Histogram({
      name: "pfs_pipeline_datum_duration_seconds",
      help: "How long the datums this node's worker ran took, every try included.",
      labelNames: ["pipeline"] as const, buckets: [...ppsDatumDurationBucketsSeconds],
      registers: [registry],
    });
  }

  /** Reads the prefixes and starts the watches; UNAVAILABLE when the store is unreachable. */
  async start(): Promise<void> {
    await this.#pipelines.start();
    await this.#jobs.start();
    const prefix = this.#options.keys.resultsPrefix;
    try {
      this.#watcher = await this.#options.client.watch().prefix(prefix).create();
    } catch (error: unknown) {
      throw new PfsError("UNAVAILABLE", `cannot watch ${prefix}: ` +
        (error instanceof Error ? error.message : String(error)));
    }
    this.#watcher.on("put", (kv) => {
      if (kv.version === "1") this.#count(kv.key.toString("utf8"), kv.value);
    });
    this.#watcher.on("error", (error: unknown) => {
      this.#options.logger.warn("watch error (the client re-establishes it)", { prefix, error });
    });
  }

  #count(key: string, value: Buffer): void {
    try {
      const result = decodeDatumResult(key, value);
      if (result.node !== this.#options.node) return;
      const pipeline = this.#pipelineOf(result.jobId);
      this.#datums.inc({ pipeline, outcome: result.ok ? "success" : "failure" });
      this.#durations.observe({ pipeline }, result.durationMs / 1000);
    } catch (error: unknown) {
      this.#options.logger.warn("a datum result is damaged; not counted", { key, error });
    }
  }

  #pipelineOf(jobId: string): string {
    const value = this.#jobs.entries.get(jobId);
    if (value === undefined) return "";
    return decodeJob(jobId, Buffer.from(value)).pipeline;
  }

  /** "pipeline\0state" → jobs; every state of every pipeline present, 0 included. */
  #jobCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [id, value] of this.#jobs.entries) {
      try {
        const job = decodeJob(id, Buffer.from(value));
        for (const state of jobStates) {
          const labels = `${job.pipeline}\0${state}`;
          counts.set(labels, (counts.get(labels) ?? 0) + (state === job.state ? 1 : 0));
        }
      } catch (error: unknown) {
        this.#options.logger.warn("a job record is damaged; not counted", { id, error });
      }
    }
    return counts;
  }

  async close(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    await Promise.all([
      watcher?.cancel(), this.#pipelines.close(), this.#jobs.close(),
    ]);
  }
}
