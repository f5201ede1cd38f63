/**
 * A running etcd-compatible member as pfsd serves it: the replicated member, the etcd gRPC
 * server on every --listen-client-urls, their metrics registered on the registry given (the
 * process's; pfsd serves it on --listen-metrics-urls, see cmd/pfsd-metrics.ts). `close()`
 * drains in reverse order within the shutdown deadline: stop taking calls (letting running
 * unary calls finish for a short grace), then stop the member (pending requests fail with
 * `etcdserver: server stopped`).
 */
import { Registry } from "prom-client";
import { type Logger, type PfsdConfig, limits } from "../../common/index.js";
import { type EtcdMember, startEtcdMember } from "../server/index.js";
import { clientListeners } from "./client-listeners.js";
import { EtcdGrpcServer } from "./etcd-grpc-server.js";

export interface EtcdDaemonOptions {
  readonly logger: Logger;
  /** Called once when the member dies on its own (pfsd then exits non-zero). */
  readonly onFatal: (error: unknown) => void;
  /** Where the member's and the gRPC services' metrics go (a private registry if absent). */
  readonly registry?: Registry;
}

export class EtcdDaemon {
  readonly member: EtcdMember;
  readonly #grpc: EtcdGrpcServer;
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  private constructor(member: EtcdMember, grpc: EtcdGrpcServer, logger: Logger) {
    this.member = member;
    this.#grpc = grpc;
    this.#logger = logger;
  }

  /** Starts everything; on a failure, stops what started and rejects. */
  static async start(config: PfsdConfig, options: EtcdDaemonOptions): Promise<EtcdDaemon> {
    const { logger } = options;
    const listeners = clientListeners(config);
    const registry = options.registry ?? new Registry();
    const member = await startEtcdMember(config, {
      logger, onFatal: options.onFatal, metricsRegistry: registry,
    });
    let grpc: EtcdGrpcServer | undefined;
    try {
      grpc = await EtcdGrpcServer.start({
        backend: member, logger, requestBytesMax: config.maxRequestBytes, listeners, registry,
      });
      logger.info("ready to serve client requests", {
        memberId: member.memberId.toString(16), clusterId: member.clusterId.toString(16),
      });
      return new EtcdDaemon(member, grpc, logger);
    } catch (error: unknown) {
      await grpc?.close(0);
      await member.close();
      throw error;
    }
  }

  /** Drains and stops; idempotent (a second call waits for the first). */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    this.#logger.info("stopping: draining client calls");
    await this.#grpc.close(limits.grpcShutdownGraceMs);
    await this.member.close();
    this.#logger.info("stopped");
  }
}
