// Support for the pipeline end-to-end tests (test/e2e/pps-*.test.ts) and `scripts/bench pps`:
// a real cluster started with `pfs deploy local --detach` in a temporary directory on free
// loopback ports, driven only through the built `pfs` CLI (and the coordination store read
// directly, to see which node runs what). Every wait polls with a deadline and says what it
// last saw when it gives up, because on a loaded 2-core machine everything takes its time.
//
// Invariants: every node a `DeployedCluster` started is stopped by `down()` (deploy local down,
// then SIGKILL of any pid that survives), and by a SIGKILL from a process "exit" handler if
// the test process ends without calling it; the temporary directory is removed by `down()`.
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Etcd3 } from "etcd3";
import { freePortRange } from "../support/port-range.js";
import { type Run, pfsScript, runPfs } from "./pfs-cli-suite.js";

/** How long one `pfs deploy local --detach` may take to serve (generous: a loaded machine). */
const deployWaitMs = 180_000;

/** Attempts at deploying (a probed port may be taken before a node binds it). */
const deployAttemptsMax = 3;

/** Pause between two polls of a wait. */
const pollPauseMs = 500;

/** Deepest directory `readTree` walks: test outputs are shallow. */
const treeDepthMax = 8;

/** A job as `pfs list job --json` shows it (the fields the tests read). */
export interface JobView {
  readonly id: string;
  readonly pipeline: string;
  readonly state: string;
  readonly input_commit: string;
  readonly output_commit: string;
  readonly datums_total: number;
  readonly datums_processed: number;
  readonly datums_skipped: number;
  readonly datums_failed: number;
  readonly error: string;
}

/** A commit as `pfs inspect commit --json` shows it (the fields the tests read). */
export interface CommitView {
  readonly repo: string;
  readonly id: string;
  readonly state: string;
  readonly error: string;
  readonly provenance: readonly string[];
}

/** A pipeline spec as `pfs create pipeline -f` reads it (the issue's JSON shape). */
export interface SpecJson {
  readonly name: string;
  readonly description?: string;
  readonly input: {
    readonly repo: string; readonly glob: string; readonly branch?: string;
    readonly name?: string;
  };
  readonly transform: {
    readonly cmd: readonly string[]; readonly env?: Readonly<Record<string, string>>;
    readonly stdin?: readonly string[];
  };
  readonly parallelism?: number;
  readonly datum_tries?: number;
  readonly datum_timeout?: string | number;
}

/** Options of `deployLocal`. */
export interface DeployOptions {
  /** Nodes (default 3). */
  readonly nodes?: number;
  /** More flags for `pfs deploy local`. */
  readonly extraArgs?: readonly string[];
  /** Told of progress (default: nothing). */
  readonly progress?: (line: string) => void;
}

/** A pause that keeps the process alive (a script may have nothing else pending). */
function sleep(ms: number): Promise<void> {
  return new Promise((wake) => { setTimeout(wake, ms); });
}

/** The `export NAME=VALUE` lines of deploy local's output (values may be single-quoted). */
function exportsOf(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const value = match[2];
    env.set(match[1], value.startsWith("'") && value.endsWith("'") ? value.slice(1, -1) : value);
  }
  return env;
}

/** A cluster started by `pfs deploy local --detach`. */
export class DeployedCluster {
  readonly #killOnExit = (): void => { this.#killAll(); };
  #down = false;

  constructor(
    /** The deploy directory (data, logs, pid files, and the tests' own scratch files). */
    readonly dir: string,
    /** The environment every `pfs` command runs with (PFS_ADDRESS, ETCDCTL_ENDPOINTS …). */
    readonly env: Readonly<Record<string, string>>,
    /** The node names, node1 … nodeN. */
    readonly nodes: readonly string[],
  ) {
    process.once("exit", this.#killOnExit);
  }

  /** Runs `pfs args…` against the cluster. */
  pfs(args: readonly string[], input?: Buffer): Promise<Run> {
    return runPfs(args, { env: this.env, ...(input === undefined ? {} : { input }) });
  }

  /** Runs `pfs args…` and returns its stdout; throws with its stderr when it fails. */
  async pfsOk(args: readonly string[], input?: Buffer): Promise<string> {
    const run = await this.pfs(args, input);
    if (run.code !== 0) {
      throw new Error(`pfs ${args.join(" ")} exited ${run.code}: ${run.stderr.trim()}`);
    }
    return run.stdout;
  }

  /** Runs `pfs args… --json` and parses its one JSON value. */
  async pfsJson<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.pfsOk([...args, "--json"])) as T;
  }

  /** The pid of node `name` (its pid file). */
  pidOf(name: string): number {
    const pid = Number(readFileSync(join(this.dir, `${name}.pid`), "utf8").trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`no pid for ${name}`);
    return pid;
  }

  /** kill -9 of node `name`. */
  kill9(name: string): void {
    process.kill(this.pidOf(name), "SIGKILL");
  }

  /** A client of the cluster's coordination store (the caller closes it). */
  etcd(): Etcd3 {
    const hosts = (this.env["ETCDCTL_ENDPOINTS"] ?? "").split(",").filter((url) => url !== "");
    return new Etcd3({ hosts, defaultCallOptions: () => ({ deadline: Date.now() + 10_000 }) });
  }

  #pids(): number[] {
    const pids: number[] = [];
    for (const name of this.nodes) {
      try {
        pids.push(this.pidOf(name));
      } catch {
        // a node without a pid file is not running
      }
    }
    return pids;
  }

  #killAll(): void {
    for (const pid of this.#pids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** Stops every node and removes the directory (unless `keep`, for a post-mortem). */
  async down(keep = false): Promise<void> {
    if (this.#down) return;
    this.#down = true;
    await runPfs(["deploy", "local", "down", "--dir", this.dir], { env: this.env });
    this.#killAll();
    process.removeListener("exit", this.#killOnExit);
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}

function runDeploy(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [pfsScript, ...args], { timeout: deployWaitMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr, stdoutBytes: Buffer.from(stdout) });
      });
  });
}

/**
 * Starts a cluster with `pfs deploy local --detach` in a new temporary directory: N nodes,
 * client and peer ports from a probed free base, the pfs API ports after them, no metrics.
 * Tries again on new ports when a deploy fails (a port taken between probe and bind).
 */
export async function deployLocal(options: DeployOptions = {}): Promise<DeployedCluster> {
  const nodes = options.nodes ?? 3;
  const progress = options.progress ?? ((): void => undefined);
  let failure = "";
  for (let attempt = 1; attempt <= deployAttemptsMax; attempt += 1) {
    const dir = await mkdtemp(join(tmpdir(), "pfs-pps-"));
    const base = await freePortRange(3 * nodes, attempt * 7_919);
    const args = ["deploy", "local", "--detach", "--dir", dir, "--nodes", String(nodes),
      "--base-port", String(base), "--pfs-base-port", String(base + 2 * nodes),
      "--metrics-base-port", "0", ...(options.extraArgs ?? [])];
    progress(`deploy local: ${nodes} nodes, ports from ${base}, in ${dir}`);
    const run = await runDeploy(args);
    const env = exportsOf(run.stdout);
    const names = Array.from({ length: nodes }, (_, i) => `node${i + 1}`);
    const cluster = new DeployedCluster(dir, Object.fromEntries(env), names);
    if (run.code === 0 && env.has("PFS_ADDRESS")) return cluster;
    failure = `attempt ${attempt} exited ${run.code}: ${run.stderr.trim()}`;
    progress(`deploy local failed (${failure}); trying again`);
    await cluster.down();
  }
  throw new Error(`pfs deploy local did not start: ${failure}`);
}

/**
 * Polls `read` until `accept` holds for its value; then returns that value. After `timeoutMs`
 * throws naming `what` and the last value seen.
 */
export async function waitFor<T>(what: string, read: () => Promise<T>,
  accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError = "";
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error: unknown) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}; last seen: ` +
        `${JSON.stringify(last)}${lastError === "" ? "" : `; last error: ${lastError}`}`);
    }
    await sleep(pollPauseMs);
  }
}

/** The jobs `pfs list job [-p pipeline] --json` shows, newest first. */
export async function listJobs(cluster: DeployedCluster, pipeline?: string):
  Promise<JobView[]> {
  const args = ["list", "job", ...(pipeline === undefined ? [] : ["-p", pipeline])];
  return (await cluster.pfsJson<{ jobs: JobView[] }>(args)).jobs;
}

/** Whether a job's state is final. */
export function jobEnded(job: JobView): boolean {
  return job.state === "success" || job.state === "failure" || job.state === "killed";
}

/** Waits until pipeline `pipeline` has a job of input commit `inputCommit` that ended. */
export async function waitJobOf(cluster: DeployedCluster, pipeline: string,
  inputCommit: string, timeoutMs: number): Promise<JobView> {
  const jobs = await waitFor(`the job of ${pipeline} on ${inputCommit} to end`,
    () => listJobs(cluster, pipeline),
    (list) => list.some((job) => job.input_commit === inputCommit && jobEnded(job)), timeoutMs);
  const job = jobs.find((each) => each.input_commit === inputCommit);
  if (job === undefined) throw new Error(`no job of ${pipeline} on ${inputCommit}`);
  return job;
}

/** Writes `spec` to a file and runs `pfs create pipeline -f` with it. */
export async function createPipeline(cluster: DeployedCluster, spec: SpecJson): Promise<void> {
  const file = join(cluster.dir, `pipeline-${spec.name}.json`);
  await writeFile(file, JSON.stringify(spec, null, 2));
  await cluster.pfsOk(["create", "pipeline", "-f", file]);
}

/** The commit `pfs inspect commit repo@ref --json` shows. */
export function inspectCommit(cluster: DeployedCluster, repoAtRef: string):
  Promise<CommitView> {
  return cluster.pfsJson<CommitView>(["inspect", "commit", repoAtRef]);
}

let scratchMade = 0;

/** A new empty scratch directory inside the cluster's directory. */
async function scratch(cluster: DeployedCluster, what: string): Promise<string> {
  scratchMade += 1;
  const dir = join(cluster.dir, "scratch", `${what}-${scratchMade}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Puts `files` (name → content, names without "/") into `repo@master` in one commit (`pfs put
 * file -r` of a local directory) and returns that commit as "repo@id".
 */
export async function putFiles(cluster: DeployedCluster, repo: string,
  files: Readonly<Record<string, string>>): Promise<string> {
  const dir = await scratch(cluster, "put");
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await cluster.pfsOk(["put", "file", "-r", `${repo}@master:/`, "-f", dir]);
  const head = await inspectCommit(cluster, `${repo}@master`);
  if (head.state !== "FINISHED") throw new Error(`${repo}@master is ${head.state} after a put`);
  return `${repo}@${head.id}`;
}

function walk(root: string, dir: string, depth: number, into: Record<string, string>): void {
  if (depth > treeDepthMax) throw new Error(`${dir} is deeper than ${treeDepthMax}`);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(root, path, depth + 1, into);
    else into[`/${relative(root, path)}`] = readFileSync(path, "utf8");
  }
}

/** Every file of `repo@ref` ("/path" → content), through `pfs get file -r`. */
export async function readTree(cluster: DeployedCluster, repoAtRef: string):
  Promise<Record<string, string>> {
  const out = join(await scratch(cluster, "get"), "tree");
  await cluster.pfsOk(["get", "file", "-r", `${repoAtRef}:/`, "-o", out]);
  const files: Record<string, string> = {};
  walk(out, out, 0, files);
  return files;
}
