// Joining pfsd processes for the pfsd-join*.test.ts files: a pfsd started with --join on
// free loopback ports, in a data directory under a given root, at log level info so the test
// can read what it decided. Only processes started here are ever signalled, and any still
// alive when the test process exits are killed.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { Etcd3, type IOptions } from "etcd3";
import { credentials } from "@grpc/grpc-js";
import { etcdService, freePort, unary } from "../compat/support/etcd-process.js";
import { pfsdScript } from "../support/member-cluster.js";

/** How long a joiner gets to exit after SIGTERM before SIGKILL. */
const joinerStopMsMax = 10_000;

const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

/** How a joiner process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One pfsd started with --join (or restarted without it). */
export class Joiner {
  #child: ChildProcess | undefined;
  #exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  #stderr = "";

  private constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    readonly joinUrls: string,
    readonly extraArgs: readonly string[],
  ) {}

  /** A joiner of the cluster at `joinUrls`; `clientScheme` https for a cluster with client
   * TLS (give the TLS flags in `extraArgs`). */
  static async create(name: string, root: string, joinUrls: string,
    extraArgs: readonly string[] = [], clientScheme: "http" | "https" = "http"):
    Promise<Joiner> {
    return new Joiner(name, `${clientScheme}://127.0.0.1:${await freePort()}`,
      `http://127.0.0.1:${await freePort()}`, join(root, name), joinUrls, extraArgs);
  }

  /** pfsd's command-line arguments, with --join unless `withJoin` is false. */
  args(withJoin: boolean): string[] {
    return [
      "--name", this.name, "--data-dir", this.dataDir,
      "--listen-client-urls", this.clientUrl, "--advertise-client-urls", this.clientUrl,
      "--listen-peer-urls", this.peerUrl, "--initial-advertise-peer-urls", this.peerUrl,
      "--log-level", "info", "--log-format", "json",
      ...(withJoin ? ["--join", this.joinUrls] : []), ...this.extraArgs,
    ];
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** stdout and stderr so far (the last 200,000 characters). */
  log(): string {
    return this.#stderr;
  }

  start(withJoin = true): void {
    this.#stderr += `\n--- start (join: ${String(withJoin)}) ---\n`;
    const child = spawn(process.execPath, [pfsdScript, ...this.args(withJoin)],
      { stdio: ["ignore", "pipe", "pipe"] });
    liveChildren.add(child);
    const append = (chunk: Buffer): void => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-200_000);
    };
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        liveChildren.delete(child);
        resolve({ code, signal });
      });
    });
    this.#child = child;
  }

  /** Resolves once the process exits (at once if it never ran). */
  exited(): Promise<Exit> {
    return this.#exited;
  }

  /** SIGTERM, then SIGKILL after joinerStopMsMax. */
  async stop(): Promise<Exit> {
    const child = this.#child;
    if (child === undefined || !this.running) return this.#exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), joinerStopMsMax);
    const exit = await this.#exited;
    clearTimeout(timer);
    return exit;
  }
}

/** A member as the tests compare them. */
export interface MemberRow {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly isLearner: boolean;
}

/** The member list through `hosts` (one fresh client per call, with `tls` when given). */
export async function memberRows(hosts: readonly string[],
  tls?: IOptions["credentials"]): Promise<MemberRow[]> {
  const client = new Etcd3({
    hosts: [...hosts], defaultCallOptions: { deadline: Date.now() + 5_000 },
    ...(tls === undefined ? {} : { credentials: tls }),
  });
  try {
    const response = await client.cluster.memberList({});
    return response.members.map((member) => ({
      id: member.ID, name: member.name, peerUrls: member.peerURLs,
      isLearner: member.isLearner,
    }));
  } finally {
    client.close();
  }
}

/** A Range of `key` on the member at `clientUrl`, serializable or linearizable. */
export async function rangeOn(clientUrl: string, key: string,
  serializable: boolean): Promise<{ count: string }> {
  const Kv = etcdService("etcdserverpb.KV");
  const client = new Kv(new URL(clientUrl).host, credentials.createInsecure());
  try {
    return await unary(client, "Range", { key: Buffer.from(key), serializable }, 5_000) as
      { count: string };
  } finally {
    client.close();
  }
}

/** Polls `check` every 200 ms until it holds; throws `describe()` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number,
  describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a member may be restarting; try again until the deadline
    }
    if (Date.now() > deadline) throw new Error(`not in ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
