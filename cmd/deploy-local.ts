/**
 * `pfs deploy local`: runs a cluster of pfsd processes on loopback, each an etcd-compatible
 * member of the embedded coordination layer. Foreground by default (Ctrl-C or SIGTERM stops
 * every node cleanly); `--detach` returns once the cluster serves and leaves one pid file per
 * node; `pfs deploy local down` stops a detached cluster. The settings of a directory are kept
 * in `<dir>/deploy.json`, so running again on it restarts the same nodes with their data.
 * Node i (from 1) serves clients on base-port + 2(i-1) and peers on the port after it, and the
 * pfs API on pfs-base-port + (i-1) (node 1 on 30650 by default); every node gets the same
 * `--shards`, `--replicas`, `--write-quorum`, `--dead-time` and `--master-lease-ttl`, fixed
 * when the cluster is first created. Ready means every node answers both an etcd Range
 * (linearizable; serializable on an added node, which may be a learner) and a pfs ListRepo.
 *
 * `pfs deploy local add-node` starts one more node, detached, that joins the running cluster
 * with `pfsd --join` (the client URLs of every other node): a learner, promoted while there
 * are fewer than 5 voters. deploy.json counts the added nodes, so later runs and `down`
 * include them (their data dir holds their member, so --join is then ignored).
 *
 * `--tls` (kept in deploy.json, so restarts and add-node keep it): a throwaway CA and
 * certificates under `<dir>/tls/` (deploy-local-tls.ts); every node serves https client and
 * peer URLs and its pfs API with TLS, all requiring client certificates, and the printed
 * export lines add PFS_CACERT/PFS_CERT/PFS_KEY and ETCDCTL_CACERT/ETCDCTL_CERT/ETCDCTL_KEY
 * (the user's client certificate). Every export line is `export NAME=VALUE`, VALUE one sh word.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ChannelCredentials, type Client, type ServiceClientConstructor, credentials,
} from "@grpc/grpc-js";
import type { Command } from "commander";
import { limits, pfsdSchema } from "../pkg/common/index.js";
import { addDeployKubernetesCommand } from "./deploy-kubernetes.js";
import { loadEtcdProtos } from "../pkg/proto/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { PfsClient } from "../pkg/pfs/client/index.js";
import { quietIpServerName } from "./pfs-context.js";
import {
  type DeployTls, ensureDeployTls, pfsdTlsArgs, shellWord, tlsExportLines,
} from "./deploy-local-tls.js";

/** How long the nodes get to serve their first linearizable read. */
const deployReadyMsMax = 60_000;
/** How long a node gets to exit after SIGTERM before SIGKILL. */
const deployStopMsMax = 10_000;
/** Largest cluster `deploy local` runs (an odd count keeps a clear majority). */
export const deployNodesMax = 9;

/** What `<dir>/deploy.json` keeps. */
export interface DeploySettings {
  readonly nodes: number;
  readonly basePort: number;
  readonly host: string;
  /** Shards of the file system, fixed at the cluster's creation. */
  readonly shards: number;
  /** The pfs API port of node 1; node i serves on pfsBasePort + (i-1). */
  readonly pfsBasePort: number;
  /** pfsd --replicas of every node (R). */
  readonly replicas: number;
  /** pfsd --write-quorum of every node (W; 0 = a majority of R). */
  readonly writeQuorum: number;
  /** pfsd --dead-time of every node, in seconds. */
  readonly deadTime: number;
  /** pfsd --master-lease-ttl of every node, in seconds. */
  readonly masterLeaseTtl: number;
  /** Nodes added by `add-node` after the first `nodes` (they joined with --join). */
  readonly joinedNodes: number;
  /** TLS everywhere (--tls), with the certificates under `<dir>/tls/`; absent = false. */
  readonly tls?: boolean;
  /**
   * The metrics port of node 1 (/metrics, /livez, /readyz over http); node i serves on
   * metricsBasePort + (i-1). 0 or absent (clusters made before it existed): none.
   */
  readonly metricsBasePort?: number;
}

/** The default --metrics-base-port: this far above --pfs-base-port. */
export const deployMetricsPortOffset = 100;

/** Defaults of the settings added after the first deploy.json format (read from old files). */
export const deploySettingsDefaults = {
  shards: limits.pfsShardsDefault,
  pfsBasePort: limits.pfsApiPortDefault,
  writeQuorum: 0,
  deadTime: limits.pfsDeadTimeSecondsDefault,
  masterLeaseTtl: limits.pfsMasterLeaseTtlSecondsDefault,
  joinedNodes: 0,
} as const;

/** The default --replicas of a cluster of `nodes`: pfsd's default, but no more than nodes. */
export function deployReplicasDefault(nodes: number): number {
  return Math.min(limits.pfsReplicasDefault, Math.max(1, nodes));
}

/**
 * The settings a deploy.json holds; old files lack the later fields and get the defaults (the
 * given ones only fill what even the oldest file holds).
 */
function storedSettings(file: string, given?: DeploySettings): DeploySettings {
  const stored = JSON.parse(readFileSync(file, "utf8")) as Partial<DeploySettings>;
  const nodes = stored.nodes ?? given?.nodes ?? 1;
  return {
    ...given, ...deploySettingsDefaults, replicas: deployReplicasDefault(nodes), ...stored,
  } as DeploySettings;
}

/** One node's names, URLs and files. */
interface NodePlan {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** host:port of its pfs API. */
  readonly pfsAddress: string;
  /** http://host:port of its metrics, or "" when the cluster serves none. */
  readonly metricsUrl: string;
  /** Added by add-node: it joins with --join and may be a learner. */
  readonly joined: boolean;
  readonly dataDir: string;
  readonly pidFile: string;
  readonly logFile: string;
}

const pfsdScript = fileURLToPath(new URL("./pfsd.js", import.meta.url));

/**
 * Checks that `total` nodes fit the ports of `settings`: their client and peer ports, and the
 * pfs ports from pfsBasePort, stay in [1024, 65535] and do not overlap. Throws with the flag.
 */
function checkPorts(settings: DeploySettings, total: number): void {
  const ranges: { flag: string; first: number; count: number }[] = [
    { flag: "--base-port", first: settings.basePort, count: 2 * total },
    { flag: "--pfs-base-port", first: settings.pfsBasePort, count: total },
  ];
  const metrics = settings.metricsBasePort ?? 0;
  if (metrics !== 0) ranges.push({ flag: "--metrics-base-port", first: metrics, count: total });
  for (const [i, range] of ranges.entries()) {
    const last = range.first + range.count - 1;
    if (!Number.isInteger(range.first) || range.first < 1024 || last > 65_535) {
      throw new Error(`${range.flag} ${range.first} leaves no room for ${total} nodes`);
    }
    for (const other of ranges.slice(0, i)) {
      if (last >= other.first && range.first <= other.first + other.count - 1) {
        throw new Error(`${range.flag} ${range.first} overlaps the ports from ` +
          `${other.flag} ${other.first}`);
      }
    }
  }
}

/** Checks one pfsd flag's value with pfsd's own schema; throws with the flag's name. */
function checkPfsdFlag(key: "replicas" | "writeQuorum" | "deadTime" | "masterLeaseTtl",
  flag: string, value: number): void {
  const parsed = pfsdSchema[key].parse(String(value));
  if (!parsed.ok) throw new Error(`${flag} ${value}: ${parsed.error}`);
}

/** Checks the settings of a new cluster; throws naming the flag. */
function checkSettings(given: DeploySettings): void {
  if (!Number.isInteger(given.nodes) || given.nodes < 1 || given.nodes > deployNodesMax) {
    throw new Error(`--nodes must be between 1 and ${deployNodesMax}, got ${given.nodes}`);
  }
  if (!Number.isInteger(given.shards) || given.shards < 1 || given.shards > limits.pfsShardsMax) {
    throw new Error(`--shards must be between 1 and ${limits.pfsShardsMax}, got ${given.shards}`);
  }
  checkPorts(given, given.nodes);
  checkPfsdFlag("replicas", "--replicas", given.replicas);
  checkPfsdFlag("writeQuorum", "--write-quorum", given.writeQuorum);
  if (given.writeQuorum > given.replicas) {
    throw new Error(`--write-quorum ${given.writeQuorum} is above --replicas ${given.replicas}`);
  }
  checkPfsdFlag("deadTime", "--dead-time", given.deadTime);
  checkPfsdFlag("masterLeaseTtl", "--master-lease-ttl", given.masterLeaseTtl);
}

/** Writes the settings to `<dir>/deploy.json` durably (file and directory fsynced). */
function storeSettings(dir: string, settings: DeploySettings): void {
  const file = join(dir, "deploy.json");
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(settings, null, 2)}\n`);
  const written = openSync(`${file}.tmp`, "r");
  try {
    fsyncSync(written);
  } finally {
    closeSync(written);
  }
  renameSync(`${file}.tmp`, file);
  const directory = openSync(dir, "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** Reads the settings stored in `dir`, or takes the given ones (stored on first use). */
export function deploySettings(dir: string, given: DeploySettings): DeploySettings {
  const file = join(dir, "deploy.json");
  if (existsSync(file)) return storedSettings(file, given);
  checkSettings(given);
  // The settings decide the cluster's shard count for good: make them durable.
  storeSettings(dir, given);
  return given;
}

function plan(dir: string, settings: DeploySettings): NodePlan[] {
  const scheme = settings.tls === true ? "https" : "http";
  return Array.from({ length: settings.nodes + settings.joinedNodes }, (_, i) => {
    const name = `node${i + 1}`;
    const clientPort = settings.basePort + 2 * i;
    return {
      name,
      clientUrl: `${scheme}://${settings.host}:${clientPort}`,
      peerUrl: `${scheme}://${settings.host}:${clientPort + 1}`,
      pfsAddress: `${settings.host}:${settings.pfsBasePort + i}`,
      metricsUrl: (settings.metricsBasePort ?? 0) === 0 ? ""
        : `http://${settings.host}:${(settings.metricsBasePort ?? 0) + i}`,
      joined: i >= settings.nodes,
      dataDir: join(dir, name),
      pidFile: join(dir, `${name}.pid`),
      logFile: join(dir, `${name}.log`),
    };
  });
}

/** The token of every deployed cluster (a joining node needs the same one). */
const clusterToken = "pfs-deploy-local";

/**
 * pfsd's arguments for `node`: a first node names the first nodes in --initial-cluster; an
 * added one joins through every other node's client URL; with `tls`, the TLS flags.
 */
function pfsdArgs(node: NodePlan, nodes: readonly NodePlan[], settings: DeploySettings,
  tls: DeployTls | undefined): string[] {
  const others = nodes.filter((each) => each !== node);
  const membership = node.joined
    ? ["--join", others.map((each) => each.clientUrl).join(",")]
    : ["--initial-cluster", nodes.filter((each) => !each.joined)
      .map((each) => `${each.name}=${each.peerUrl}`).join(","),
    "--initial-cluster-state", "new"];
  return [
    "--pfs-address", node.pfsAddress, "--shards", String(settings.shards),
    "--replicas", String(settings.replicas), "--write-quorum", String(settings.writeQuorum),
    "--dead-time", String(settings.deadTime),
    "--master-lease-ttl", String(settings.masterLeaseTtl),
    "--name", node.name, "--data-dir", node.dataDir,
    "--listen-client-urls", node.clientUrl, "--advertise-client-urls", node.clientUrl,
    "--listen-peer-urls", node.peerUrl, "--initial-advertise-peer-urls", node.peerUrl,
    ...membership, "--initial-cluster-token", clusterToken,
    ...(node.metricsUrl === "" ? [] : ["--listen-metrics-urls", node.metricsUrl]),
    ...(tls === undefined ? [] : pfsdTlsArgs(tls, node.name)),
  ];
}

/** The pid in `file` if that process is alive. */
function runningPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** One Range of "health"; serializable for an added node (a learner refuses linearizable). */
function rangeOnce(client: Client, deadlineMs: number, serializable: boolean): Promise<void> {
  return new Promise((resolveRange, reject) => {
    const call = (client as unknown as Record<string, unknown>)["Range"] as (
      request: object, options: object, callback: (error: Error | null) => void) => void;
    call.call(client, { key: Buffer.from("health"), serializable },
      { deadline: Date.now() + deadlineMs },
      (error) => {
        if (error === null) resolveRange();
        else reject(error);
      });
  });
}

/** Waits until the node's pfs API answers a ListRepo (or the deadline or a dead node). */
async function waitPfsServing(node: NodePlan, deadline: number, alive: () => boolean,
  channelCredentials: ChannelCredentials): Promise<void> {
  const client = new PfsClient({ address: node.pfsAddress, callDeadlineMs: 1_000,
    credentials: channelCredentials });
  try {
    for (;;) {
      if (!alive()) throw new Error(`a node exited; see ${node.logFile}`);
      try {
        await client.listRepo();
        return;
      } catch (error: unknown) {
        if (Date.now() > deadline) {
          throw new Error(`${node.name} pfs API not serving after ${deployReadyMsMax} ms: ` +
            `${String(error)}; see ${node.logFile}`, { cause: error });
        }
        await new Promise((wake) => setTimeout(wake, 200));
      }
    }
  } finally {
    client.close();
  }
}

/** The user's credentials for a deployment: plaintext, or the CA and client certificate. */
function userCredentials(tls: DeployTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(readFileSync(tls.ca.certFile), readFileSync(tls.clientKeyFile),
    readFileSync(tls.clientCertFile));
}

async function waitServing(nodes: readonly NodePlan[], alive: () => boolean,
  tls: DeployTls | undefined): Promise<void> {
  const Kv = (loadEtcdProtos()["etcdserverpb"] as Record<string, unknown>)["KV"] as
    ServiceClientConstructor;
  const deadline = Date.now() + deployReadyMsMax;
  for (const node of nodes) {
    const client = new Kv(new URL(node.clientUrl).host, userCredentials(tls));
    try {
      for (;;) {
        if (!alive()) throw new Error(`a node exited; see ${node.logFile}`);
        try {
          await rangeOnce(client, 1_000, node.joined);
          break;
        } catch (error: unknown) {
          if (Date.now() > deadline) {
            throw new Error(`${node.name} not serving after ${deployReadyMsMax} ms: ` +
              `${String(error)}; see ${node.logFile}`, { cause: error });
          }
          await new Promise((wake) => setTimeout(wake, 200));
        }
      }
    } finally {
      client.close();
    }
  }
  for (const node of nodes) await waitPfsServing(node, deadline, alive, userCredentials(tls));
}

function startNode(node: NodePlan, nodes: readonly NodePlan[], settings: DeploySettings,
  detach: boolean, tls: DeployTls | undefined): ChildProcess {
  mkdirSync(node.dataDir, { recursive: true });
  const log = openSync(node.logFile, "a");
  const child = spawn(process.execPath, [pfsdScript, ...pfsdArgs(node, nodes, settings, tls)], {
    stdio: ["ignore", log, log], detached: detach,
  });
  if (child.pid !== undefined) writeFileSync(node.pidFile, `${child.pid}\n`);
  if (detach) child.unref();
  return child;
}

function exports(nodes: readonly NodePlan[], tls: DeployTls | undefined): string {
  const first = nodes[0];
  const pfs = first === undefined ? "" : `export PFS_ADDRESS=${shellWord(first.pfsAddress)}\n`;
  const endpoints = shellWord(nodes.map((node) => node.clientUrl).join(","));
  const metrics = nodes.map((node) => node.metricsUrl).filter((url) => url !== "");
  return pfs + `export ETCDCTL_ENDPOINTS=${endpoints}\n` + `export ETCDCTL_API=3\n` +
    (metrics.length === 0 ? "" : `export PFS_METRICS_URLS=${shellWord(metrics.join(","))}\n`) +
    (tls === undefined ? "" : tlsExportLines(tls));
}

/** The deployment's TLS files, made where missing; undefined without --tls. */
function deployTls(dir: string, settings: DeploySettings, nodes: readonly NodePlan[]):
  Promise<DeployTls | undefined> {
  if (settings.tls !== true) return Promise.resolve(undefined);
  quietIpServerName(`${settings.host}:0`);
  return ensureDeployTls(dir, nodes.map((node) => node.name), settings.host);
}

/** Waits until `pid` is gone, SIGKILLing it after deployStopMsMax. */
async function stopPid(pid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + deployStopMsMax;
  while (alive()) {
    if (Date.now() > deadline) process.kill(pid, "SIGKILL");
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** `pfs deploy local`: starts the nodes not already running, waits until all serve. */
export async function deployLocal(dirOption: string, given: DeploySettings, detach: boolean,
  progress: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  const settings = deploySettings(dir, given);
  const nodes = plan(dir, settings);
  const tls = await deployTls(dir, settings, nodes);
  if (given.tls === true && settings.tls !== true) progress(`${dir} holds a cluster made without --tls; ` +
    "it keeps running without TLS");
  const children: ChildProcess[] = [];
  for (const node of nodes) {
    const pid = runningPid(node.pidFile);
    if (pid !== undefined) {
      progress(`${node.name} already running (pid ${pid})`);
      continue;
    }
    progress(`starting ${node.name}: clients ${node.clientUrl}, peers ${node.peerUrl}, ` +
      `pfs ${node.pfsAddress}${node.metricsUrl === "" ? "" : `, metrics ${node.metricsUrl}`}`);
    children.push(startNode(node, nodes, settings, detach, tls));
  }
  const alive = (): boolean => children.every((child) => child.exitCode === null);
  try {
    await waitServing(nodes, alive, tls);
  } catch (error: unknown) {
    await Promise.all(children.map((child) => stopPid(child.pid ?? 0)));
    throw error;
  }
  progress(`${nodes.length} node(s) serving, ${settings.shards} shards, ` +
    `${settings.replicas} replicas; data and logs in ${dir}`);
  process.stdout.write(exports(nodes, tls));
  if (detach) return 0;
  return foreground(children, nodes, progress);
}

function foreground(children: readonly ChildProcess[], nodes: readonly NodePlan[],
  progress: (line: string) => void): Promise<number> {
  return new Promise((done) => {
    let stopping = false;
    const stopAll = (why: string, code: number): void => {
      if (stopping) return;
      stopping = true;
      progress(`${why}: stopping ${nodes.length} node(s)`);
      void Promise.all(children.map((child) => stopPid(child.pid ?? 0))).then(() => {
        for (const node of nodes) rmSync(node.pidFile, { force: true });
        done(code);
      });
    };
    process.once("SIGINT", () => { stopAll("interrupted", 0); });
    process.once("SIGTERM", () => { stopAll("terminated", 0); });
    for (const child of children) {
      child.once("exit", (code, signal) => {
        stopAll(`a node exited (${signal ?? String(code)})`, 1);
      });
    }
  });
}

/** The settings of the deployment in `dir`; throws when there is none. */
function existingSettings(dir: string): DeploySettings {
  const file = join(dir, "deploy.json");
  if (!existsSync(file)) throw new Error(`no deployment in ${dir}`);
  return storedSettings(file);
}

/** `pfs deploy local down`: stops every node of a detached cluster in `dir`. */
export async function deployLocalDown(dirOption: string,
  progress: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  const settings = existingSettings(dir);
  for (const node of plan(dir, settings)) {
    const pid = runningPid(node.pidFile);
    if (pid === undefined) continue;
    progress(`stopping ${node.name} (pid ${pid})`);
    await stopPid(pid);
    rmSync(node.pidFile, { force: true });
  }
  return 0;
}

/**
 * `pfs deploy local add-node`: starts one more node of the cluster in `dir`, detached, joining
 * through every other node (`pfsd --join`); once it serves, deploy.json counts it. The other
 * nodes must be running. A node that fails to start is stopped; running add-node again
 * retries the same node (its join reuses the member an earlier try added).
 */
export async function deployLocalAddNode(dirOption: string,
  progress: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  const settings = existingSettings(dir);
  const grown: DeploySettings = { ...settings, joinedNodes: settings.joinedNodes + 1 };
  const total = grown.nodes + grown.joinedNodes;
  if (total > deployNodesMax) {
    throw new Error(`the cluster has ${total - 1} nodes; deploy local runs at most ` +
      `${deployNodesMax}`);
  }
  checkPorts(grown, total);
  const nodes = plan(dir, grown);
  const node = nodes[nodes.length - 1];
  if (node === undefined) throw new Error("no node planned");
  const stopped = nodes.filter((each) => each !== node && runningPid(each.pidFile) === undefined);
  if (stopped.length > 0) {
    throw new Error(`${stopped.map((each) => each.name).join(", ")} not running; start the ` +
      "cluster first (pfs deploy local --detach)");
  }
  progress(`adding ${node.name}: clients ${node.clientUrl}, peers ${node.peerUrl}, ` +
    `pfs ${node.pfsAddress}${node.metricsUrl === "" ? "" : `, metrics ${node.metricsUrl}`}`);
  const tls = await deployTls(dir, grown, nodes);
  const child = startNode(node, nodes, grown, true, tls);
  try {
    await waitServing([node], () => child.exitCode === null, tls);
  } catch (error: unknown) {
    await stopPid(child.pid ?? 0);
    rmSync(node.pidFile, { force: true });
    throw error;
  }
  storeSettings(dir, grown);
  progress(`${node.name} joined; ${total} node(s) in ${dir}`);
  process.stdout.write(exports(nodes, tls));
  return 0;
}

interface DeployLocalOptions {
  readonly nodes: string;
  readonly dir: string;
  readonly basePort: string;
  readonly pfsBasePort: string;
  readonly metricsBasePort?: string;
  readonly shards: string;
  readonly replicas?: string;
  readonly writeQuorum: string;
  readonly deadTime: string;
  readonly masterLeaseTtl: string;
  readonly host: string;
  readonly detach?: boolean;
  readonly tls?: boolean;
}

/** The settings the flags give (a new cluster takes them; an existing one keeps its own). */
function givenSettings(options: DeployLocalOptions): DeploySettings {
  const nodes = Number(options.nodes);
  return {
    nodes, basePort: Number(options.basePort), host: options.host,
    shards: Number(options.shards), pfsBasePort: Number(options.pfsBasePort),
    replicas: options.replicas === undefined
      ? deployReplicasDefault(nodes) : Number(options.replicas),
    writeQuorum: Number(options.writeQuorum), deadTime: Number(options.deadTime),
    masterLeaseTtl: Number(options.masterLeaseTtl), joinedNodes: 0, tls: options.tls === true,
    metricsBasePort: options.metricsBasePort === undefined
      ? Number(options.pfsBasePort) + deployMetricsPortOffset : Number(options.metricsBasePort),
  };
}

/** `pfs deploy local [down|add-node]`: a loopback cluster of pfsd processes. */
export function addDeployCommand(program: Command): void {
  const deploy = program.command("deploy").description("run pfs clusters");
  addDeployKubernetesCommand(deploy);
  deploy
    .command("local")
    .description("run a cluster of pfsd nodes on this machine (`down` stops a detached one, " +
      "`add-node` adds a node to a running one)")
    .argument("[action]", "`down` to stop the detached cluster in --dir, `add-node` to add one")
    .option("--nodes <n>", `nodes to run, 1 to ${deployNodesMax}`, "3")
    .option("--dir <dir>", "data, logs and pid files", "./pfs-data")
    .option("--base-port <port>", "client port of node 1; node i uses base+2(i-1) and +1", "2379")
    .option("--shards <n>", "shards of the file system (fixed when the cluster is created)",
      String(limits.pfsShardsDefault))
    .option("--replicas <n>", "replicas of each shard (default: 3, at most --nodes)")
    .option("--write-quorum <n>", "acknowledgements a commit waits for (0 = majority)", "0")
    .option("--dead-time <seconds>", "seconds offline before a node is faulty",
      String(limits.pfsDeadTimeSecondsDefault))
    .option("--master-lease-ttl <seconds>", "TTL of a shard master's lease",
      String(limits.pfsMasterLeaseTtlSecondsDefault))
    .option("--pfs-base-port <port>", "pfs API port of node 1; node i uses base+(i-1)",
      String(limits.pfsApiPortDefault))
    .option("--metrics-base-port <port>", "metrics port of node 1 (/metrics, /livez, /readyz);" +
      ` node i uses base+(i-1); 0 = none (default: --pfs-base-port + ${deployMetricsPortOffset})`)
    .option("--host <host>", "loopback address to serve on", "127.0.0.1")
    .option("--detach", "return once the cluster serves, leaving it running")
    .option("--tls", "TLS everywhere with a throwaway CA and certificates in <dir>/tls " +
      "(fixed when the cluster is created)")
    .action(async (action: string | undefined, options: DeployLocalOptions) => {
      const progress = (line: string): void => { process.stderr.write(`pfs: ${line}\n`); };
      if (action === "down") {
        process.exitCode = await deployLocalDown(options.dir, progress);
      } else if (action === "add-node") {
        process.exitCode = await deployLocalAddNode(options.dir, progress);
      } else if (action === undefined) {
        process.exitCode = await deployLocal(options.dir, givenSettings(options),
          options.detach === true, progress);
      } else {
        throw new Error(`unknown action ${JSON.stringify(action)} (only "down" or "add-node")`);
      }
    });
}
