// A cluster of real member processes on loopback: either etcd 3.4.23 (/usr/bin/etcd) or pfsd
// (dist/cmd/pfsd.js). pfsd takes etcd's own flags, so both kinds get the very same command
// line; only etcd's logger flag differs. Every port is free (probed), every data directory is
// fresh, and only processes started here are ever signalled. Members can be killed (-9),
// stopped (SIGSTOP), continued, and restarted with their original command line.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { etcdBinary, etcdService, freePort, unary } from "../compat/support/etcd-process.js";

/** Which server the members run. */
export type MemberKind = "etcd" | "pfsd";

/** The pfsd entry point, next to this file in dist/. */
export const pfsdScript = fileURLToPath(new URL("../../cmd/pfsd.js", import.meta.url));

/** How long a member may take to serve its first linearizable read. */
const memberStartMsMax = 30_000;
/** How long a member gets to exit after SIGTERM before SIGKILL. */
const memberStopMsMax = 10_000;
/**
 * Tries at starting a cluster on fresh ports when one was taken between the probe and the
 * member's bind (another test process got it): probed ports are free, not reserved.
 */
const clusterStartAttemptsMax = 3;

/** A member lost a probed port to another process; the cluster is retried on new ports. */
class PortClashError extends Error {}

/** Whether a member's log says a listen failed on a taken address. */
function portClashed(log: string): boolean {
  return /address already in use|EADDRINUSE/i.test(log);
}

/** Client TLS for every member (PEM file paths); clients must then use https and the CA. */
export interface ClusterTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCertAuth: boolean;
}

export interface ClusterOptions {
  readonly kind: MemberKind;
  /** Members (default 1). */
  readonly size?: number;
  /** Parent of the data directories (default the OS temp dir; /dev/shm makes fsync free). */
  readonly parentDir?: string;
  readonly clientTls?: ClusterTls;
  /** Peer TLS uses the same files when set. */
  readonly peerTls?: ClusterTls;
  /** Extra flags for every member (etcd's flag names; pfsd takes them too). */
  readonly extraArgs?: readonly string[];
  /** Host of every URL (default 127.0.0.1). */
  readonly host?: string;
  /** Cluster token (default etcd's "etcd-cluster"). */
  readonly token?: string;
}

/** One member process. */
export interface ClusterMember {
  readonly name: string;
  readonly clientUrl: string;
  /** host:port of the client URL, for grpc-js and etcd3. */
  readonly clientAddress: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The full command line: executable first. */
  readonly command: readonly string[];
  readonly running: boolean;
  readonly pid: number | undefined;
  /** stderr so far (the last 50,000 characters), for failure messages. */
  log(): string;
  /** SIGTERM, then SIGKILL after memberStopMsMax; resolves with how long the exit took. */
  stop(): Promise<number>;
  kill9(): Promise<void>;
  sigstop(): void;
  sigcont(): void;
  /** Starts again with the very same command line (data directory kept). */
  restart(): Promise<void>;
  /** Resolves once this member serves a linearizable Range. */
  waitServing(timeoutMs?: number): Promise<void>;
}

export interface MemberCluster {
  readonly kind: MemberKind;
  readonly members: readonly ClusterMember[];
  /** Comma-separated client URLs, for etcdctl --endpoints. */
  readonly endpoints: string;
  /** gRPC credentials matching the cluster's client TLS (insecure without TLS). */
  credentials(): ChannelCredentials;
  /** Stops every member and removes the data directories. */
  stop(): Promise<void>;
}

interface Ports {
  readonly client: number;
  readonly peer: number;
}

function memberArgs(options: ClusterOptions, name: string, dataDir: string, urls: {
  client: string; peer: string; initialCluster: string;
}): string[] {
  const args = [
    "--name", name, "--data-dir", dataDir,
    "--listen-client-urls", urls.client, "--advertise-client-urls", urls.client,
    "--listen-peer-urls", urls.peer, "--initial-advertise-peer-urls", urls.peer,
    "--initial-cluster", urls.initialCluster, "--initial-cluster-state", "new",
    "--initial-cluster-token", options.token ?? "etcd-cluster",
    "--log-level", "warn",
  ];
  const tls = options.clientTls;
  if (tls !== undefined) {
    args.push("--cert-file", tls.certFile, "--key-file", tls.keyFile,
      "--trusted-ca-file", tls.caFile);
    if (tls.clientCertAuth) args.push("--client-cert-auth");
  }
  const peerTls = options.peerTls;
  if (peerTls !== undefined) {
    args.push("--peer-cert-file", peerTls.certFile, "--peer-key-file", peerTls.keyFile,
      "--peer-trusted-ca-file", peerTls.caFile);
    if (peerTls.clientCertAuth) args.push("--peer-client-cert-auth");
  }
  if (options.kind === "etcd") args.push("--logger", "zap");
  args.push(...(options.extraArgs ?? []));
  return args;
}

function clusterCredentials(options: ClusterOptions): ChannelCredentials {
  const tls = options.clientTls;
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(readFileSync(tls.caFile), readFileSync(tls.keyFile),
    readFileSync(tls.certFile));
}

/** Every member process alive in this test process; killed if the process exits first
 * (an ava timeout skips the test's own cleanup). */
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

class MemberProcess implements ClusterMember {
  #child: ChildProcess | undefined;
  #stderr = "";
  readonly command: readonly string[];

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly clientAddress: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    command: readonly string[],
    readonly grpcCredentials: () => ChannelCredentials,
  ) {
    this.command = command;
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  log(): string {
    return this.#stderr;
  }

  /**
   * Throws PortClashError unless the server answering on our client port lists our peer URL:
   * a member that lost its port to another test's server exits, but until it does, that
   * other server answers in its place.
   */
  async #checkIdentity(deadline: number): Promise<void> {
    const Cluster = etcdService("etcdserverpb.Cluster");
    const client = new Cluster(this.clientAddress, this.grpcCredentials());
    try {
      const response = await unary(client, "MemberList", {},
        Math.min(5_000, Math.max(1, deadline - Date.now()))) as
        { members?: { peerURLs?: string[] }[] };
      const ours = (response.members ?? []).some((member) =>
        (member.peerURLs ?? []).includes(this.peerUrl));
      if (!ours) {
        throw new PortClashError(`${this.name}: ${this.clientAddress} is served by another ` +
          "cluster (its member list lacks our peer URL)");
      }
    } finally {
      client.close();
    }
  }

  spawn(): void {
    const [executable, ...args] = this.command;
    if (executable === undefined) throw new Error("empty command line");
    const child = spawn(executable, args, { stdio: ["ignore", "ignore", "pipe"] });
    liveChildren.add(child);
    child.once("exit", () => { liveChildren.delete(child); });
    child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-50_000);
    });
    this.#child = child;
  }

  async #signalAndWait(signal: NodeJS.Signals, graceMs: number): Promise<number> {
    const child = this.#child;
    if (child === undefined || !this.running) return 0;
    const started = Date.now();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGCONT");
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    return Date.now() - started;
  }

  stop(): Promise<number> {
    return this.#signalAndWait("SIGTERM", memberStopMsMax);
  }

  async kill9(): Promise<void> {
    await this.#signalAndWait("SIGKILL", memberStopMsMax);
  }

  sigstop(): void {
    if (this.running) this.#child?.kill("SIGSTOP");
  }

  sigcont(): void {
    if (this.running) this.#child?.kill("SIGCONT");
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.#stderr += "\n--- restarted ---\n";
    this.spawn();
    await Promise.resolve();
  }

  async waitServing(timeoutMs: number = memberStartMsMax): Promise<void> {
    const Kv = etcdService("etcdserverpb.KV");
    const client = new Kv(this.clientAddress, this.grpcCredentials());
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (!this.running) {
          const message = `${this.name} exited:\n${this.log()}`;
          throw portClashed(this.log()) ? new PortClashError(message) : new Error(message);
        }
        try {
          await unary(client, "Range", { key: Buffer.from("health") },
            Math.min(5_000, Math.max(1, deadline - Date.now())));
          await this.#checkIdentity(deadline);
          return;
        } catch (error: unknown) {
          if (error instanceof PortClashError) throw error;
          if (Date.now() > deadline) {
            throw new Error(`${this.name} not serving: ${String(error)}\n${this.log()}`,
              { cause: error });
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      client.close();
    }
  }
}

/** Starts `size` members of `kind` on free loopback ports; resolves once all serve. */
export async function startCluster(options: ClusterOptions): Promise<MemberCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (error: unknown) {
      if (!(error instanceof PortClashError) || attempt >= clusterStartAttemptsMax) throw error;
    }
  }
}

async function startClusterOnce(options: ClusterOptions): Promise<MemberCluster> {
  const size = options.size ?? 1;
  const host = options.host ?? "127.0.0.1";
  const scheme = options.clientTls === undefined ? "http" : "https";
  const peerScheme = options.peerTls === undefined ? "http" : "https";
  const root = await mkdtemp(join(options.parentDir ?? tmpdir(), `pfs-${options.kind}-`));
  const ports: Ports[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = ports
    .map((port, i) => `${names[i] ?? ""}=${peerScheme}://${host}:${port.peer}`).join(",");
  const grpcCredentials = (): ChannelCredentials => clusterCredentials(options);
  const members = ports.map((port, i) => {
    const name = names[i] ?? "";
    const dataDir = join(root, name);
    const client = `${scheme}://${host}:${port.client}`;
    const peer = `${peerScheme}://${host}:${port.peer}`;
    const args = memberArgs(options, name, dataDir, { client, peer, initialCluster });
    const command = options.kind === "etcd"
      ? [etcdBinary, ...args]
      : [process.execPath, pfsdScript, ...args];
    return new MemberProcess(name, client, `${host}:${port.client}`, peer, dataDir, command,
      grpcCredentials);
  });
  for (const member of members) member.spawn();
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((member) => member.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((member) => member.waitServing()));
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  return {
    kind: options.kind,
    members,
    endpoints: members.map((member) => member.clientUrl).join(","),
    credentials: grpcCredentials,
    stop,
  };
}
