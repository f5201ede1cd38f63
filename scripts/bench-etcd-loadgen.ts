// The Go load generator of `scripts/bench etcd` (scripts/loadgen/etcd-loadgen): built once
// per source version into .bench/loadgen/<hash>/ (GOPATH mode, against etcd 3.4.23's clientv3
// from Debian's golang-etcd-server-dev in /usr/share/gocode), then run as a child process
// whose stderr progress is relayed and whose one stdout JSON line is parsed. Every child
// started here is tracked so that an interrupted benchmark can kill it.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";

/** Where Debian installs the Go sources of etcd 3.4.23 and its dependencies. */
const debianGopath = "/usr/share/gocode";
/** The generator's source folder and package name, relative to the repository root. */
const sourceFolder = "scripts/loadgen/etcd-loadgen";
const packageName = "etcd-loadgen";
/** Hex digits of the source hash that name a build folder. */
const hashDigits = 16;
/** How long the generator may take to report after SIGTERM. */
const loadgenStopMsMax = 15_000;
/** How long a first build may take on a loaded 2-core machine. */
const buildMsMax = 600_000;

/** One run's JSON line (see the Result struct in scripts/loadgen/etcd-loadgen/main.go). */
export interface LoadgenResult {
  readonly workload: string;
  readonly clients: number;
  readonly connections: number;
  readonly valueBytes: number;
  readonly seconds: number;
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly casMisses?: number;
  readonly writes?: number;
  readonly watchEventsMissing?: number;
  readonly gapsUnixMs?: readonly (readonly [number, number])[];
  /** Generator CPU seconds (user+system) in the measured window. */
  readonly cpuSeconds: number;
  /** Generator CPU seconds over its whole life, and that life's wall-clock length. */
  readonly cpuSecondsTotal: number;
  readonly wallSecondsTotal: number;
}

const live = new Set<ChildProcess>();

/** SIGKILLs every child still running (used on interrupt and on the way out). */
export function killChildren(): void {
  for (const child of live) child.kill("SIGKILL");
}

/** Spawns a tracked child with stdout captured and stderr relayed with a prefix. */
export function spawnTracked(command: string, args: readonly string[], label: string,
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}):
  { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  live.add(child);
  let stdout = "";
  let stderrTail = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    stderrTail = (stderrTail + text).slice(-4_000);
    for (const line of text.split("\n")) {
      if (line.trim() !== "") process.stderr.write(`  ${label}| ${line}\n`);
    }
  });
  const done = new Promise<Exit>((resolve) => {
    child.once("error", (error) => {
      live.delete(child);
      resolve({ code: null, stdout, stderr: `${stderrTail}\n${error.message}` });
    });
    child.once("close", (code) => {
      live.delete(child);
      resolve({ code, stdout, stderr: stderrTail });
    });
  });
  return { child, done };
}

/** How a child ended: exit code (null if signalled), its stdout, the tail of its stderr. */
export interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function sourceHash(repoRoot: string): Promise<{ hash: string; files: string[] }> {
  const folder = join(repoRoot, sourceFolder);
  const files = (await readdir(folder)).filter((name) => name.endsWith(".go")).sort();
  if (files.length === 0) throw new Error(`no Go sources in ${folder}`);
  const hash = createHash("sha256");
  for (const name of files) {
    hash.update(`${name}\n`);
    hash.update(await readFile(join(folder, name)));
  }
  const version = await spawnTracked("go", ["version"], "go").done;
  hash.update(version.stdout);
  return { hash: hash.digest("hex").slice(0, hashDigits), files };
}

/**
 * Returns the path of the generator binary, building it first unless a binary of the same
 * sources (and Go version) is already cached under .bench/loadgen/.
 */
export async function ensureLoadgen(repoRoot: string): Promise<string> {
  const { hash, files } = await sourceHash(repoRoot);
  const root = join(repoRoot, ".bench", "loadgen");
  const binary = join(root, hash, packageName);
  if (existsSync(binary)) return binary;
  process.stderr.write(`bench-etcd: building the Go load generator (${hash}), once\n`);
  await mkdir(root, { recursive: true });
  for (const entry of await readdir(root)) {
    if (entry !== "go-build" && entry !== hash) {
      await rm(join(root, entry), { recursive: true, force: true }); // an older source version
    }
  }
  const gopath = join(root, hash, "gopath");
  const packageDir = join(gopath, "src", packageName);
  await rm(packageDir, { recursive: true, force: true });
  await mkdir(packageDir, { recursive: true });
  for (const name of files) {
    await copyFile(join(repoRoot, sourceFolder, name), join(packageDir, name));
  }
  const env = {
    ...process.env, GO111MODULE: "off", GOFLAGS: "", GOPATH: `${gopath}:${debianGopath}`,
    GOCACHE: join(root, "go-build"),
  };
  const output = `${binary}.partial`;
  const build = spawnTracked("go", ["build", "-o", output, "."], "go build",
    { env, cwd: packageDir });
  const timer = setTimeout(() => build.child.kill("SIGKILL"), buildMsMax);
  const exit = await build.done;
  clearTimeout(timer);
  if (exit.code !== 0) throw new Error(`go build failed (${exit.code}):\n${exit.stderr}`);
  await rename(output, binary);
  return binary;
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Parses and checks the generator's JSON line. */
export function parseLoadgenResult(line: string): LoadgenResult {
  const value: unknown = JSON.parse(line);
  if (typeof value !== "object" || value === null) throw new Error(`not a result: ${line}`);
  const record = value as Record<string, unknown>;
  for (const field of ["ops", "opsPerSecond", "p50Ms", "p99Ms", "maxMs", "errors",
    "cpuSeconds", "cpuSecondsTotal", "wallSecondsTotal"]) {
    if (!isNumber(record[field])) throw new Error(`result field ${field} missing: ${line}`);
  }
  if (!Array.isArray(record["errorSamples"])) throw new Error(`no errorSamples: ${line}`);
  return value as LoadgenResult;
}

/** A running generator: its result once it exits, and a way to end it early (SIGTERM). */
export interface LoadgenRun {
  readonly result: Promise<LoadgenResult>;
  stop(): void;
}

/**
 * Starts the generator with `args` (its own flags); rejects with its stderr if it fails.
 * Past `deadlineMs` it gets SIGTERM (it then reports what it measured), and SIGKILL
 * loadgenStopMsMax later.
 */
export function startLoadgen(binary: string, args: readonly string[], label: string,
  deadlineMs?: number): LoadgenRun {
  const { child, done } = spawnTracked(binary, args, label);
  const timers = deadlineMs === undefined ? [] : [
    setTimeout(() => child.kill("SIGTERM"), deadlineMs),
    setTimeout(() => child.kill("SIGKILL"), deadlineMs + loadgenStopMsMax),
  ];
  const result = done.then((exit) => {
    for (const timer of timers) clearTimeout(timer);
    const line = exit.stdout.trim().split("\n").pop() ?? "";
    if (exit.code !== 0 || line === "") {
      throw new Error(`etcd-loadgen ${args.join(" ")} exited ${exit.code}: ${exit.stderr}`);
    }
    return parseLoadgenResult(line);
  });
  return { result, stop: () => child.kill("SIGTERM") };
}
