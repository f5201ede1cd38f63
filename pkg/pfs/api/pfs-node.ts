/**
 * `PfsNode`: the pfs part of one pfsd (DESIGN.md §1, §4): an etcd3 client on the coordination
 * store (the embedded member's own client URL, or --etcd-endpoints), the fixed shard count
 * (`ensureClusterConfig`: a different --shards is FAILED_PRECONDITION), and the replication
 * machinery (pkg/pfs/replication): the placement controller campaign (one node in the cluster
 * writes the replica map), the directory every router reads (map, live nodes, masters), the
 * shard host that runs the replicas the map places here (catch-up, master campaigns), the
 * router, and one gRPC server on --pfs-address that serves pfs.API and pfs.Shard (TLS with
 * `tls`, which the node's pfs.Shard clients of the other nodes then use too; `extraServices`,
 * such as pps.API, are served there too). The node
 * registers itself under `/pfs/nodes/` only once it serves, so a registered node is dialable.
 *
 * Garbage collection (pkg/pfs/gc): the node's collector reconciles the replicas held here with
 * the metadata and frees their unreferenced chunks every `gcIntervalSeconds` (0 = off) and
 * soon after a deletion; pfs.API CollectGarbage asks every node holding a replica (through
 * pfs.Shard CollectGarbage) and sums what they freed.
 *
 * Once serving, the node settles the commits a crash of its previous run left half-done
 * (commit-recovery.ts) before `start` resolves. While it holds the placement controller's
 * election it also settles the auto-commits of nodes gone for good (orphan-sweep.ts).
 *
 * Start-up retries while the coordination store is UNAVAILABLE (a fresh cluster is still
 * electing) for at most pfsNodeStartMsMax; `close()` resigns this node's masterships first
 * (so a restart hands them over at once), then stops the controller, the collector, unregisters,
 * stops the server (running calls get a short grace), and closes replicas and the client.
 */
import {
  Server, type ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { noop } from "cockatiel";
import { Etcd3, type IOptions } from "etcd3";
import {
  type Logger, PfsError, SystemClock, limits, pfsGcIntervalSecondsDefault,
} from "../../common/index.js";
import {
  type GarbageFreed, NodeGarbageCollector, metaCommitStates, sumFreed, watchDeletions,
} from "../gc/index.js";
import { MetaStore, metaRootDefault } from "../meta/index.js";
import { PfsMetrics, type PfsMetricsOptions } from "../metrics/index.js";
import { NodeRegistration, checkNodeName } from "../placement/index.js";
import { loadPfsService, loadPfsShardService } from "../../proto/index.js";
import {
  PlacementController, ReplicaDirectory, ReplicaMapKeys, ShardHost, copyCommit, replicateCommit,
} from "../replication/index.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { readClusterStatus, removeNode } from "../status/index.js";
import { type PfsApiOptions, pfsApiHandlers } from "./api-service.js";
import { newAutoCommitOwner, recoverCommits } from "./commit-recovery.js";
import { CommitResolver } from "./commit-resolver.js";
import { OrphanSweeper } from "./orphan-sweep.js";
import { type PfsTls, pfsPeerCredentials, pfsServerCredentials } from "./pfs-tls.js";
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
  /**
   * HOST:PORT the other nodes dial (--advertise-pfs-address), published under /pfs/nodes/.
   * Absent: the bound address, with 127.0.0.1 for a wildcard host (right only on one machine).
   */
  readonly advertise?: string;
  /** etcd client URLs (the embedded member's, or --etcd-endpoints). */
  readonly etcdEndpoints: readonly string[];
  /** The shard count S asked for (--shards). */
  readonly shards: number;
  /** R, replicas of each shard (--replicas; default limits.pfsReplicasDefault). */
  readonly replicas?: number;
  /** W, acknowledgements a finish waits for (--write-quorum; 0 or absent = a majority of R). */
  readonly writeQuorum?: number;
  /** The shard masters' lease TTL in seconds (--master-lease-ttl). */
  readonly masterLeaseTtlSeconds?: number;
  /** Seconds offline before a node is faulty and its replicas move (--dead-time). */
  readonly deadTimeSeconds?: number;
  /** True while this node should let other replicas become shard masters first (ShardHost). */
  readonly deferCampaign?: () => boolean;
  /**
   * Opens this node's replica of a shard; `repairChunk` fetches a verified copy of a chunk
   * from another replica of the shard, for the replica to replace a damaged one.
   */
  readonly openLocal: (shard: number, repairChunk: (id: string) => Promise<Uint8Array>) =>
    Promise<ShardReplica>;
  readonly logger: Logger;
  /** Key root (default /pfs). */
  readonly root?: string;
  /**
   * What tells this node's data apart from an earlier disk under the same name (pfsd: an id
   * made once per data dir); staged-on marks name `<name>@<incarnation>`. Default: "".
   */
  readonly incarnation?: string;
  /** Seconds between garbage collections of the local shards (0 = off; --pfs-gc-interval). */
  readonly gcIntervalSeconds?: number;
  /** TLS of the etcd client (pfsd's client TLS flags); plaintext when absent. */
  readonly etcdCredentials?: IOptions["credentials"];
  /** Where the node's metrics go (pkg/pfs/metrics); none are kept without it. */
  readonly metrics?: PfsMetricsOptions;
  /** TLS of the pfs API and of this node's pfs.Shard clients (pfs-tls.ts); plaintext absent. */
  readonly tls?: PfsTls;
  /** More services served on the pfs port (pps.API), added before it binds. */
  readonly extraServices?: readonly ExtraService[];
}

/** A gRPC service another package serves on the node's pfs port. */
export interface ExtraService {
  readonly service: ServiceDefinition;
  readonly handlers: UntypedServiceImplementation;
}

/** W for R replicas: the one asked for, or a majority of R. */
export function effectiveWriteQuorum(replicas: number, asked: number | undefined): number {
  const quorum = asked === undefined || asked === 0 ? Math.floor(replicas / 2) + 1 : asked;
  if (!Number.isSafeInteger(quorum) || quorum < 1 || quorum > replicas) {
    throw new PfsError("INVALID_ARGUMENT",
      `--write-quorum ${asked ?? 0} must be between 1 and --replicas ${replicas} (0 = majority)`);
  }
  return quorum;
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

/**
 * The node's etcd client: deadlines on unary calls, TLS when given, and no circuit breaker:
 * the etcd3 client's default opens one per host after three failures in a row and then fails
 * every call for 5 s, which on a node that talks to its own member (one host) turns a Raft
 * election into 5 s of refused commits and lost master leases. Calls retry instead.
 */
function etcdClient(options: PfsNodeOptions): Etcd3 {
  return new Etcd3({
    hosts: [...options.etcdEndpoints],
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + etcdCallDeadlineMs },
    faultHandling: { watchBackoff, host: () => noop },
    ...(options.etcdCredentials === undefined ? {} : { credentials: options.etcdCredentials }),
  });
}

/** Binds `server` to `listen` (HOST:PORT, port 0 picks one); the address others dial. */
async function listen(server: Server, listenAddress: string,
  serverCredentials: ServerCredentials): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listenAddress, serverCredentials, (error, bound) => {
      if (error !== null) reject(new PfsError("UNAVAILABLE",
        `cannot listen on --pfs-address ${listenAddress}: ${error.message}`));
      else resolve(bound);
    });
  });
  const host = listenAddress.slice(0, listenAddress.lastIndexOf(":"));
  return `${host === "0.0.0.0" || host === "" ? "127.0.0.1" : host}:${port}`;
}

/**
 * Collects garbage on every node that holds a replica (this one through `collector`, the
 * others through pfs.Shard); the sum. Every replica is tried; the first failure is thrown.
 */
async function collectEverywhere(directory: ReplicaDirectory, router: ShardRouter,
  host: ShardHost, self: string, collector: NodeGarbageCollector): Promise<GarbageFreed> {
  const calls: Promise<GarbageFreed>[] = [];
  for (let shard = 0; shard < directory.shards; shard += 1) {
    for (const node of directory.replicasOf(shard)) {
      if (node === self) {
        if (host.holds(shard)) calls.push(collector.collectShard(host.localOf(shard)));
        continue;
      }
      const replica = router.on(node, shard);
      if (replica !== undefined) calls.push(replica.collectGarbage());
    }
  }
  const freed: GarbageFreed[] = [];
  for (const result of await Promise.allSettled(calls)) {
    if (result.status === "rejected") throw result.reason;
    freed.push(result.value);
  }
  return sumFreed(freed);
}

/** The node's metadata store, telling its metrics (when kept) of commits started and finished. */
function nodeMetaStore(client: Etcd3, root: string, options: PfsMetricsOptions | undefined):
  { meta: MetaStore; metrics: PfsMetrics | undefined } {
  if (options === undefined) return { meta: new MetaStore(client, { root }), metrics: undefined };
  const metrics = new PfsMetrics(options);
  const onCommit = (event: "started" | "finished"): void => {
    if (event === "started") metrics.commitStarted();
    else metrics.commitFinished();
  };
  return { meta: new MetaStore(client, { root, onCommit }), metrics };
}

/** The shard host of this node and the router over it (each needs the other). */
function replicaHost(options: PfsNodeOptions, parts: {
  client: Etcd3; sessionClient: Etcd3; root: string; directory: ReplicaDirectory;
  writeQuorum: number;
  masterLeaseTtlSeconds: number; clock: SystemClock;
}): { host: ShardHost; router: ShardRouter } {
  const { logger } = options;
  const routers: ShardRouter[] = [];
  const host = new ShardHost({
    client: parts.client, sessionClient: parts.sessionClient, root: parts.root,
    node: options.name, directory: parts.directory,
    identity: `${options.name}@${options.incarnation ?? ""}`,
    openLocal: (shard) => options.openLocal(shard, (id) => {
      const router = routers[0];
      return router === undefined
        ? Promise.reject(new PfsError("UNAVAILABLE", "the router is not started"))
        : router.read(shard, "chunk repair", (replica) => replica.readChunk(id));
    }),
    remote: (node, shard) => routers[0]?.on(node, shard),
    replicate: (source, peers, commit, acksNeeded) =>
      replicateCommit(source, peers, commit, acksNeeded, logger),
    copy: (source, target, commit, signal) =>
      copyCommit(source, target, commit, { signal, logger }),
    writeQuorum: parts.writeQuorum, masterLeaseTtlSeconds: parts.masterLeaseTtlSeconds,
    ...(options.deferCampaign === undefined ? {} : { deferCampaign: options.deferCampaign }),
    clock: parts.clock, logger,
  });
  const router = new ShardRouter({ directory: parts.directory, host, self: options.name, logger,
    credentials: pfsPeerCredentials(options.tls) });
  routers.push(router);
  return { host, router };
}

/** The gRPC server of pfs.API, pfs.Shard and `extraServices` (not bound yet). */
function pfsServer(parts: PfsApiOptions & { host: ShardHost; collector: NodeGarbageCollector },
  extraServices: readonly ExtraService[]): Server {
  const { host, collector, logger } = parts;
  parts.metrics?.bind(() => host.standings());
  const server = new Server({
    "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
    "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
  });
  server.addService(loadPfsService().service, pfsApiHandlers(parts));
  server.addService(loadPfsShardService().service, shardServiceHandlers(
    (shard) => Promise.resolve(host.hosted(shard)), logger,
    (replica) => collector.collectShard(host.localOf(replica.shard))));
  for (const extra of extraServices) server.addService(extra.service, extra.handlers);
  return server;
}

/**
 * The duties of the node that holds the placement controller's election, started: the
 * controller, and the orphan sweeper, which sweeps only while the controller leads.
 */
function electedDuties(options: PfsNodeOptions, parts: {
  client: Etcd3; root: string; keys: ReplicaMapKeys; meta: MetaStore; router: ShardRouter;
  shards: number; replicas: number; deadTimeMs: number; clock: SystemClock;
}): { controller: PlacementController; sweeper: OrphanSweeper } {
  const { client, root, keys, meta, router, deadTimeMs, clock } = parts;
  const { logger } = options;
  const controller = new PlacementController({ client, root, node: options.name, keys,
    shards: parts.shards, replicas: parts.replicas, deadTimeMs, clock, logger });
  const sweeper = new OrphanSweeper({ client, keys, meta, leading: () => controller.leading,
    commits: new CommitResolver(meta, router, logger), deadTimeMs, clock, logger });
  controller.start();
  sweeper.start();
  return { controller, sweeper };
}

/** What a started node runs; closed in reverse order. */
interface NodeParts {
  address: string;
  client: Etcd3;
  sessionClient: Etcd3;
  directory: ReplicaDirectory;
  controller: PlacementController;
  sweeper: OrphanSweeper;
  host: ShardHost;
  router: ShardRouter;
  server: Server;
  registration: NodeRegistration;
  collector: NodeGarbageCollector;
  logger: Logger;
}

export class PfsNode {
  readonly address: string;
  readonly #parts: NodeParts;

  private constructor(parts: NodeParts) {
    this.address = parts.address;
    this.#parts = parts;
  }

  /** Who holds and masters every shard, as this node sees it (a watch, never a cache). */
  get directory(): ReplicaDirectory {
    return this.#parts.directory;
  }

  /** The node's client of the coordination store (a root client; closed by `close()`). */
  get etcd(): Etcd3 {
    return this.#parts.client;
  }

  /** True when a replica of `shard` lives on this node now. */
  holdsShard(shard: number): boolean {
    return this.#parts.host.holds(shard);
  }

  /** This node's replicas: shard, whether it is master, its lag (for tests and status). */
  standings(): { shard: number; master: boolean; lag: number; finished: number }[] {
    return this.#parts.host.standings();
  }

  static async start(options: PfsNodeOptions): Promise<PfsNode> {
    checkNodeName(options.name);
    const logger = options.logger;
    const root = options.root ?? metaRootDefault;
    const replicas = options.replicas ?? limits.pfsReplicasDefault;
    const writeQuorum = effectiveWriteQuorum(replicas, options.writeQuorum);
    const masterLeaseTtlSeconds =
      options.masterLeaseTtlSeconds ?? limits.pfsMasterLeaseTtlSecondsDefault;
    const deadTimeSeconds = options.deadTimeSeconds ?? limits.pfsDeadTimeSecondsDefault;
    const client = etcdClient(options);
    const sessionClient = etcdClient(options);
    const clock = new SystemClock();
    const opened: Partial<NodeParts> = { sessionClient };
    try {
      const { meta, metrics } = nodeMetaStore(client, root, options.metrics);
      const config = await untilAvailable("cluster config", logger,
        () => meta.ensureClusterConfig(options.shards));
      const keys = new ReplicaMapKeys(root);
      const directory = await untilAvailable("replica directory", logger,
        () => ReplicaDirectory.open({ client, root, shards: config.shards, keys, clock, logger }));
      opened.directory = directory;
      const { host, router } = replicaHost(options, {
        client, sessionClient, root, directory, writeQuorum, masterLeaseTtlSeconds, clock,
      });
      opened.host = host;
      opened.router = router;
      const collector = await NodeGarbageCollector.start({
        intervalSeconds: options.gcIntervalSeconds ?? pfsGcIntervalSecondsDefault,
        localShards: () => Promise.resolve(host.localReplicas()),
        readStates: metaCommitStates(client, root),
        watchDeletions: (onDeletion) => watchDeletions(client, root, logger, onDeletion),
        clock, logger,
      });
      opened.collector = collector;
      const collectGarbage = (): Promise<GarbageFreed> =>
        collectEverywhere(directory, router, host, options.name, collector);
      const owner = newAutoCommitOwner(options.name);
      const server = pfsServer({
        meta, router, logger, collectGarbage, owner, host, collector, metrics,
        clusterStatus: () => readClusterStatus({
          client, root, shards: config.shards, deadTimeMs: deadTimeSeconds * 1_000,
        }),
        removeNode: (id, force) => removeNode({ client, root, id, force }),
      }, options.extraServices ?? []);
      opened.server = server;
      const bound = await listen(server, options.listen, pfsServerCredentials(options.tls));
      const address = options.advertise ?? bound;
      // The replicas the map places here are open before the node announces itself.
      await host.start();
      const registration = await untilAvailable("registration", logger, () =>
        NodeRegistration.register(client, root, { name: options.name, address }, logger));
      opened.registration = registration;
      const { controller, sweeper } = electedDuties(options, { client, root, keys, meta, router,
        shards: config.shards, replicas, deadTimeMs: deadTimeSeconds * 1_000, clock });
      opened.controller = controller;
      opened.sweeper = sweeper;
      logger.info("serving pfs", {
        address, shards: config.shards, replicas, writeQuorum, masterLeaseTtlSeconds,
        deadTimeSeconds,
      });
      // Commits a crash of this node's previous run left half-done (commit-recovery.ts).
      await recoverCommits(meta, new CommitResolver(meta, router, logger, owner), owner, logger)
        .catch((error: unknown) => { logger.warn("commit recovery failed", { error }); });
      return new PfsNode({
        address, client, sessionClient, directory, controller, sweeper, host, router, server,
        registration, collector, logger,
      });
    } catch (error: unknown) {
      await PfsNode.#stop(opened, client, logger);
      throw error;
    }
  }

  static async #stop(parts: Partial<NodeParts>, client: Etcd3, logger: Logger): Promise<void> {
    // Masterships first, so the other replicas take over at once.
    await parts.host?.stop().catch((error: unknown) => {
      logger.warn("cannot stop the shard host", { error });
    });
    await parts.sweeper?.close();
    await parts.controller?.close();
    await parts.collector?.close();
    await parts.registration?.close();
    const server = parts.server;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        const forced = setTimeout(() => { server.forceShutdown(); resolve(); },
          limits.grpcShutdownGraceMs);
        forced.unref();
        server.tryShutdown(() => { clearTimeout(forced); resolve(); });
      });
    }
    await parts.host?.close().catch((error: unknown) => {
      logger.warn("cannot close the local replicas", { error });
    });
    parts.router?.close();
    await parts.directory?.close();
    parts.sessionClient?.close();
    client.close();
  }

  /** Resigns masterships, stops the controller and collector, unregisters, drains, closes. */
  async close(): Promise<void> {
    await PfsNode.#stop(this.#parts, this.#parts.client, this.#parts.logger);
    this.#parts.logger.info("pfs stopped");
  }
}
