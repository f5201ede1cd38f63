/**
 * The HTTP endpoints of --listen-metrics-urls: /metrics (Prometheus text: the gRPC counters
 * and a few member gauges), /health (etcd's JSON: {"health":"true"} when the member knows a
 * leader, has no alarm and serves a linearizable read within a second; else "false" with
 * 503), /livez and /readyz (plain "ok"; readyz needs a leader).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { type Logger, limits } from "../../common/index.js";
import type { EtcdBackend } from "../backend.js";
import { rangeRequest } from "../mvcc/index.js";
import type { GrpcCounters } from "./grpc-counters.js";

export interface MetricsHttpOptions {
  readonly backend: EtcdBackend;
  readonly counters: GrpcCounters;
  readonly logger: Logger;
  /** URLs to listen on (http only). */
  readonly urls: readonly string[];
}

function gauges(backend: EtcdBackend): string {
  const lines = [
    "# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.",
    "# TYPE etcd_server_has_leader gauge",
    `etcd_server_has_leader ${backend.hasLeader() ? 1 : 0}`,
    "# HELP etcd_server_is_learner Whether or not this member is a learner.",
    "# TYPE etcd_server_is_learner gauge",
    `etcd_server_is_learner ${backend.isLearner() ? 1 : 0}`,
    "# HELP etcd_debugging_mvcc_current_revision The current revision of the store.",
    "# TYPE etcd_debugging_mvcc_current_revision gauge",
    `etcd_debugging_mvcc_current_revision ${backend.revision()}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** Whether the member is healthy as etcd's /health judges it. */
export async function memberHealthy(backend: EtcdBackend): Promise<boolean> {
  const status = await backend.status();
  if (status.errors.length > 0 || !backend.hasLeader()) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => { resolve(false); }, limits.etcdHealthReadMs);
    timer.unref();
  });
  const read = backend.range({}, rangeRequest({ key: new TextEncoder().encode("health") }))
    .then(() => true, () => false);
  const healthy = await Promise.race([read, timeout]);
  clearTimeout(timer);
  return healthy;
}

async function route(options: MetricsHttpOptions, path: string, response: ServerResponse):
  Promise<void> {
  const { backend } = options;
  if (path === "/metrics") {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    response.end(options.counters.render() + gauges(backend));
  } else if (path === "/health") {
    const healthy = await memberHealthy(backend).catch(() => false);
    response.writeHead(healthy ? 200 : 503, { "content-type": "application/json" });
    response.end(JSON.stringify({ health: healthy ? "true" : "false" }));
  } else if (path === "/livez" || path === "/readyz") {
    const ready = path === "/livez" || backend.hasLeader();
    response.writeHead(ready ? 200 : 503, { "content-type": "text/plain; charset=utf-8" });
    response.end(ready ? "ok\n" : "not ready: no leader\n");
  } else {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end("404 page not found\n");
  }
}

function listen(server: Server, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(url.port === "" ? "80" : url.port), url.hostname, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
}

/** Serves the endpoints on every URL; resolves once all listen. */
export class MetricsHttp {
  readonly #servers: Server[];

  private constructor(servers: Server[]) {
    this.#servers = servers;
  }

  static async start(options: MetricsHttpOptions): Promise<MetricsHttp> {
    const servers: Server[] = [];
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      const path = new URL(request.url ?? "/", "http://localhost").pathname;
      route(options, path, response).catch((error: unknown) => {
        options.logger.warn("metrics endpoint failed", { path, error });
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    };
    const started = new MetricsHttp(servers);
    try {
      for (const raw of options.urls) {
        const server = createServer(handler);
        servers.push(server);
        await listen(server, new URL(raw));
        options.logger.info("serving metrics and health", { url: raw });
      }
    } catch (error: unknown) {
      await started.close();
      throw error;
    }
    return started;
  }

  /** Stops listening and drops idle and open connections. */
  async close(): Promise<void> {
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => { resolve(); });
      server.closeAllConnections();
    })));
  }
}
