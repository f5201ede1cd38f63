/**
 * `PfsNode`: the pfs part of one pfsd (DESIGN.md §1): an etcd3 client on the coordination
 * store (the embedded member's own client URL, or --etcd-endpoints), the fixed shard count
 * (`ensureClusterConfig`: a different --shards is FAILED_PRECONDITION), the placement cache,
 * the router, and one gRPC server on --pfs-address that serves pfs.API and pfs.Shard. The node
 * registers itself under `/pfs/nodes/` only once it serves, so a registered node is dialable.
 *
 * Start-up retries while the coordination store is UNAVAILABLE (a fresh cluster is still
 * electing) for at most pfsNodeStartMsMax; `close()` unregisters, stops the server (running
 * calls get a short grace), and closes shards and the client.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { type Logger, PfsError, limits } from "../../common/index.js";
import { MetaStore, metaRootDefault } from "../meta/index.js";
import { NodeRegistration, ShardPlacement, checkNodeName } from "../placement/index.js";
import { loadPfsService, loadPfsShardService } from "../../proto/index.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { pfsApiHandlers } from "./api-service.js";
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

export class PfsNode {
  readonly address: string;
  readonly #client: Etcd3;
  readonly #placement: ShardPlacement;
  readonly #router: ShardRouter;
  readonly #server: Server;
  readonly #registration: NodeRegistration;
  readonly #logger: Logger;

  private constructor(parts: {
    address: string; client: Etcd3; placement: ShardPlacement; router: ShardRouter;
    server: Server; registration: NodeRegistration; logger: Logger;
  }) {
    this.address = parts.address;
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
    const client = new Etcd3({
      hosts: [...options.etcdEndpoints],
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + etcdCallDeadlineMs },
      faultHandling: { watchBackoff },
    });
    const opened: { placement?: ShardPlacement; router?: ShardRouter; server?: Server } = {};
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
      const server = new Server({
        "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
        "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
      });
      opened.server = server;
      server.addService(loadPfsService().service, pfsApiHandlers({ meta, router, logger }));
      server.addService(loadPfsShardService().service,
        shardServiceHandlers((shard) => router.local(shard), logger));
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(options.listen, ServerCredentials.createInsecure(), (error, bound) => {
          if (error !== null) reject(new PfsError("UNAVAILABLE",
            `cannot listen on --pfs-address ${options.listen}: ${error.message}`));
          else resolve(bound);
        });
      });
      const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
      const address = `${host === "0.0.0.0" || host === "" ? "127.0.0.1" : host}:${port}`;
      const registration = await untilAvailable("registration", logger, () =>
        NodeRegistration.register(client, root, { name: options.name, address }, logger));
      logger.info("serving pfs", { address, shards: config.shards });
      return new PfsNode({ address, client, placement, router, server, registration, logger });
    } catch (error: unknown) {
      opened.server?.forceShutdown();
      await opened.router?.close();
      await opened.placement?.close();
      client.close();
      throw error;
    }
  }

  /** Unregisters, drains the server, closes shards and the client. */
  async close(): Promise<void> {
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
