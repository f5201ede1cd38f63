// Goal: pfsd started with only etcd's flags is an etcd member that etcdctl 3.4 cannot tell
// apart for the everyday commands, stops cleanly on SIGTERM, keeps its data across a restart
// with the same command line, and forms a 3-member cluster. Method: real pfsd processes on free
// loopback ports (test/support/member-cluster.ts), driven by the real etcdctl and raw gRPC.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import test from "ava";
import { etcdService, freePort, unary } from "../compat/support/etcd-process.js";
import { pfsdScript, startCluster } from "../support/member-cluster.js";

const run = promisify(execFile);
const shmOrTmp = process.platform === "linux" ? "/dev/shm" : tmpdir();

async function etcdctl(endpoints: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run("/usr/bin/etcdctl", ["--endpoints", endpoints, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30_000,
  });
}

async function rangeHeader(address: string, key: string): Promise<{ header: Record<string, string>; kvs: { value: Buffer }[] }> {
  const Kv = etcdService("etcdserverpb.KV");
  const client = new Kv(address, credentials.createInsecure());
  try {
    return await unary(client, "Range", { key: Buffer.from(key) }) as { header: Record<string, string>; kvs: { value: Buffer }[] };
  } finally {
    client.close();
  }
}

test.serial("a fresh member is at revision 1 and serves etcdctl's everyday commands", async (t) => {
  const cluster = await startCluster({ kind: "pfsd", parentDir: shmOrTmp });
  const dir = await mkdtemp(join(tmpdir(), "pfs-e2e-snap-"));
  try {
    const member = cluster.members[0]!;
    const ep = cluster.endpoints;
    const fresh = await rangeHeader(member.clientAddress, "anything");
    t.is(fresh.header["revision"], "1");
    t.not(fresh.header["cluster_id"], "0");
    t.not(fresh.header["member_id"], "0");
    t.is((await etcdctl(ep, "put", "foo", "bar")).stdout, "OK\n");
    t.is((await etcdctl(ep, "get", "foo")).stdout, "foo\nbar\n");
    t.regex((await etcdctl(ep, "get", "foo", "-w", "json")).stdout, /"revision":2/);
    t.is((await etcdctl(ep, "del", "foo")).stdout, "1\n");
    const grant = (await etcdctl(ep, "lease", "grant", "30")).stdout;
    const id = /^lease ([0-9a-f]+) granted with TTL\(30s\)$/m.exec(grant)?.[1];
    t.truthy(id, grant);
    t.regex((await etcdctl(ep, "lease", "keep-alive", "--once", id ?? "")).stdout,
      new RegExp(`lease ${id ?? ""} keepalived with TTL\\(30\\)`));
    t.regex((await etcdctl(ep, "member", "list")).stdout, /, started, m1, http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, false\n/);
    const status = (await etcdctl(ep, "endpoint", "status", "-w", "table")).stdout;
    t.regex(status, /3\.4\.\d+/);
    t.regex(status, /\| +true +\| +false +\|/, "is leader, not a learner");
    const health = await etcdctl(ep, "endpoint", "health");
    t.regex(health.stdout + health.stderr, /is healthy: successfully committed proposal/);
    const file = join(dir, "snap.db");
    t.regex((await etcdctl(ep, "snapshot", "save", file)).stdout, /Snapshot saved at/);
    t.is((await stat(file)).size % 512, 32);
    // watch: a prefix watch prints later writes, the delete included, in order.
    const child = spawn("/usr/bin/etcdctl", ["--endpoints", ep, "watch", "w", "--prefix"], {
      stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ETCDCTL_API: "3" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await etcdctl(ep, "put", "w1", "a");
    await etcdctl(ep, "put", "w2", "b");
    await etcdctl(ep, "del", "w1");
    const deadline = Date.now() + 15_000;
    while (!output.includes("DELETE\nw1\n\n") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill("SIGTERM");
    t.is(output, "PUT\nw1\na\nPUT\nw2\nb\nDELETE\nw1\n\n");
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => { resolve(code); });
  });
}

async function waitServing(address: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pfsd exited ${child.exitCode}:\n${log()}`);
    try {
      await rangeHeader(address, "health");
      return;
    } catch (error: unknown) {
      if (Date.now() > deadline) {
        throw new Error(`not serving: ${String(error)}\n${log()}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

test.serial("SIGTERM exits 0 within 10 s; the same command line restarts with the data kept", async (t) => {
  const dir = await mkdtemp(join(shmOrTmp, "pfs-e2e-restart-"));
  const [client, peer] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [pfsdScript, "--name", "solo", "--data-dir", join(dir, "solo"),
    "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
    "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `solo=${peerUrl}`, "--initial-cluster-state", "new",
    "--log-level", "warn"];
  let stderr = "";
  const start = (): ChildProcess => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    return child;
  };
  let child = start();
  try {
    const started = Date.now();
    await waitServing(`127.0.0.1:${client}`, child, () => stderr);
    t.log(`first start served after ${Date.now() - started} ms`);
    await etcdctl(clientUrl, "put", "kept", "yes");
    const stopping = Date.now();
    const code = exited(child);
    child.kill("SIGTERM");
    t.is(await code, 0, stderr);
    t.true(Date.now() - stopping < 10_000, `exit took ${Date.now() - stopping} ms`);
    child = start();
    await waitServing(`127.0.0.1:${client}`, child, () => stderr);
    t.is((await etcdctl(clientUrl, "get", "kept", "--print-value-only")).stdout, "yes\n");
    const again = await rangeHeader(`127.0.0.1:${client}`, "kept");
    t.is(again.header["revision"], "2");
  } finally {
    if (child.exitCode === null) {
      const code = exited(child);
      child.kill("SIGTERM");
      await code;
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial("a 3-member cluster serves: a write on one member is read on another", async (t) => {
  const cluster = await startCluster({ kind: "pfsd", size: 3, parentDir: shmOrTmp });
  try {
    const [first, , third] = cluster.members;
    await etcdctl(first!.clientUrl, "put", "shared", "across");
    t.is((await etcdctl(third!.clientUrl, "get", "shared", "--print-value-only")).stdout, "across\n");
    const members = (await etcdctl(cluster.endpoints, "member", "list")).stdout.trim().split("\n");
    t.is(members.length, 3);
    const status = (await etcdctl(cluster.endpoints, "endpoint", "status")).stdout.trim().split("\n");
    t.is(status.filter((line) => line.includes(", true, false,")).length, 1, "exactly one leader");
  } finally {
    await cluster.stop();
  }
});
