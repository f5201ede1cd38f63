/**
 * The etcd v3 gRPC server of a member: etcd's eight services plus grpc.health.v1 on every
 * client listener, with etcd's message limits (receive max-request-bytes + 512 KiB, send
 * unlimited). grpc-js never answers client keepalive pings with GOAWAY too_many_pings, so
 * etcdctl's 10 s pings are safe. Connections are accepted by a ClientFront (which also
 * terminates TLS and repairs Go clients' `:authority`) and injected into grpc-js.
 */
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { Registry } from "prom-client";
import { type Logger, limits } from "../../common/index.js";
import {
  etcdProtoFiles,
  etcdProtoLoaderOptions,
  healthServiceName,
  loadHealthPackageDefinition,
} from "../../proto/index.js";
import type { EtcdBackend } from "../backend.js";
import { authService } from "./auth-service.js";
import { ClientFront } from "./client-front.js";
import type { ClientListener } from "./client-listeners.js";
import { clusterService } from "./cluster-service.js";
import { electionService } from "./election-service.js";
import { GrpcCounters } from "./grpc-counters.js";
import { healthService } from "./health-service.js";
import { kvService } from "./kv-service.js";
import { leaseService } from "./lease-service.js";
import { lockService } from "./lock-service.js";
import { maintenanceService } from "./maintenance-service.js";
import { sizedService } from "./request-size.js";
import type { ServiceKit } from "./service-kit.js";
import { watchService } from "./watch-service.js";

export interface EtcdGrpcServerOptions {
  readonly backend: EtcdBackend;
  readonly logger: Logger;
  /** etcd's --max-request-bytes. */
  readonly requestBytesMax: number;
  readonly listeners: readonly ClientListener[];
  /** Where grpc_server_started_total and _handled_total go (a private registry if absent). */
  readonly registry?: Registry;
}

type ServiceFactory = (kit: ServiceKit) => UntypedServiceImplementation;

const etcdServices: readonly (readonly [string, ServiceFactory])[] = [
  ["etcdserverpb.KV", kvService],
  ["etcdserverpb.Watch", watchService],
  ["etcdserverpb.Lease", leaseService],
  ["etcdserverpb.Cluster", clusterService],
  ["etcdserverpb.Maintenance", maintenanceService],
  ["etcdserverpb.Auth", authService],
  ["v3electionpb.Election", electionService],
  ["v3lockpb.Lock", lockService],
];

/** Registers every service on `server`. */
export function addEtcdServices(server: Server, kit: ServiceKit): void {
  const definition = loadSync([...etcdProtoFiles], etcdProtoLoaderOptions);
  for (const [name, factory] of etcdServices) {
    server.addService(sizedService(definition[name] ?? {}), factory(kit));
  }
  const health = loadHealthPackageDefinition()[healthServiceName] ?? {};
  server.addService(health as ServiceDefinition, healthService(kit));
}

export class EtcdGrpcServer {
  readonly counters: GrpcCounters;
  readonly #server: Server;
  readonly #front = new ClientFront();
  readonly #logger: Logger;

  private constructor(server: Server, counters: GrpcCounters, logger: Logger) {
    this.#server = server;
    this.counters = counters;
    this.#logger = logger;
  }

  /** Serves on every listener; rejects (after closing) if one cannot be bound. */
  static async start(options: EtcdGrpcServerOptions): Promise<EtcdGrpcServer> {
    const server = new Server({
      "grpc.max_receive_message_length":
        options.requestBytesMax + limits.grpcReceiveOverheadBytes,
      "grpc.max_send_message_length": -1,
    });
    const counters = new GrpcCounters(options.registry);
    const kit: ServiceKit = {
      backend: options.backend,
      logger: options.logger,
      counters,
      requestBytesMax: options.requestBytesMax,
    };
    addEtcdServices(server, kit);
    const started = new EtcdGrpcServer(server, counters, options.logger);
    // TLS is terminated by the front (ClientFront), so grpc-js sees plaintext connections.
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    try {
      await started.#front.listen(options.listeners, (connection) => {
        injector.injectConnection(connection);
      }, options.logger);
    } catch (error: unknown) {
      started.#front.close();
      server.forceShutdown();
      throw error;
    }
    for (const listener of options.listeners) {
      options.logger.info("serving etcd v3 gRPC", { url: listener.url });
    }
    return started;
  }

  /**
   * Stops accepting calls and waits for the running ones up to `graceMs`, then cancels the
   * rest (streams such as Watch never end on their own).
   */
  async close(graceMs: number): Promise<void> {
    this.#front.close();
    const graceful = new Promise<void>((resolve) => {
      this.#server.tryShutdown(() => {
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    this.#server.forceShutdown();
    this.#logger.info("etcd v3 gRPC server stopped");
  }
}
