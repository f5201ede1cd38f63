/**
 * The HTTP endpoints of --listen-metrics-urls, one server per pfsd process:
 * - /metrics: the process's registry in the Prometheus text format (prom-client);
 * - /livez and /readyz: the checks of `HealthChecks` (metrics/health-checks.ts), answered as
 *   Kubernetes' API server does: 200 "ok" when all pass; `?verbose` lists each check as
 *   `[+]name ok` or `[-]name failed: reason`; a failure answers 503 with that list and
 *   "<endpoint> check failed"; /livez/<name> and /readyz/<name> run one check (404 if unknown);
 * - /health: etcd's JSON ({"health":"true"} with 200, else "false" with 503): with an
 *   embedded member, etcd's meaning (a leader, no alarm, a linearizable read within
 *   etcdHealthReadMs); without one, whether every readiness check passes.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Registry } from "prom-client";
import { type Logger, limits } from "../../common/index.js";
import type { EtcdBackend } from "../backend.js";
import type { CheckOutcome, HealthChecks } from "../metrics/health-checks.js";
import { rangeRequest } from "../mvcc/index.js";

export interface MetricsHttpOptions {
  readonly registry: Registry;
  readonly checks: HealthChecks;
  /** etcd's /health answer: `memberHealthy` with an embedded member, else readiness. */
  readonly health: () => Promise<boolean>;
  readonly logger: Logger;
  /** URLs to listen on (http only). */
  readonly urls: readonly string[];
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

const textType = { "content-type": "text/plain; charset=utf-8" };

/** Answers a /livez or /readyz request from `outcomes` (all of the endpoint's checks). */
function answerChecks(response: ServerResponse, endpoint: string, only: string | undefined,
  verbose: boolean, outcomes: readonly CheckOutcome[]): void {
  const chosen = only === undefined ? outcomes : outcomes.filter((each) => each.name === only);
  if (chosen.length === 0) {
    response.writeHead(404, textType);
    response.end(`no ${endpoint} check named ${only ?? ""}\n`);
    return;
  }
  const passed = chosen.every((each) => each.failure === undefined);
  const lines = chosen.map((each) => (each.failure === undefined ? `[+]${each.name} ok`
    : `[-]${each.name} failed: ${each.failure}`));
  response.writeHead(passed ? 200 : 503, textType);
  if (passed && !verbose) response.end("ok\n");
  else response.end(`${lines.join("\n")}\n${endpoint} check ${passed ? "passed" : "failed"}\n`);
}

async function route(options: MetricsHttpOptions, url: URL, response: ServerResponse):
  Promise<void> {
  const [endpoint = "", only, extra] = url.pathname.split("/").filter((part) => part !== "");
  const verbose = url.searchParams.has("verbose");
  if (url.pathname === "/metrics") {
    const text = await options.registry.metrics();
    response.writeHead(200, { "content-type": options.registry.contentType });
    response.end(text);
  } else if (url.pathname === "/health") {
    const healthy = await options.health().catch(() => false);
    response.writeHead(healthy ? 200 : 503, { "content-type": "application/json" });
    response.end(JSON.stringify({ health: healthy ? "true" : "false" }));
  } else if ((endpoint === "livez" || endpoint === "readyz") && extra === undefined) {
    const outcomes = endpoint === "livez" ? await options.checks.live()
      : await options.checks.ready();
    answerChecks(response, endpoint, only, verbose, outcomes);
  } else {
    response.writeHead(404, textType);
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
      const url = new URL(request.url ?? "/", "http://localhost");
      route(options, url, response).catch((error: unknown) => {
        options.logger.warn("metrics endpoint failed", { path: url.pathname, error });
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
