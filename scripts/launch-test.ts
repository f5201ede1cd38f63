/**
 * The cluster launcher behind scripts/launch_test (which builds first, runs the suites and
 * tears down; see there):
 *
 *   node dist/scripts/launch-test.js up --dir D [--external-etcd] [--tls]
 *   node dist/scripts/launch-test.js down --dir D
 *
 * `up` launches a 3-node pfs cluster in the empty directory D on a run of free loopback ports
 * and returns once `pfs cluster status --json` shows every node online and every shard with a
 * master. It prints the cluster's environment on stdout as `export NAME=VALUE` lines, for the
 * caller to eval (PFS_ADDRESS, ETCDCTL_ENDPOINTS, ETCDCTL_API; with --tls what `pfs deploy
 * local --tls` prints, PFS_CACERT…; PFS_METRICS_URLS when the nodes serve metrics); progress
 * goes to stderr. Embedded (the default): `pfs deploy local --detach --dir D`, passing --tls
 * through. --external-etcd: a 3-member cluster of the Debian `etcd` binary and 3 pfsd nodes
 * with `--etcd-endpoints`, each process detached with its log in D/NAME.log and its pid in
 * D/NAME.pid, the layout of deploy local. An attempt that fails (a port taken between the
 * probe and the bind, a node that exits) is torn down, its logs kept as D/attempt-N-NAME.log,
 * and retried on other ports, up to launchAttemptsMax times.
 *
 * Invariant: every process `up` starts, and every pid file deploy local leaves, is appended to
 * D/launch-pids (`PID NAME` a line) before anything waits on it, so `down` (also after Ctrl-C
 * or a crash of `up`) finds all of them. `down` stops them (pfsd nodes before etcd members:
 * SIGTERM, then SIGKILL after launchStopMsMax) and exits 1 if any is still alive.
 */
import { execFile, spawn } from "node:child_process";
import {
  appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync,
  renameSync, rmSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { freePortRange } from "../test/support/port-range.js";
import {
  launchAttemptsMax, launchCommandMsMax, launchDeployMsMax, launchEtcdMembers,
  launchEtcdReadyMsMax, launchNodes, launchPollMs, launchReadyMsMax, launchShards,
  launchStopMsMax,
} from "./launch-test-limits.js";

const pfsScript = fileURLToPath(new URL("../cmd/pfs.js", import.meta.url));
const pfsdScript = fileURLToPath(new URL("../cmd/pfsd.js", import.meta.url));
const ledgerName = "launch-pids";

interface Args {
  readonly command: "up" | "down";
  readonly dir: string;
  readonly externalEtcd: boolean;
  readonly tls: boolean;
}

/** The environment of a launched cluster, in the order deploy local prints it. */
type ClusterEnv = ReadonlyMap<string, string>;

function progress(message: string): void {
  process.stderr.write(`launch_test: ${message}\n`);
}

function usage(message: string): never {
  process.stderr.write(`launch-test: ${message}\nusage: launch-test up --dir D ` +
    "[--external-etcd] [--tls] | launch-test down --dir D\n");
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== "up" && command !== "down") usage(`unknown command ${String(command)}`);
  let dir = "";
  let externalEtcd = false;
  let tls = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    if (flag === "--dir") dir = rest[++i] ?? "";
    else if (flag === "--external-etcd" && command === "up") externalEtcd = true;
    else if (flag === "--tls" && command === "up") tls = true;
    else usage(`unknown option ${String(flag)}`);
  }
  if (dir === "") usage("--dir D is required");
  if (externalEtcd && tls) usage("--tls and --external-etcd together are not supported");
  return { command, dir, externalEtcd, tls };
}

const sleep = (ms: number): Promise<void> => new Promise((wake) => setTimeout(wake, ms));

/** True while `pid` runs (a zombie, exited but not yet reaped, counts as gone). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The processes D/launch-pids names, in the order they were started. */
function ledgerOf(dir: string): { pid: number; name: string }[] {
  const file = join(dir, ledgerName);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((line) => line !== "").map((line) => {
    const [pid, name] = line.split(" ");
    return { pid: Number(pid), name: name ?? "" };
  }).filter((entry) => Number.isInteger(entry.pid) && entry.pid > 0);
}

function record(dir: string, pid: number, name: string): void {
  appendFileSync(join(dir, ledgerName), `${pid} ${name}\n`);
}

/** Runs `pfs args…` with `env` added; resolves with stdout, rejects with its stderr. */
function pfs(args: readonly string[], env: ClusterEnv, timeoutMs = launchCommandMsMax):
  Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [pfsScript, ...args],
      { env: { ...process.env, ...Object.fromEntries(env) }, timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else reject(new Error(`pfs ${args.join(" ")}: ${stderr.trim() || error.message}`));
      });
  });
}

/**
 * The `export NAME=VALUE` lines of `text`; a value in single quotes is unquoted, with a quote
 * written as '\'' or '"'"' inside it.
 */
function parseExports(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) continue;
    const raw = match[2] ?? "";
    const quoted = raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'");
    const value = quoted
      ? raw.slice(1, -1).replaceAll("'\\''", "'").replaceAll(`'"'"'`, "'") : raw;
    env.set(match[1] ?? "", value);
  }
  return env;
}

/** `export NAME=VALUE` lines for `env`, single-quoted so a shell's eval keeps them whole. */
function exportLines(env: ClusterEnv): string {
  return [...env].map(([name, value]) =>
    `export ${name}='${value.replaceAll("'", "'\\''")}'\n`).join("");
}

/** Launches with `pfs deploy local --detach`; its pid files join the ledger. */
async function upEmbedded(dir: string, tls: boolean, attempt: number): Promise<ClusterEnv> {
  const base = await freePortRange(4 * launchNodes, 7 * attempt);
  const pfsBase = base + 2 * launchNodes;
  const metricsBase = pfsBase + launchNodes;
  progress(`deploy local: client ports from ${base}, pfs from ${pfsBase}, ` +
    `metrics from ${metricsBase}` +
    (tls ? ", TLS" : ""));
  const args = ["deploy", "local", "--detach", "--dir", dir, "--nodes", String(launchNodes),
    "--base-port", String(base), "--pfs-base-port", String(pfsBase),
    "--metrics-base-port", String(metricsBase), "--shards", String(launchShards),
    ...(tls ? ["--tls"] : [])];
  let printed: string;
  try {
    printed = await pfs(args, new Map(), launchDeployMsMax);
  } finally {
    for (const name of readdirSync(dir)) {
      const match = /^(.+)\.pid$/.exec(name);
      const pid = Number(match === null ? "" : readFileSync(join(dir, name), "utf8").trim());
      if (match !== null && Number.isInteger(pid) && pid > 0) record(dir, pid, match[1] ?? "");
    }
  }
  const env = parseExports(printed);
  if (!env.has("PFS_ADDRESS")) throw new Error(`deploy local printed no PFS_ADDRESS: ${printed}`);
  return env;
}

/** Starts `command args…` detached, logging to D/NAME.log, its pid in D/NAME.pid. */
function spawnDetached(dir: string, name: string, command: string, args: readonly string[]):
  void {
  const log = openSync(join(dir, `${name}.log`), "a");
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", log, log] });
    child.on("error", (error) => { progress(`${name}: ${error.message}`); });
    if (child.pid === undefined) throw new Error(`${name}: ${command} did not start`);
    record(dir, child.pid, name);
    writeFileSync(join(dir, `${name}.pid`), `${child.pid}\n`);
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** Fails when a process of the ledger has exited (its log says why). */
function requireAlive(dir: string): void {
  for (const { pid, name } of ledgerOf(dir)) {
    if (!processAlive(pid)) throw new Error(`${name} (pid ${pid}) exited; see ${name}.log`);
  }
}

/** Waits until the etcd members at `urls` serve a linearizable read. */
async function waitEtcd(dir: string, urls: readonly string[]): Promise<void> {
  const client = new Etcd3({ hosts: [...urls],
    defaultCallOptions: () => ({ deadline: Date.now() + 2_000 }) });
  try {
    const deadline = Date.now() + launchEtcdReadyMsMax;
    for (;;) {
      requireAlive(dir);
      try {
        await client.get("launch-test-probe").string();
        return;
      } catch (error: unknown) {
        if (Date.now() > deadline) {
          throw new Error(`etcd not ready: ${String(error)}`, { cause: error });
        }
      }
      await sleep(launchPollMs);
    }
  } finally {
    client.close();
  }
}

/** Launches 3 Debian etcd members and 3 pfsd nodes with --etcd-endpoints. */
async function upExternalEtcd(dir: string, attempt: number): Promise<ClusterEnv> {
  const base = await freePortRange(2 * launchEtcdMembers + 2 * launchNodes, 11 * attempt);
  const members = Array.from({ length: launchEtcdMembers }, (_, i) => ({
    name: `etcd${i + 1}`, client: `http://127.0.0.1:${base + 2 * i}`,
    peer: `http://127.0.0.1:${base + 2 * i + 1}` }));
  const pfsBase = base + 2 * launchEtcdMembers;
  const metricsBase = pfsBase + launchNodes;
  progress(`external etcd: client ports from ${base}, pfs ports from ${pfsBase}`);
  const initialCluster = members.map((member) => `${member.name}=${member.peer}`).join(",");
  for (const member of members) {
    spawnDetached(dir, member.name, "etcd", ["--name", member.name,
      "--data-dir", join(dir, member.name), "--listen-client-urls", member.client,
      "--advertise-client-urls", member.client, "--listen-peer-urls", member.peer,
      "--initial-advertise-peer-urls", member.peer, "--initial-cluster", initialCluster,
      "--initial-cluster-state", "new", "--initial-cluster-token", `launch-${base}`,
      "--logger", "zap", "--log-level", "warn"]);
  }
  const endpoints = members.map((member) => member.client);
  await waitEtcd(dir, endpoints);
  const metricsUrls: string[] = [];
  for (let i = 0; i < launchNodes; i++) {
    const metricsUrl = `http://127.0.0.1:${metricsBase + i}`;
    metricsUrls.push(metricsUrl);
    spawnDetached(dir, `node${i + 1}`, process.execPath, [pfsdScript, "--name", `node${i + 1}`,
      "--data-dir", join(dir, `node${i + 1}`), "--etcd-endpoints", endpoints.join(","),
      "--pfs-address", `127.0.0.1:${pfsBase + i}`, "--shards", String(launchShards),
      "--listen-metrics-urls", metricsUrl, "--log-level", "info"]);
  }
  return new Map([["PFS_ADDRESS", `127.0.0.1:${pfsBase}`],
    ["ETCDCTL_ENDPOINTS", endpoints.join(",")], ["ETCDCTL_API", "3"],
    ["PFS_METRICS_URLS", metricsUrls.join(",")]]);
}

interface StatusJson {
  readonly nodes: readonly { readonly id: string; readonly online: boolean }[];
  readonly shards: readonly { readonly shard: number; readonly master: string }[];
}

/** What keeps `status` from being ready ("" when every node is online, every shard mastered). */
function notReady(status: StatusJson, nodes: number, shards: number): string {
  const online = status.nodes.filter((node) => node.online).length;
  if (online < nodes) return `${online} of ${nodes} nodes online`;
  const mastered = status.shards.filter((shard) => shard.master !== "").length;
  if (status.shards.length < shards || mastered < shards) {
    return `${mastered} of ${shards} shards with a master`;
  }
  return "";
}

/** Polls `pfs cluster status --json` until the cluster is ready. */
async function waitReady(dir: string, env: ClusterEnv): Promise<void> {
  const deadline = Date.now() + launchReadyMsMax;
  let why: string;
  for (;;) {
    requireAlive(dir);
    try {
      const status = JSON.parse(await pfs(["cluster", "status", "--json"], env)) as StatusJson;
      why = notReady(status, launchNodes, launchShards);
      if (why === "") return;
    } catch (error: unknown) {
      why = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`cluster not ready: ${why}`);
    await sleep(launchPollMs);
  }
}

/** Stops `pid`: SIGTERM, then SIGKILL after launchStopMsMax; resolves once it is gone. */
async function stopPid(pid: number): Promise<void> {
  if (!processAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + launchStopMsMax;
  while (processAlive(pid)) {
    if (Date.now() > deadline) {
      try { process.kill(pid, "SIGKILL"); } catch { return; }
    }
    await sleep(100);
  }
}

/** Stops everything in D (deploy local down first, then the ledger); false if any survives. */
async function down(dir: string): Promise<boolean> {
  if (existsSync(join(dir, "deploy.json"))) {
    await pfs(["deploy", "local", "down", "--dir", dir], new Map(), 4 * launchStopMsMax)
      .catch((error: unknown) => { progress(`deploy local down: ${String(error)}`); });
  }
  const ledger = ledgerOf(dir);
  const isEtcd = (name: string): boolean => name.startsWith("etcd");
  await Promise.all(ledger.filter((each) => !isEtcd(each.name)).map((each) => stopPid(each.pid)));
  await Promise.all(ledger.filter((each) => isEtcd(each.name)).map((each) => stopPid(each.pid)));
  const alive = ledger.filter((each) => processAlive(each.pid));
  for (const each of alive) progress(`${each.name} (pid ${each.pid}) is still running`);
  for (const each of ledger) rmSync(join(dir, `${each.name}.pid`), { force: true });
  return alive.length === 0;
}

/** After a failed attempt: keeps its logs as attempt-N-NAME.log, removes everything else. */
function clearAttempt(dir: string, attempt: number): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith("attempt-")) continue;
    if (name.endsWith(".log")) renameSync(join(dir, name), join(dir, `attempt-${attempt}-${name}`));
    else rmSync(join(dir, name), { recursive: true, force: true });
  }
}

async function up(args: Args): Promise<number> {
  mkdirSync(args.dir, { recursive: true });
  for (let attempt = 1; attempt <= launchAttemptsMax; attempt++) {
    try {
      const env = args.externalEtcd ? await upExternalEtcd(args.dir, attempt)
        : await upEmbedded(args.dir, args.tls, attempt);
      await waitReady(args.dir, env);
      progress(`cluster ready: ${launchNodes} nodes online, ${launchShards} shards mastered`);
      process.stdout.write(exportLines(env));
      return 0;
    } catch (error: unknown) {
      progress(`attempt ${attempt} of ${launchAttemptsMax} failed: ` +
        (error instanceof Error ? error.message : String(error)));
      if (!await down(args.dir)) return 1;
      if (attempt < launchAttemptsMax) clearAttempt(args.dir, attempt);
    }
  }
  return 1;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.command === "up") return up(args);
  return (await down(args.dir)) ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`launch-test: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
