// Launches and controls a cluster of raft-test-node processes on loopback (used by the e2e
// tests and scripts/bench-raft.ts): start, kill -9, restart on the same data directory,
// and a small HTTP client for the nodes' API. Every port is chosen by the OS.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const nodeScript = fileURLToPath(new URL("./raft-test-node.js", import.meta.url));
/** Extra node flags for every member, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const nodeFlags = (process.env["PFS_TEST_NODE_FLAGS"] ?? "").split(" ").filter((f) => f !== "");

/** What GET /status answers. */
export interface NodeStatus {
  readonly id: string;
  readonly leader: string;
  readonly role: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly snapshotIndex: number;
  readonly length: number;
  readonly checksum: string;
  readonly syncCount: number;
  readonly persistedEntryCount: number;
}

/** The outcome of one proposal. */
export type ProposeOutcome =
  | { readonly ok: true; readonly length: number }
  | { readonly ok: false; readonly code: string };

interface Running {
  readonly process: ChildProcess;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly exited: Promise<unknown>;
}

/** Options of `RaftCluster.start`. */
export interface RaftClusterOptions {
  readonly size: number;
  /** Parent of each member's data directory. */
  readonly root: string;
  readonly tickMs: number;
  readonly snapshotEntries: number;
}

/** A cluster of member processes; member ids are 1..size. */
export class RaftCluster {
  readonly #options: RaftClusterOptions;
  readonly #running = new Map<number, Running>();
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 512 });

  private constructor(options: RaftClusterOptions) {
    this.#options = options;
  }

  static async start(options: RaftClusterOptions): Promise<RaftCluster> {
    const cluster = new RaftCluster(options);
    for (const id of cluster.ids) await cluster.#launch(id);
    cluster.#announceAll();
    return cluster;
  }

  get ids(): number[] {
    return Array.from({ length: this.#options.size }, (_, i) => i + 1);
  }

  isAlive(id: number): boolean {
    return this.#running.has(id);
  }

  /** kill -9 (or `signal`), and wait for the process to be gone. */
  async kill(id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const running = this.#running.get(id);
    if (running === undefined) return;
    this.#running.delete(id);
    running.process.kill(signal);
    await running.exited;
  }

  /** Starts a killed member again on its data directory and tells everyone its address. */
  async restart(id: number): Promise<void> {
    await this.#launch(id);
    this.#announceAll();
  }

  /** Kills every member: SIGKILL, or SIGTERM (a clean close) when `graceful`. */
  async stop(graceful = false): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill(id, graceful ? "SIGTERM" : "SIGKILL")));
    this.#agent.destroy();
  }

  async status(id: number): Promise<NodeStatus | undefined> {
    try {
      const response = await this.#fetch(id, "/status", {});
      return response?.ok === true ? (await response.json()) as NodeStatus : undefined;
    } catch {
      return undefined;
    }
  }

  async items(id: number): Promise<string[]> {
    const response = await this.#fetch(id, "/items", {});
    if (response?.ok !== true) throw new Error(`member ${id} did not list its items`);
    return (await response.json()) as string[];
  }

  /**
   * POST /propose over a keep-alive node:http agent (cheaper than fetch, so a benchmark
   * measures the members rather than its own client).
   */
  async propose(id: number, payload: Uint8Array, timeoutMs = 10_000): Promise<ProposeOutcome> {
    const running = this.#running.get(id);
    if (running === undefined) return { ok: false, code: "DOWN" };
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>(
        (resolve, reject) => {
          const request = httpRequest({
            host: "127.0.0.1", port: running.clientPort, path: "/propose", method: "POST",
            agent: this.#agent, timeout: timeoutMs,
            headers: { "content-length": payload.length },
          }, (response) => {
            let text = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => { text += chunk; });
            response.on("end", () => { resolve({ status: response.statusCode ?? 0, body: text }); });
            response.on("error", reject);
          });
          request.on("timeout", () => { request.destroy(new Error("TimeoutError")); });
          request.on("error", reject);
          request.end(payload);
        });
      const parsed = JSON.parse(body) as { length?: number; code?: string };
      if (status === 200 && typeof parsed.length === "number") {
        return { ok: true, length: parsed.length };
      }
      return { ok: false, code: parsed.code ?? `HTTP_${status}` };
    } catch (error) {
      return { ok: false, code: error instanceof Error ? error.message : "ERROR" };
    }
  }

  /** The member every live member names as leader, when they agree and it is alive. */
  async agreedLeader(): Promise<number | undefined> {
    const live = this.ids.filter((id) => this.isAlive(id));
    const statuses = await Promise.all(live.map((id) => this.status(id)));
    const leaders = new Set(statuses.map((s) => s?.leader ?? "none"));
    if (leaders.size !== 1) return undefined;
    const leader = Number([...leaders][0]);
    const leaderStatus = statuses[live.indexOf(leader)];
    return leaderStatus?.role === "leader" ? leader : undefined;
  }

  async #fetch(id: number, path: string, init: RequestInit): Promise<Response | undefined> {
    const running = this.#running.get(id);
    if (running === undefined) return undefined;
    return fetch(`http://127.0.0.1:${running.clientPort}${path}`, init);
  }

  async #launch(id: number): Promise<void> {
    const child = spawn(process.execPath, [...nodeFlags, nodeScript,
      "--id", String(id), "--members", this.ids.join(","),
      "--data", join(this.#options.root, `member-${id}`),
      "--tick-ms", String(this.#options.tickMs),
      "--snapshot-entries", String(this.#options.snapshotEntries),
      "--seed", String(id * 104_729 + this.#running.size),
    ], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = once(child, "exit");
    const lines = createInterface({ input: child.stdout });
    const first: unknown[] = await Promise.race([once(lines, "line"), exited.then(() => [])]);
    const line = first[0];
    if (typeof line !== "string") throw new Error(`member ${id} exited before it was ready`);
    const ready = JSON.parse(line) as { peerPort: number; clientPort: number };
    this.#running.set(id, {
      process: child, peerPort: ready.peerPort, clientPort: ready.clientPort, exited,
    });
  }

  /** Sends every live member the address of every other live member. */
  #announceAll(): void {
    const lines = [...this.#running].map(([id, r]) => `peer ${id} 127.0.0.1:${r.peerPort}\n`);
    for (const running of this.#running.values()) {
      for (const line of lines) running.process.stdin?.write(line);
    }
  }
}
