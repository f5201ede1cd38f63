/**
 * `pfs deploy local`: runs a cluster of pfsd processes on loopback, each an etcd-compatible
 * member of the embedded coordination layer. Foreground by default (Ctrl-C or SIGTERM stops
 * every node cleanly); `--detach` returns once the cluster serves and leaves one pid file per
 * node; `pfs deploy local down` stops a detached cluster. The settings of a directory are kept
 * in `<dir>/deploy.json`, so running again on it restarts the same nodes with their data.
 * Node i (from 1) serves clients on base-port + 2(i-1) and peers on the port after it, and the
 * pfs API on pfs-base-port + (i-1) (node 1 on 30650 by default); every node gets the same
 * `--shards`, fixed when the cluster is first created. Ready means every node answers both a
 * linearizable etcd Range and a pfs ListRepo.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeFileSync, rmSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, type ServiceClientConstructor, credentials } from "@grpc/grpc-js";
import { limits } from "../pkg/common/index.js";
import { loadEtcdProtos } from "../pkg/proto/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { PfsClient } from "../pkg/pfs/client/index.js";

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
}

/** Defaults of the settings added after the first deploy.json format (read from old files). */
export const deploySettingsDefaults = {
  shards: limits.pfsShardsDefault,
  pfsBasePort: limits.pfsApiPortDefault,
} as const;

/** One node's names, URLs and files. */
interface NodePlan {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** host:port of its pfs API. */
  readonly pfsAddress: string;
  readonly dataDir: string;
  readonly pidFile: string;
  readonly logFile: string;
}

const pfsdScript = fileURLToPath(new URL("./pfsd.js", import.meta.url));

/** Reads the settings stored in `dir`, or takes the given ones (stored on first use). */
export function deploySettings(dir: string, given: DeploySettings): DeploySettings {
  const file = join(dir, "deploy.json");
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as Partial<DeploySettings>;
    return { ...given, ...deploySettingsDefaults, ...stored };
  }
  if (!Number.isInteger(given.nodes) || given.nodes < 1 || given.nodes > deployNodesMax) {
    throw new Error(`--nodes must be between 1 and ${deployNodesMax}, got ${given.nodes}`);
  }
  const lastPort = given.basePort + 2 * given.nodes - 1;
  if (!Number.isInteger(given.basePort) || given.basePort < 1024 || lastPort > 65_535) {
    throw new Error(`--base-port ${given.basePort} leaves no room for ${given.nodes} nodes`);
  }
  if (!Number.isInteger(given.shards) || given.shards < 1 || given.shards > limits.pfsShardsMax) {
    throw new Error(`--shards must be between 1 and ${limits.pfsShardsMax}, got ${given.shards}`);
  }
  const lastPfsPort = given.pfsBasePort + given.nodes - 1;
  if (!Number.isInteger(given.pfsBasePort) || given.pfsBasePort < 1024 || lastPfsPort > 65_535) {
    throw new Error(`--pfs-base-port ${given.pfsBasePort} leaves no room for ${given.nodes} nodes`);
  }
  if (lastPfsPort >= given.basePort && given.pfsBasePort <= lastPort) {
    throw new Error(`--pfs-base-port ${given.pfsBasePort} overlaps the ports from ` +
      `--base-port ${given.basePort}`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(given, null, 2)}\n`);
  // The settings decide the cluster's shard count for good: make them durable.
  for (const path of [file, dir]) {
    const descriptor = openSync(path, "r");
    try {
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
  }
  return given;
}

function plan(dir: string, settings: DeploySettings): NodePlan[] {
  return Array.from({ length: settings.nodes }, (_, i) => {
    const name = `node${i + 1}`;
    const clientPort = settings.basePort + 2 * i;
    return {
      name,
      clientUrl: `http://${settings.host}:${clientPort}`,
      peerUrl: `http://${settings.host}:${clientPort + 1}`,
      pfsAddress: `${settings.host}:${settings.pfsBasePort + i}`,
      dataDir: join(dir, name),
      pidFile: join(dir, `${name}.pid`),
      logFile: join(dir, `${name}.log`),
    };
  });
}

function pfsdArgs(node: NodePlan, nodes: readonly NodePlan[], shards: number): string[] {
  return [
    "--pfs-address", node.pfsAddress, "--shards", String(shards),
    "--name", node.name, "--data-dir", node.dataDir,
    "--listen-client-urls", node.clientUrl, "--advertise-client-urls", node.clientUrl,
    "--listen-peer-urls", node.peerUrl, "--initial-advertise-peer-urls", node.peerUrl,
    "--initial-cluster", nodes.map((each) => `${each.name}=${each.peerUrl}`).join(","),
    "--initial-cluster-state", "new", "--initial-cluster-token", "pfs-deploy-local",
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

function rangeOnce(client: Client, deadlineMs: number): Promise<void> {
  return new Promise((resolveRange, reject) => {
    const call = (client as unknown as Record<string, unknown>)["Range"] as (
      request: object, options: object, callback: (error: Error | null) => void) => void;
    call.call(client, { key: Buffer.from("health") }, { deadline: Date.now() + deadlineMs },
      (error) => {
        if (error === null) resolveRange();
        else reject(error);
      });
  });
}

/** Waits until the node's pfs API answers a ListRepo (or the deadline or a dead node). */
async function waitPfsServing(node: NodePlan, deadline: number, alive: () => boolean):
  Promise<void> {
  const client = new PfsClient({ address: node.pfsAddress, callDeadlineMs: 1_000 });
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

async function waitServing(nodes: readonly NodePlan[], alive: () => boolean): Promise<void> {
  const Kv = (loadEtcdProtos()["etcdserverpb"] as Record<string, unknown>)["KV"] as
    ServiceClientConstructor;
  const deadline = Date.now() + deployReadyMsMax;
  for (const node of nodes) {
    const client = new Kv(new URL(node.clientUrl).host, credentials.createInsecure());
    try {
      for (;;) {
        if (!alive()) throw new Error(`a node exited; see ${node.logFile}`);
        try {
          await rangeOnce(client, 1_000);
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
  for (const node of nodes) await waitPfsServing(node, deadline, alive);
}

function startNode(node: NodePlan, nodes: readonly NodePlan[], shards: number,
  detach: boolean): ChildProcess {
  mkdirSync(node.dataDir, { recursive: true });
  const log = openSync(node.logFile, "a");
  const child = spawn(process.execPath, [pfsdScript, ...pfsdArgs(node, nodes, shards)], {
    stdio: ["ignore", log, log], detached: detach,
  });
  if (child.pid !== undefined) writeFileSync(node.pidFile, `${child.pid}\n`);
  if (detach) child.unref();
  return child;
}

function exports(nodes: readonly NodePlan[]): string {
  const first = nodes[0];
  const pfs = first === undefined ? "" : `export PFS_ADDRESS=${first.pfsAddress}\n`;
  return pfs + `export ETCDCTL_ENDPOINTS=${nodes.map((node) => node.clientUrl).join(",")}\n` +
    `export ETCDCTL_API=3\n`;
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
  const children: ChildProcess[] = [];
  for (const node of nodes) {
    const pid = runningPid(node.pidFile);
    if (pid !== undefined) {
      progress(`${node.name} already running (pid ${pid})`);
      continue;
    }
    progress(`starting ${node.name}: clients ${node.clientUrl}, peers ${node.peerUrl}, ` +
      `pfs ${node.pfsAddress}`);
    children.push(startNode(node, nodes, settings.shards, detach));
  }
  const alive = (): boolean => children.every((child) => child.exitCode === null);
  try {
    await waitServing(nodes, alive);
  } catch (error: unknown) {
    await Promise.all(children.map((child) => stopPid(child.pid ?? 0)));
    throw error;
  }
  progress(`${nodes.length} node(s) serving, ${settings.shards} shards; data and logs in ${dir}`);
  process.stdout.write(exports(nodes));
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

/** `pfs deploy local down`: stops every node of a detached cluster in `dir`. */
export async function deployLocalDown(dirOption: string,
  progress: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption);
  if (!existsSync(join(dir, "deploy.json"))) throw new Error(`no deployment in ${dir}`);
  const stored = JSON.parse(readFileSync(join(dir, "deploy.json"), "utf8")) as DeploySettings;
  const settings: DeploySettings = { ...deploySettingsDefaults, ...stored };
  for (const node of plan(dir, settings)) {
    const pid = runningPid(node.pidFile);
    if (pid === undefined) continue;
    progress(`stopping ${node.name} (pid ${pid})`);
    await stopPid(pid);
    rmSync(node.pidFile, { force: true });
  }
  return 0;
}
