#!/usr/bin/env node
/**
 * pfsd, the daemon: composition root only (STYLE rule 5): parse → validate → freeze → wire →
 * listen. `main` calls `run()` for an exit code. With etcd's flags, pfsd is an
 * etcd-compatible member (pkg/etcdserver: the replicated member, the etcd v3 gRPC services on
 * every --listen-client-urls, metrics and health on --listen-metrics-urls). It runs in the
 * foreground without reading stdin; SIGTERM or SIGINT drains and exits 0 within
 * shutdownDrainMsMax; a fatal member error exits non-zero.
 *
 * pfs (DESIGN.md §1): with --pfs-address, pfsd also serves pfs.API and the internal shard
 * service on that address (pkg/pfs/api `PfsNode`), its metadata in the embedded member (through
 * its own client URL) or, with --etcd-endpoints, in an external etcd — then no embedded member
 * is started at all. The data directory is locked (`<data-dir>/pfsd.lock`) for the process's
 * life so a node never runs twice on it; shard data lives under `<data-dir>/pfs/`. pkg/pfs is
 * imported only when --pfs-address is given, so an etcd-only member never loads it. The pfs
 * node's client of the embedded member uses the member's client TLS settings (--cert-file,
 * --key-file, --trusted-ca-file; its own certificate as the client's with --client-cert-auth).
 * The pfs API takes the same flags (pkg/pfs/api pfs-tls.ts): TLS with --cert-file, client
 * certificates required with --client-cert-auth; with an https --etcd-endpoints, the node
 * dials etcd with --trusted-ca-file and its own certificate (externalClientTls).
 * --pfs-gc-interval sets how often the node collects its shards' garbage (0 = off).
 * Every pfs node also runs pipelines (pkg/pps `PpsNode`): pps.API on the same port, the pps
 * master's campaign and a worker whose datum work dirs live under `<data-dir>/pps-work/`.
 *
 * `--join URL,…` (cmd/pfsd-join.ts): a node whose data dir holds no member yet adds itself to
 * that cluster as a learner before its member starts; a node that joined so (now or on an
 * earlier start) runs a loop promoting it while there are fewer than 5 voters. The pfs node of
 * a learner uses the voters' client URLs, since a learner refuses linearizable requests.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, Option } from "commander";
import {
  AssertionError,
  ConfigError,
  type Logger,
  type PfsdConfig,
  limits,
  type ConfigSources,
  type FieldSpec,
  createLogger,
  flagOf,
  pfsVersion,
  pfsdSchema,
  resolvePfsdConfig,
} from "../pkg/common/index.js";
import { EtcdDaemon } from "../pkg/etcdserver/index.js";
// eslint-disable-next-line pfs/boundaries -- the lock alone: pkg/pfs itself loads lazily
import { DataDirLock } from "../pkg/pfs/api/data-dir-lock.js";
// eslint-disable-next-line pfs/boundaries -- a type only (erased): pkg/pfs itself loads lazily
import type { PfsNode, PfsNodeOptions, PfsTls } from "../pkg/pfs/api/index.js";
import type { PpsNode } from "../pkg/pps/index.js";
import { LeaderSpread, leadsRaft } from "./pfsd-leader-spread.js";
import { PfsdMetrics } from "./pfsd-metrics.js";
import { logProcessWarnings } from "./pfsd-warnings.js";
import {
  LearnerPromotion, joinedConfig, pfsEtcdEndpoints, promotionSeeds,
} from "./pfsd-join.js";

/** Exit codes: 0 success, 1 member failure, 2 bad usage or configuration, 70 internal error. */
const exitFailure = 1;
const exitUsage = 2;
const exitSoftware = 70;

function describeDefault(field: FieldSpec<unknown>): string {
  const value = field.defaultValue;
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return "";
  const shown = Array.isArray(value) ? value.join(",") : JSON.stringify(value);
  return ` (default: ${shown})`;
}

/** Builds the commander program with one option per schema field. */
function buildProgram(): Command {
  const program = new Command("pfsd")
    .description("pfs daemon: an etcd-compatible Raft member, shard services and the pfs API")
    .version(pfsVersion, "--version", "print the version and exit")
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .showHelpAfterError(false)
    .exitOverride();
  for (const [key, field] of Object.entries(pfsdSchema) as [string, FieldSpec<unknown>][]) {
    const flag = flagOf(key);
    const syntax = field.placeholder === "" ? `${flag} [bool]` : `${flag} <${field.placeholder}>`;
    program.addOption(new Option(syntax, `${field.description}${describeDefault(field)}`));
  }
  return program;
}

/** Parses argv and resolves the configuration: the config, or the exit code to stop with. */
function configure(argv: readonly string[], env: NodeJS.ProcessEnv): PfsdConfig | number {
  const program = buildProgram();
  try {
    program.parse(argv, { from: "node" });
  } catch (error: unknown) {
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === "number" && exitCode === 0 ? 0 : exitUsage;
  }
  const sources: ConfigSources = {
    flags: program.opts<Record<string, string | boolean | undefined>>(),
    env,
  };
  const resolved = resolvePfsdConfig(sources);
  if (!resolved.ok) {
    process.stderr.write(`pfsd: ${resolved.error.message}\n`);
    return exitUsage;
  }
  return resolved.value;
}

/** What runs: the embedded member (absent with --etcd-endpoints), its promotion loop (a
 * node that joined with --join) and the pfs node. */
interface Running {
  readonly daemon: EtcdDaemon | undefined;
  readonly promotion: LearnerPromotion | undefined;
  readonly pfs: PfsNode | undefined;
  /** Pipelines (pkg/pps), on every pfs node; stopped before pfs (it uses pfs's client). */
  readonly pps?: PpsNode;
  /** Keeps Raft leadership off shard masters (embedded member with pfs only). */
  readonly spread?: LeaderSpread;
  readonly lock: DataDirLock;
  /** The registry and /metrics, /livez, /readyz (pfsd-metrics.ts); stopped last. */
  readonly metrics: PfsdMetrics;
}

/** Stops in reverse start order: pfs first (it uses the member), then the member, the lock. */
async function stopAll(running: Running, logger: Logger): Promise<void> {
  await running.promotion?.close();
  await running.spread?.close();
  try {
    await running.pps?.close();
    await running.pfs?.close();
  } catch (error: unknown) {
    logger.error("pfs shutdown failed", { error });
  }
  await running.daemon?.close();
  await running.metrics.close();
  await running.lock.release();
}

/** Resolves with the exit code once a signal has drained the daemon or the member died. */
function serveUntilStopped(running: Running, logger: Logger, fatal: Promise<unknown>,
  signaled: Promise<NodeJS.Signals>): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info("received signal; shutting down", { signal });
      const forced = setTimeout(() => {
        logger.error("drain took too long; exiting", { deadlineMs: limits.shutdownDrainMsMax });
        resolve(exitFailure);
      }, limits.shutdownDrainMsMax - 500);
      forced.unref();
      stopAll(running, logger).then(() => { resolve(0); }, (error: unknown) => {
        logger.error("shutdown failed", { error });
        resolve(exitFailure);
      });
    };
    void signaled.then(stop);
    fatal.then((error: unknown) => {
      logger.error("member failed; exiting", { error });
      const exit = (): void => { resolve(exitFailure); };
      stopAll(running, logger).then(exit, exit);
    }, () => undefined);
  });
}

/** The embedded member's client URL as a local client dials it. */
function embeddedClientUrl(config: PfsdConfig): string {
  const url = new URL(config.listenClientUrls[0] ?? "http://127.0.0.1:2379");
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "127.0.0.1";
  return url.origin;
}

/**
 * The TLS of the pfs node's client of the embedded member: none unless the member serves its
 * clients with TLS; then its trusted CA as the root (the system roots without one) and, when
 * the member requires client certificates, its own certificate and key (etcd's certificates
 * allow client use for the same reason: its gateway dials the member with them).
 */
async function embeddedClientTls(config: PfsdConfig):
  Promise<PfsNodeOptions["etcdCredentials"]> {
  if (config.certFile === undefined || config.keyFile === undefined) return undefined;
  if (config.trustedCaFile === undefined) return undefined;
  const rootCertificate = await readFile(config.trustedCaFile);
  if (!config.clientCertAuth) return { rootCertificate };
  return {
    rootCertificate, certChain: await readFile(config.certFile),
    privateKey: await readFile(config.keyFile),
  };
}

/**
 * The TLS of the pfs node's client of an external etcd (--etcd-endpoints): none unless an
 * endpoint is https; then --trusted-ca-file as the root and, when given, the node's own
 * --cert-file and --key-file as its client certificate (as for the embedded member; etcd's
 * grpc-proxy would name these --cacert/--cert/--key, but pfsd keeps one set of flags).
 */
async function externalClientTls(config: PfsdConfig):
  Promise<PfsNodeOptions["etcdCredentials"]> {
  if (!config.etcdEndpoints.some((url) => url.startsWith("https:"))) return undefined;
  if (config.trustedCaFile === undefined) return undefined;
  const rootCertificate = await readFile(config.trustedCaFile);
  if (config.certFile === undefined || config.keyFile === undefined) return { rootCertificate };
  return {
    rootCertificate, certChain: await readFile(config.certFile),
    privateKey: await readFile(config.keyFile),
  };
}

/** The node's pipelines (pkg/pps), made before the pfs node so it serves pps.API too. */
async function ppsNode(config: PfsdConfig, logger: Logger, metrics: PfsdMetrics):
  Promise<PpsNode> {
  const { PpsNode: Node } = await import("../pkg/pps/index.js");
  const { SystemClock } = await import("../pkg/common/index.js");
  return new Node({ node: config.name, workRoot: join(config.dataDir, "pps-work"),
    clock: new SystemClock(), logger: logger.child({ component: "pps" }),
    registry: metrics.registry });
}

/** Starts `pps` on the started pfs node: its client, its own address (TLS like its peers). */
async function startPps(pps: PpsNode, pfs: PfsNode, tls: PfsTls | undefined): Promise<void> {
  const { pfsPeerCredentials } = await import("../pkg/pfs/api/index.js");
  try {
    await pps.start({ client: pfs.etcd, pfsAddress: pfs.address,
      credentials: pfsPeerCredentials(tls), holdsShard: (shard) => pfs.holdsShard(shard) });
  } catch (error: unknown) {
    await pps.close();
    await pfs.close();
    throw error;
  }
}

/** Starts the member (unless external) and pfs (when asked); stops what started on failure. */
async function startAll(config: PfsdConfig, logger: Logger, lock: DataDirLock,
  metrics: PfsdMetrics, onFatal: (error: unknown) => void): Promise<Running> {
  const external = config.etcdEndpoints.length > 0;
  // The pfs API's certificates, read before anything starts (a bad file exits 2).
  const pfsTls = config.pfsAddress === undefined ? undefined
    : await (await import("../pkg/pfs/api/index.js")).loadPfsTls(config);
  const etcdCredentials = external ? await externalClientTls(config)
    : await embeddedClientTls(config);
  const memberConfig = external ? config : await joinedConfig(config, etcdCredentials, logger);
  const seeds = external ? undefined : await promotionSeeds(config);
  const daemon = external ? undefined
    : await EtcdDaemon.start(memberConfig, { logger, onFatal, registry: metrics.registry });
  if (daemon !== undefined) metrics.memberStarted(daemon.member);
  const promotion = daemon === undefined || seeds === undefined ? undefined
    : LearnerPromotion.start({ member: daemon.member, seedUrls: seeds, tls: etcdCredentials,
      logger: logger.child({ component: "join" }) });
  if (config.pfsAddress === undefined) return { daemon, promotion, pfs: undefined, lock, metrics };
  const pfsLogger = logger.child({ component: "pfs" });
  try {
    const { PfsNode } = await import("../pkg/pfs/api/index.js");
    const { LocalShard } = await import("../pkg/pfs/shard/index.js");
    const pps = await ppsNode(config, pfsLogger, metrics);
    const etcdEndpoints = daemon === undefined ? config.etcdEndpoints.map(String)
      : await pfsEtcdEndpoints(daemon.member, embeddedClientUrl(config), seeds ?? [], pfsLogger);
    const { readOrCreateIncarnation } = await import("../pkg/pfs/replication/index.js");
    const incarnation = await readOrCreateIncarnation(join(config.dataDir, "pfs"));
    const pfs = await PfsNode.start({
      name: config.name,
      listen: `${config.pfsAddress.host}:${config.pfsAddress.port}`,
      ...(config.advertisePfsAddress === undefined ? {} : {
        advertise: `${config.advertisePfsAddress.host}:${config.advertisePfsAddress.port}`,
      }),
      etcdEndpoints,
      shards: config.shards,
      replicas: config.replicas,
      writeQuorum: config.writeQuorum,
      masterLeaseTtlSeconds: config.masterLeaseTtl,
      deadTimeSeconds: config.deadTime,
      incarnation,
      openLocal: (shard, repairChunk) => LocalShard.open({
        dir: join(config.dataDir, "pfs", `shard-${shard}`), shard, logger: pfsLogger, repairChunk,
      }),
      logger: pfsLogger,
      gcIntervalSeconds: config.pfsGcInterval,
      ...(etcdCredentials === undefined ? {} : { etcdCredentials }),
      ...(pfsTls === undefined ? {} : { tls: pfsTls }),
      // The Raft leader lets the other replicas be masters first (pfsd-leader-spread.ts).
      ...(daemon === undefined ? {} : { deferCampaign: () => leadsRaft(daemon.member) }),
      metrics: { registry: metrics.registry,
        chunkDir: (shard) => join(config.dataDir, "pfs", `shard-${shard}`, "chunks") },
      extraServices: [pps.service],
    });
    await startPps(pps, pfs, pfsTls);
    metrics.pfsServing();
    const spread = daemon === undefined ? undefined : new LeaderSpread(daemon.member,
      pfs.directory, config.name, pfsLogger.child({ component: "leader-spread" }));
    return { daemon, promotion, pfs, pps, lock, metrics,
      ...(spread === undefined ? {} : { spread }) };
  } catch (error: unknown) {
    await promotion?.close();
    await daemon?.close();
    throw error;
  }
}

/** Parses argv, resolves the configuration and runs; resolves with the exit code. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = configure(argv, env);
  if (typeof config === "number") return config;
  if (config.etcdEndpoints.length > 0 && config.pfsAddress === undefined) {
    process.stderr.write("pfsd: --etcd-endpoints replaces the embedded member for pfs; " +
      "give --pfs-address too\n");
    return exitUsage;
  }
  const logger = createLogger({
    nodeId: config.name,
    component: "pfsd",
    level: config.logLevel,
    format: config.logFormat,
  });
  logProcessWarnings(logger);
  // Listen for signals before starting, and before the first log line (a supervisor that
  // signals once it sees it must not find the default action): a SIGTERM during start-up
  // drains once it is done.
  const signaled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  logger.info("pfsd configuration", { version: pfsVersion, config });
  let onFatal: (error: unknown) => void = () => undefined;
  const fatal = new Promise<unknown>((resolve) => { onFatal = resolve; });
  let lock: DataDirLock | undefined;
  let metrics: PfsdMetrics | undefined;
  let running: Running;
  try {
    lock = await DataDirLock.acquire(config.dataDir);
    metrics = await PfsdMetrics.start(config, logger);
    running = await startAll(config, logger, lock, metrics, (error) => { onFatal(error); });
    metrics.started();
  } catch (error: unknown) {
    await metrics?.close();
    await lock?.release();
    const usage = error instanceof ConfigError;
    logger.error("cannot start", { error });
    process.stderr.write(`pfsd: ${error instanceof Error ? error.message : String(error)}\n`);
    return usage ? exitUsage : exitFailure;
  }
  return serveUntilStopped(running, logger, fatal, signaled);
}

function fail(error: unknown): number {
  const what = error instanceof AssertionError ? "assertion failed" : "internal error";
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`pfsd: ${what}: ${text}\n`);
  return exitSoftware;
}

/** Runs pfsd and exits with its code (timers and sockets of a drained daemon are gone). */
async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv, process.env);
  } catch (error: unknown) {
    code = fail(error);
  }
  process.exit(code);
}

process.on("uncaughtException", (error: unknown) => {
  process.exit(fail(error));
});

await main();
