// A real single-member etcd 3.4 (/usr/bin/etcd) for differential tests: free loopback ports,
// a temporary data directory, started and awaited until it serves a KV Range, and stopped with
// its directory removed. Only the process this module started is ever killed.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceClientConstructor, credentials, type Client } from "@grpc/grpc-js";
import { loadEtcdProtos } from "../../../pkg/proto/index.js";

/** The etcd binary the tests compare against. */
export const etcdBinary = "/usr/bin/etcd";

/** How long etcd may take to serve its first request. */
const etcdStartMsMax = 20_000;

/** A running etcd. */
export interface EtcdProcess {
  /** host:port of the client URL, for grpc-js. */
  readonly clientAddress: string;
  /** The etcd's stderr so far, for failure messages. */
  log(): string;
  /** Kills etcd (SIGKILL if it ignores SIGTERM) and removes its data directory. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (probed by binding port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Looks up a service constructor such as "etcdserverpb.KV" in the loaded etcd protos. */
export function etcdService(name: string): ServiceClientConstructor {
  let node: unknown = loadEtcdProtos();
  for (const part of name.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`no service ${name}`);
  return node as ServiceClientConstructor;
}

/**
 * Calls a unary method; resolves with the response or rejects with the gRPC error
 * (DEADLINE_EXCEEDED after `deadlineMs`, when given).
 */
export function unary(client: Client, method: string, request: object,
  deadlineMs?: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const call = (client as unknown as Record<string, unknown>)[method];
    if (typeof call !== "function") {
      reject(new Error(`no method ${method}`));
      return;
    }
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    (call as (r: object, o: object, cb: (e: Error | null, v: unknown) => void) => void).call(
      client,
      request,
      options,
      (error, value) => {
        if (error !== null) reject(error);
        else resolve(value);
      },
    );
  });
}

async function waitReady(address: string, child: ChildProcess, log: () => string): Promise<void> {
  const Kv = etcdService("etcdserverpb.KV");
  const client = new Kv(address, credentials.createInsecure());
  const deadline = Date.now() + etcdStartMsMax;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited ${child.exitCode}:\n${log()}`);
      try {
        await unary(client, "Range", { key: Buffer.from("health") });
        return;
      } catch (error: unknown) {
        if (Date.now() > deadline) {
          throw new Error(`etcd not ready: ${String(error)}\n${log()}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.close();
  }
}

/** Starts on other ports when a probed port was taken before etcd bound it (a race). */
const etcdStartAttemptsMax = 3;

/**
 * Starts a single-member etcd on free loopback ports in a fresh temp dir under `parentDir`
 * (default: the OS temp dir; /dev/shm makes etcd's fsyncs free); waits until it serves. A
 * port probed free can be taken by another process before etcd binds it: then etcd is started
 * again on new ports, up to `etcdStartAttemptsMax` times.
 */
export async function startEtcd(parentDir: string = tmpdir()): Promise<EtcdProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(parentDir);
    } catch (error: unknown) {
      const clash = error instanceof Error && error.message.includes("address already in use");
      if (!clash || attempt === etcdStartAttemptsMax) throw error;
    }
  }
}

async function startEtcdOnce(parentDir: string): Promise<EtcdProcess> {
  const dataDir = await mkdtemp(join(parentDir, "pfs-etcd-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(etcdBinary, [
    "--name", "diff", "--data-dir", dataDir,
    "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
    "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `diff=${peerUrl}`, "--initial-cluster-state", "new",
    "--log-level", "warn", "--logger", "zap",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
  });
  const log = (): string => stderr;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(`127.0.0.1:${clientPort}`, child, log);
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  return { clientAddress: `127.0.0.1:${clientPort}`, log, stop };
}
