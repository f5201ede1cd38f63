/**
 * The observability of one pfsd process: its Prometheus registry and the HTTP endpoints of
 * --listen-metrics-urls (/metrics, /livez, /readyz, /health; pkg/etcdserver MetricsHttp).
 *
 * One registry per process, made here (never prom-client's global default registry): the
 * composition root owns it and hands it to what it starts, so tests that run several members
 * in one process never mix their series. It holds prom-client's default process metrics
 * (`process_*`, `nodejs_*`), the embedded member's and its gRPC services' metrics (etcd's
 * names), and the pfs node's (`pfs_*`). With --etcd-endpoints there is no member: only the
 * process and pfs metrics.
 *
 * The endpoints start before anything else, so /livez answers during start-up and /readyz
 * says what is still missing: `started` (pfsd finished starting), then, as they start, the
 * member's `etcd-leader` and `etcd-alarm` and the pfs node's `pfs`. Nothing is served
 * without --listen-metrics-urls, but the registry still collects.
 */
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Logger, PfsdConfig } from "../pkg/common/index.js";
import {
  type EtcdBackend, HealthChecks, MetricsHttp, memberHealthy, memberReadyChecks,
} from "../pkg/etcdserver/index.js";

/** What the checks read: set as components start. */
interface Started {
  member: EtcdBackend | undefined;
  pfsServing: boolean;
}

export class PfsdMetrics {
  readonly registry: Registry;
  readonly #checks: HealthChecks;
  readonly #http: MetricsHttp;
  readonly #started: Started;

  private constructor(registry: Registry, checks: HealthChecks, http: MetricsHttp,
    started: Started) {
    this.registry = registry;
    this.#checks = checks;
    this.#http = http;
    this.#started = started;
  }

  /** Makes the registry and serves the endpoints on every --listen-metrics-urls. */
  static async start(config: PfsdConfig, logger: Logger): Promise<PfsdMetrics> {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const checks = new HealthChecks();
    const started: Started = { member: undefined, pfsServing: false };
    if (config.pfsAddress !== undefined) {
      checks.addReady({ name: "pfs", run: () => (started.pfsServing ? undefined
        : "the pfs node is not serving yet") });
    }
    const health = async (): Promise<boolean> => {
      if (started.member !== undefined) return memberHealthy(started.member);
      return (await checks.ready()).every((outcome) => outcome.failure === undefined);
    };
    const http = await MetricsHttp.start({
      registry, checks, health, logger, urls: config.listenMetricsUrls,
    }).catch((error: unknown) => {
      checks.close();
      throw error;
    });
    return new PfsdMetrics(registry, checks, http, started);
  }

  /** The embedded member started: its readiness checks and etcd's /health apply. */
  memberStarted(member: EtcdBackend): void {
    this.#started.member = member;
    this.#checks.addReady(...memberReadyChecks(member));
  }

  /** The pfs node serves (API bound, node registered, replica directory loaded). */
  pfsServing(): void {
    this.#started.pfsServing = true;
  }

  /** Everything pfsd starts has started. */
  started(): void {
    this.#checks.started();
  }

  /** Stops the endpoints (last, so probes answer while pfsd drains). */
  async close(): Promise<void> {
    await this.#http.close();
    this.#checks.close();
  }
}
