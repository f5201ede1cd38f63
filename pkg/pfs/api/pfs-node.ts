/**
 * `PfsNode`: the pfs part of one pfsd (DESIGN.md §1): an etcd3 client on the coordination
 * store (the embedded member's own client URL, or --etcd-endpoints), the fixed shard count
 * (`ensureClusterConfig`: a different --shards is FAILED_PRECONDITION), the placement cache,
 * the router, and one gRPC server on --pfs-address that serves pfs.API and pfs.Shard. The node
 * registers itself under `/pfs/nodes/` only once it serves, so a registered node is dialable.
 *
 * Garbage collection (pkg/pfs/gc): the node's collector reconciles the shards placed here with
 * the metadata and frees their unreferenced chunks every `gcIntervalSeconds` (0 = off) and
 * soon after a deletion; pfs.API CollectGarbage asks the collector of every node holding a
 * placed shard (through pfs.Shard CollectGarbage) and sums what they freed.
 *
 * Once serving, the node settles the commits a crash of its previous run left half-done
 * (commit-recovery.ts) before `start` resolves.
 *
 * Start-up retries while the coordination store is UNAVAILABLE (a fresh cluster is still
 * electing) for at most pfsNodeStartMsMax; `close()` stops the collector, unregisters, stops
 * the server (running calls get a short grace), and closes shards and the client.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { Etcd3, type IOptions } from "etcd3";
import {
  type Logger, PfsError, SystemClock, limits, pfsGcIntervalSecondsDefault,
} from "../../common/index.js";
import {
  type GarbageFreed, NodeGarbageCollector, metaCommitStates, sumFreed, watchDeletions,
} from "../gc/index.js";
import { MetaStore, metaRootDefault } from "../meta/index.js";
import { NodeRegistration, ShardPlacement, checkNodeName } from "../placement/index.js";
import { loadPfsService, loadPfsShardService } from "../../proto/index.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { pfsApiHandlers } from "./api-service.js";
import { newAutoCommitOwner, recoverCommits } from "./commit-recovery.js";
import { CommitResolver } from "./commit-resolver.js";
import { ShardRouter } from "./shard-router.js";
import { shardServiceHandlers } from "./shard-service.js";

/** How long start-up waits for the coordination store, in milliseconds. */
export const pfsNodeStartMsMax: number = 60_000;

/** Deadline of each unary etcd call the node makes, in milliseconds. */
export const etcdCallDeadlineMs: number = 10_000;

export interface PfsNodeOptions {
  /** The node's name (pfsd's --name): its key under /pfs/nodes/. */
  readonly name: string;
  /** HOST:PORT to serve on (--pfs-address); port 0 picks one. */
  readonly listen: string;
  /** etcd client URLs (the embedded member's, or --etcd-endpoints). */
  readonly etcdEndpoints: readonly string[];
  /** The shard count S asked for (--shards). */
  readonly shards: number;
  /** Opens this node's replica of a shard. */
  readonly openLocal: (shard: number) => Promise<ShardReplica>;
  readonly logger: Logger;
  /** Key root (default /pfs). */
  readonly root?: string;
  /** Seconds between garbage collections of the local shards (0 = off; --pfs-gc-interval). */
  readonly gcIntervalSeconds?: number;
  /** TLS of the etcd client (pfsd's client TLS flags); plaintext when absent. */
  readonly etcdCredentials?: IOptions["credentials"];
}

interface ConstantBackoff { readonly duration: number; next(): ConstantBackoff }
const watchBackoff: ConstantBackoff = { duration: 250, next: () => watchBackoff };

async function untilAvailable<T>(what: string, logger: Logger, attempt: () => Promise<T>):
  Promise<T> {
  const deadline = Date.now() + pfsNodeStartMsMax;
  for (;;) {
    try {
      return await attempt();
    } catch (error: unknown) {
      const retry = !(error instanceof PfsError) || error.code === "UNAVAILABLE";
      if (!retry || Date.now() > deadline) throw error;
      logger.info("coordination store not ready; retrying", { what, error });
      await new Promise((resolve) => { setTimeout(resolve, 500).unref(); });
    }
  }
}

/** The node's etcd client: deadlines on unary calls, TLS when given. */
function etcdClient(options: PfsNodeOptions): Etcd3 {
  return new Etcd3({
    hosts: [...options.etcdEndpoints],
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + etcdCallDeadlineMs },
    faultHandling: { watchBackoff },
    ...(options.etcdCredentials === undefined ? {} : { credentials: options.etcdCredentials }),
  });
}

/** Binds `server` to `listen` (HOST:PORT, port 0 picks one); the address others dial. */
async function listen(server: Server, listenAddress: string): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listenAddress, ServerCredentials.createInsecure(), (error, bound) => {
      if (error !== null) reject(new PfsError("UNAVAILABLE",
        `cannot listen on --pfs-address ${listenAddress}: ${error.message}`));
      else resolve(bound);
    });
  });
  const host = listenAddress.slice(0, listenAddress.lastIndexOf(":"));
  return `${host === "0.0.0.0" || host === "" ? "127.0.0.1" : host}:${port}`;
}

/** The replicas of the shards placed on this node now. */
function localReplicas(placement: ShardPlacement, router: ShardRouter, self: string):
  Promise<ShardReplica[]> {
  const mine = [...placement.owners()].filter(([, owner]) => owner === self)
    .map(([shard]) => shard).sort((a, b) => a - b);
  return Promise.all(mine.map((shard) => router.local(shard)));
}

/**
 * Collects garbage on every node that holds a placed shard (this one through `collector`, the
 * others through pfs.Shard); the sum. Every shard is tried; the first failure is thrown.
 */
async function collectEverywhere(placement: ShardPlacement, router: ShardRouter, self: string,
  collector: NodeGarbageCollector): Promise<GarbageFreed> {
  const results = await Promise.allSettled([...placement.owners()].map(async ([shard, owner]) =>
    owner === self ? collector.collectShard(await router.local(shard))
      : (await router.replica(shard)).collectGarbage()));
  const freed: GarbageFreed[] = [];
  for (const result of results) {
    if (result.status === "rejected") throw result.reason;
    freed.push(result.value);
  }
  return sumFreed(freed);
}

export class PfsNode {
  readonly address: string;
  readonly #collector: NodeGarbageCollector;
  readonly #client: Etcd3;
  readonly #placement: ShardPlacement;
  readonly #router: ShardRouter;
  readonly #server: Server;
  readonly #registration: NodeRegistration;
  readonly #logger: Logger;

  private constructor(parts: {
    address: string; client: Etcd3; placement: ShardPlacement; router: ShardRouter;
    server: Server; registration: NodeRegistration; logger: Logger;
    collector: NodeGarbageCollector;
  }) {
    this.address = parts.address;
    this.#collector = parts.collector;
    this.#client = parts.client;
    this.#placement = parts.placement;
    this.#router = parts.router;
    this.#server = parts.server;
    this.#registration = parts.registration;
    this.#logger = parts.logger;
  }

  static async start(options: PfsNodeOptions): Promise<PfsNode> {
    checkNodeName(options.name);
    const logger = options.logger;
    const root = options.root ?? metaRootDefault;
    const client = etcdClient(options);
    const opened: {
      placement?: ShardPlacement; router?: ShardRouter; server?: Server;
      collector?: NodeGarbageCollector;
    } = {};
    try {
      const meta = new MetaStore(client, { root });
      const config = await untilAvailable("cluster config", logger,
        () => meta.ensureClusterConfig(options.shards));
      const placement = await untilAvailable("placement", logger,
        () => ShardPlacement.open({ client, root, shards: config.shards, logger }));
      opened.placement = placement;
      const router = new ShardRouter({
        placement, self: options.name, shards: config.shards, openLocal: options.openLocal, logger,
      });
      opened.router = router;
      const collector = await NodeGarbageCollector.start({
        intervalSeconds: options.gcIntervalSeconds ?? pfsGcIntervalSecondsDefault,
        localShards: () => localReplicas(placement, router, options.name),
        readStates: metaCommitStates(client, root),
        watchDeletions: (onDeletion) => watchDeletions(client, root, logger, onDeletion),
        clock: new SystemClock(), logger,
      });
      opened.collector = collector;
      const collectGarbage = (): Promise<GarbageFreed> =>
        collectEverywhere(placement, router, options.name, collector);
      const server = new Server({
        "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
        "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
      });
      opened.server = server;
      const owner = newAutoCommitOwner(options.name);
      server.addService(loadPfsService().service,
        pfsApiHandlers({ meta, router, logger, collectGarbage, owner }));
      server.addService(loadPfsShardService().service, shardServiceHandlers(
        (shard) => router.local(shard), logger, (replica) => collector.collectShard(replica)));
      const address = await listen(server, options.listen);
      const registration = await untilAvailable("registration", logger, () =>
        NodeRegistration.register(client, root, { name: options.name, address }, logger));
      logger.info("serving pfs", { address, shards: config.shards });
      // Commits a crash of this node's previous run left half-done (commit-recovery.ts).
      await recoverCommits(meta, new CommitResolver(meta, router, logger, owner), owner, logger)
        .catch((error: unknown) => { logger.warn("commit recovery failed", { error }); });
      return new PfsNode({
        address, client, placement, router, server, registration, logger, collector,
      });
    } catch (error: unknown) {
      await opened.collector?.close();
      opened.server?.forceShutdown();
      await opened.router?.close();
      await opened.placement?.close();
      client.close();
      throw error;
    }
  }

  /** Stops the collector, unregisters, drains the server, closes shards and the client. */
  async close(): Promise<void> {
    await this.#collector.close();
    await this.#registration.close();
    await new Promise<void>((resolve) => {
      const forced = setTimeout(() => { this.#server.forceShutdown(); resolve(); },
        limits.grpcShutdownGraceMs);
      forced.unref();
      this.#server.tryShutdown(() => { clearTimeout(forced); resolve(); });
    });
    await this.#router.close();
    await this.#placement.close();
    this.#client.close();
    this.#logger.info("pfs stopped");
  }
}
