// Goal: `pfs deploy local` (the README's run command) starts a real 3-node pfsd cluster on
// loopback that etcdctl can use through the printed ETCDCTL_ENDPOINTS; `--detach` leaves it
// running with one pid file per node, a second run on the same dir reuses it, `down` stops
// every node; in the foreground, SIGINT stops every node and exits 0; the data survives. The
// replication flags reach every pfsd, and `add-node` joins one more node (promoted to a voter).
// Each node serves /livez, /readyz and /metrics on the printed PFS_METRICS_URLS.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { freePortRange } from "../support/port-range.js";

/** How long a node of a cluster that serves etcdctl may take to be ready (generous). */
const readyWaitMs = 60_000;

const pfs = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      });
  });
}

function endpointsOf(stdout: string): string {
  const match = /^export ETCDCTL_ENDPOINTS=(\S+)$/m.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`no ETCDCTL_ENDPOINTS in ${stdout}`);
  return match[1];
}

function metricsUrlsOf(stdout: string): string {
  const match = /^export PFS_METRICS_URLS=(\S+)$/m.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`no PFS_METRICS_URLS in ${stdout}`);
  return match[1];
}

/** Every node's /livez answers, its /readyz becomes ready, its /metrics knows a leader. */
async function checkMetrics(t: ExecutionContext, urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    t.is((await fetch(`${url}/livez`)).status, 200);
    const deadline = Date.now() + readyWaitMs;
    let ready = await fetch(`${url}/readyz?verbose`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await new Promise((wake) => setTimeout(wake, 200));
      ready = await fetch(`${url}/readyz?verbose`);
    }
    t.is(ready.status, 200, await ready.text());
    t.regex(await (await fetch(`${url}/metrics`)).text(), /^etcd_server_has_leader 1$/m);
  }
}

function pidsIn(dir: string, nodes: number): number[] {
  return Array.from({ length: nodes }, (_, i) => join(dir, `node${i + 1}.pid`))
    .filter((file) => existsSync(file))
    .map((file) => Number(readFileSync(file, "utf8").trim()));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.serial("deploy local --detach serves etcdctl, reuses its dir, and down stops it",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-deploy-"));
    // 3 nodes: 6 client and peer ports from base, then 3 pfs ports, then 3 metrics ports.
    const base = await freePortRange(12);
    const args = [pfs, "deploy", "local", "--detach", "--dir", dir, "--base-port", String(base),
      "--pfs-base-port", String(base + 6), "--metrics-base-port", String(base + 9)];
    try {
      const up = await run(process.execPath, args);
      t.is(up.code, 0, up.stderr);
      const endpoints = endpointsOf(up.stdout);
      t.is(endpoints.split(",").length, 3);
      const pids = pidsIn(dir, 3);
      t.is(pids.length, 3);
      t.true(pids.every(alive));
      t.is(metricsUrlsOf(up.stdout), [9, 10, 11].map((i) => `http://127.0.0.1:${base + i}`)
        .join(","));
      await checkMetrics(t, metricsUrlsOf(up.stdout).split(","));
      const put = await run("etcdctl", ["put", "greeting", "hello"],
        { ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: endpoints });
      t.is(put.stdout, "OK\n", put.stderr);
      const again = await run(process.execPath, args);
      t.is(again.code, 0, again.stderr);
      t.regex(again.stderr, /already running/);
      t.deepEqual(pidsIn(dir, 3), pids);
      const down = await run(process.execPath, [pfs, "deploy", "local", "down", "--dir", dir]);
      t.is(down.code, 0, down.stderr);
      t.false(pids.some(alive));
      // Foreground on the same dir: the data is still there, and SIGINT stops everything.
      const child = spawn(process.execPath, [pfs, "deploy", "local", "--dir", dir],
        { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString("utf8");
          if (stdout.includes("ETCDCTL_API")) resolve();
        });
        child.once("exit", (code) => { reject(new Error(`deploy exited ${String(code)}`)); });
      });
      const get = await run("etcdctl", ["get", "greeting", "--print-value-only"],
        { ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: endpointsOf(stdout) });
      t.is(get.stdout, "hello\n", get.stderr);
      const foregroundPids = pidsIn(dir, 3);
      const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
      child.kill("SIGINT");
      t.is(await exited, 0);
      t.false(foregroundPids.some(alive));
    } finally {
      await run(process.execPath, [pfs, "deploy", "local", "down", "--dir", dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });

test("deploy local refuses a bad node count without starting anything", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-deploy-"));
  try {
    const result = await run(process.execPath,
      [pfs, "deploy", "local", "--detach", "--dir", dir, "--nodes", "0"]);
    t.not(result.code, 0);
    t.regex(result.stderr, /--nodes must be between 1 and 9/);
    t.false(existsSync(join(dir, "deploy.json")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** pfsd's arguments of the process `pid` (from /proc), for checking what deploy passed. */
function argsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

interface EtcdctlMember {
  readonly name: string;
  readonly isLearner?: boolean;
}

test.serial("deploy local passes the replication flags; add-node joins a running cluster",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-deploy-"));
    // 4 nodes: 8 client and peer ports from base, then 4 pfs ports; no metrics.
    const base = await freePortRange(12);
    const args = [pfs, "deploy", "local", "--detach", "--dir", dir, "--base-port", String(base),
      "--pfs-base-port", String(base + 8), "--metrics-base-port", "0", "--nodes", "3",
      "--replicas", "2",
      "--write-quorum", "1", "--dead-time", "20", "--master-lease-ttl", "2"];
    try {
      const up = await run(process.execPath, args);
      t.is(up.code, 0, up.stderr);
      for (const pid of pidsIn(dir, 3)) {
        const pfsdArgs = argsOf(pid);
        t.is(flagValue(pfsdArgs, "--replicas"), "2");
        t.is(flagValue(pfsdArgs, "--write-quorum"), "1");
        t.is(flagValue(pfsdArgs, "--dead-time"), "20");
        t.is(flagValue(pfsdArgs, "--master-lease-ttl"), "2");
      }
      const added = await run(process.execPath,
        [pfs, "deploy", "local", "add-node", "--dir", dir]);
      t.is(added.code, 0, added.stderr);
      t.regex(added.stderr, /node4 joined; 4 node\(s\)/);
      const endpoints = endpointsOf(added.stdout);
      t.is(endpoints.split(",").length, 4);
      const pids = pidsIn(dir, 4);
      t.is(pids.length, 4);
      const joinedArgs = argsOf(pids[3] ?? 0);
      t.is(flagValue(joinedArgs, "--join")?.split(",").length, 3);
      t.is(flagValue(joinedArgs, "--replicas"), "2");
      // Three voters: the added node is promoted within a few promotion rounds.
      let members: EtcdctlMember[] = [];
      for (let tries = 0; tries < 100; tries++) {
        const list = await run("etcdctl", ["member", "list", "-w", "json"],
          { ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: endpoints });
        members = (JSON.parse(list.stdout) as { members: EtcdctlMember[] }).members;
        if (members.length === 4 && members.every((m) => m.isLearner !== true)) break;
        await new Promise((wake) => setTimeout(wake, 300));
      }
      t.deepEqual(members.map((m) => [m.name, m.isLearner === true]).sort(),
        [["node1", false], ["node2", false], ["node3", false], ["node4", false]]);
      const settings = JSON.parse(readFileSync(join(dir, "deploy.json"), "utf8")) as
        { joinedNodes: number; replicas: number };
      t.like(settings, { joinedNodes: 1, replicas: 2 });
      const down = await run(process.execPath, [pfs, "deploy", "local", "down", "--dir", dir]);
      t.is(down.code, 0, down.stderr);
      t.false(pids.some(alive));
    } finally {
      await run(process.execPath, [pfs, "deploy", "local", "down", "--dir", dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });
