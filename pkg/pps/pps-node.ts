/**
 * `PpsNode`: the pipelines part of one pfsd (DESIGN.md §1, §5), composed in every node: the
 * pps.API handlers (served on the node's pfs port), a PpsMaster (pkg/pps/master: campaigns;
 * the elected one runs jobs) and a PpsWorker (pkg/pps/worker: claims and runs datums here).
 *
 * Two steps, because the pfs node owns the gRPC server and the coordination client: the
 * handlers exist from construction (`service`, added to the server before it binds; a call
 * before `start` is UNAVAILABLE), and `start` gets what the started pfs node provides (its
 * root etcd client, its address and credentials for this node's own PfsClient, and which
 * shards it holds), clears the work directory (`workRoot`: datum work dirs of an earlier run
 * are garbage), starts the `pfs_pipeline_*` metrics (with a registry) and starts the master
 * and the worker.
 *
 * `close()` stops the worker, then the master (their leases go, so another node takes over at
 * once), then closes the PfsClient. It does not close the etcd client: the pfs node owns it,
 * and closes it after this.
 */
import { mkdir, rm } from "node:fs/promises";
import type { ChannelCredentials, ServiceDefinition } from "@grpc/grpc-js";
import type { Etcd3 } from "etcd3";
import type { Registry } from "prom-client";
import { type Clock, type Logger, assert } from "../common/index.js";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import { PfsClient } from "../pfs/client/index.js";
import { type PpsServiceHandlers, loadPpsService } from "../proto/index.js";
import {
  PipelineService, PipelineStore, ppsApiHandlers, ppsApiLimits, type PpsServices,
} from "./api/index.js";
import { PpsKeys } from "./keys.js";
import { PpsMaster, type PpsMasterOptions } from "./master/index.js";
import { PpsMetrics } from "./metrics/index.js";
import { PpsWorker, type PpsWorkerOptions } from "./worker/index.js";

/**
 * What the master and the worker are given: their own option types (pkg/pps/master, worker),
 * less what the node leaves to their defaults, so the shapes cannot drift apart.
 */
export type PpsPartOptions = Omit<PpsMasterOptions, "shards" | "pfsRoot">;

export type PpsWorkerPartOptions = PpsPartOptions &
  Pick<PpsWorkerOptions, "workRoot" | "holdsShard" | "concurrency">;

/** The elected pps master, as the node drives it. */
export interface PpsMasterPart { start(): void; close(): Promise<void> }
/** This node's worker, as the node drives it. */
export interface PpsWorkerPart { start(): Promise<void>; close(): Promise<void> }

/** How the node makes its master and worker (pkg/pps's own unless a test says otherwise). */
export interface PpsParts {
  readonly master: (options: PpsPartOptions) => PpsMasterPart;
  readonly worker: (options: PpsWorkerPartOptions) => PpsWorkerPart;
}

/** pkg/pps's own master and worker. */
export const ppsPartsDefault: PpsParts = {
  master: (options) => new PpsMaster(options),
  worker: (options) => new PpsWorker(options),
};

export interface PpsNodeOptions {
  /** This node's name (pfsd's --name). */
  readonly node: string;
  /** A directory of this node's own for datum work dirs (`<data dir>/pps-work`). */
  readonly workRoot: string;
  readonly keys?: PpsKeys;
  readonly clock: Clock;
  readonly logger: Logger;
  /** TTL of the master's and worker's leases (their defaults when absent). */
  readonly leaseTtlSeconds?: number;
  /** Datums this node runs at once (the worker's default when absent). */
  readonly concurrency?: number;
  /** Where the `pfs_pipeline_*` metrics go (pkg/pps/metrics); none are kept without it. */
  readonly registry?: Registry;
  /** The master and worker to run (default `ppsPartsDefault`); null: none, the API only. */
  readonly parts?: PpsParts | null;
}

/** What the started pfs node gives pps. */
export interface PpsAttachment {
  /** The pfs node's root client of the coordination store. */
  readonly client: Etcd3;
  /** The node's own pfs API address, and the credentials to dial it with. */
  readonly pfsAddress: string;
  readonly credentials: ChannelCredentials;
  readonly holdsShard: (shard: number) => boolean;
}

interface Running {
  readonly pfs: PfsClient;
  readonly metrics: PpsMetrics | undefined;
  readonly master: PpsMasterPart | undefined;
  readonly worker: PpsWorkerPart | undefined;
}

export class PpsNode {
  readonly #options: PpsNodeOptions;
  readonly #keys: PpsKeys;
  readonly #service: { service: ServiceDefinition; handlers: PpsServiceHandlers };
  #services: PpsServices | undefined;
  #running: Running | undefined;
  #closed = false;

  constructor(options: PpsNodeOptions) {
    this.#options = options;
    this.#keys = options.keys ?? new PpsKeys();
    this.#service = {
      service: loadPpsService().service,
      handlers: ppsApiHandlers(() => this.#services, options.logger),
    };
  }

  /** pps.API, to serve on the node's pfs port (pfs PfsNodeOptions.extraServices). */
  get service(): { service: ServiceDefinition; handlers: PpsServiceHandlers } {
    return this.#service;
  }

  /** Starts serving pps.API and runs the master and the worker. */
  async start(attachment: PpsAttachment): Promise<void> {
    assert(this.#running === undefined && !this.#closed, "pps node started twice");
    const { node, clock, logger, workRoot } = this.#options;
    await rm(workRoot, { recursive: true, force: true });
    await mkdir(workRoot, { recursive: true });
    const pfs = new PfsClient({ address: attachment.pfsAddress,
      credentials: attachment.credentials, callDeadlineMs: ppsApiLimits.ppsPfsCallDeadlineMs });
    const store = new PipelineStore(attachment.client, this.#keys);
    const service = new PipelineService({ store, pfs, clock, logger });
    this.#services = { service, store, pfs };
    const shared: PpsPartOptions = {
      client: attachment.client, keys: this.#keys, pfs, node, clock,
      logger: logger.child({ component: "pps" }),
      ...(this.#options.leaseTtlSeconds === undefined ? {}
        : { leaseTtlSeconds: this.#options.leaseTtlSeconds }),
    };
    const parts = this.#options.parts === undefined ? ppsPartsDefault : this.#options.parts;
    const master = parts?.master(shared);
    const worker = parts?.worker({ ...shared, workRoot, holdsShard: attachment.holdsShard,
      ...(this.#options.concurrency === undefined ? {}
        : { concurrency: this.#options.concurrency }) });
    const registry = this.#options.registry;
    const metrics = registry === undefined ? undefined : new PpsMetrics({
      client: attachment.client, keys: this.#keys, node, registry, logger });
    this.#running = { pfs, metrics, master, worker };
    await metrics?.start();
    master?.start();
    await worker?.start();
    logger.info("serving pipelines", { node, master: master !== undefined });
  }

  /** Stops the worker and the master, and closes the node's PfsClient. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#services = undefined;
    const running = this.#running;
    this.#running = undefined;
    if (running === undefined) return;
    const { logger } = this.#options;
    await running.worker?.close().catch((error: unknown) => {
      logger.warn("cannot stop the pps worker", { error });
    });
    await running.master?.close().catch((error: unknown) => {
      logger.warn("cannot stop the pps master", { error });
    });
    await running.metrics?.close().catch((error: unknown) => {
      logger.warn("cannot stop the pipeline metrics", { error });
    });
    running.pfs.close();
  }
}
