// Goal: scripts/launch_test fails honestly and always tears down. (1) A run whose tests
// include one that fails on purpose (PFS_LAUNCH_TEST_FILES, test/launch/fixtures/) exits
// non-zero, ends with `1 passed, 1 failed`, prints the tail of every node log, keeps the dir
// with --keep and says where, and leaves no node running: every pid of D/launch-pids is gone
// and no pid file is left. (2) A cluster that cannot start (--external-etcd with an `etcd` on
// PATH that exits at once) is retried, then reported as `0 passed, 1 failed` with a non-zero
// exit and nothing left running. (3) Ctrl-C (SIGINT to the script's process group, as a
// terminal sends it) once the cluster is up stops every node and removes the dir.
// Method: the real script with --no-build (the plain run built dist/ already), each run with
// its own TMPDIR so its cluster dir can be found and removed.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const script = join(root, "scripts", "launch_test");

interface ScriptRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs launch_test in its own process group; `onStderr` sees the stderr so far. */
function runScript(args: readonly string[], env: Readonly<Record<string, string>>,
  onStderr?: (stderr: string, pid: number) => void): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(script, ["--no-build", ...args], { cwd: root, detached: true,
      env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (onStderr !== undefined && child.pid !== undefined) onStderr(stderr, child.pid);
    });
    child.once("error", reject);
    child.once("close", (code, signal) => { resolve({ code, signal, stdout, stderr }); });
  });
}

/** True while `pid` runs (an exited, unreaped zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** The pids of a launch ledger (`PID NAME` lines). */
function ledgerPids(text: string): number[] {
  return text.split("\n").filter((line) => line !== "").map((line) => Number(line.split(" ")[0]));
}

/** The one pfs-launch-* dir launch_test made under `parent`. */
async function clusterDir(parent: string): Promise<string> {
  const dirs = (await readdir(parent)).filter((name) => name.startsWith("pfs-launch-"));
  if (dirs.length !== 1) throw new Error(`expected one cluster dir in ${parent}: ${dirs.join()}`);
  return join(parent, dirs[0] ?? "");
}

test("a failing test: non-zero exit, the summary, log tails, --keep, nothing left running",
  async (t) => {
    const parent = await mkdtemp(join(tmpdir(), "launch-script-fail-"));
    try {
      const run = await runScript(["--keep"], { TMPDIR: parent,
        PFS_LAUNCH_TEST_FILES: "test/launch/fixtures/fails-on-purpose.ts" });
      t.not(run.code, 0, run.stderr);
      t.is(run.stdout.trimEnd().split("\n").at(-1), "1 passed, 1 failed", run.stdout);
      t.regex(run.stdout, /not ok \d+ - fails on purpose/);
      const dir = await clusterDir(parent);
      t.true(run.stderr.includes(`kept the cluster's data and logs in ${dir}`), run.stderr);
      for (const node of ["node1", "node2", "node3"]) {
        t.true(run.stderr.includes(`---- last 40 lines of ${join(dir, `${node}.log`)}`), node);
      }
      const pids = ledgerPids(await readFile(join(dir, "launch-pids"), "utf8"));
      t.is(pids.length, 3);
      t.deepEqual(pids.filter(alive), [], "every node of the cluster stopped");
      t.deepEqual((await readdir(dir)).filter((name) => name.endsWith(".pid")), []);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

test("a cluster that cannot start: retried, 0 passed, 1 failed, nothing left running",
  async (t) => {
    const parent = await mkdtemp(join(tmpdir(), "launch-script-nostart-"));
    try {
      const bin = join(parent, "bin");
      await mkdir(bin);
      await writeFile(join(bin, "etcd"), "#!/bin/sh\necho 'etcd: refusing to start' >&2\nexit 1\n");
      await chmod(join(bin, "etcd"), 0o755);
      const run = await runScript(["--external-etcd"], { TMPDIR: parent,
        PATH: `${bin}:${process.env["PATH"] ?? ""}` });
      t.not(run.code, 0);
      t.is(run.stdout.trimEnd().split("\n").at(-1), "0 passed, 1 failed", run.stdout);
      t.regex(run.stderr, /attempt 3 of 3 failed: etcd\d \(pid \d+\) exited/);
      t.regex(run.stderr, /the cluster did not start/);
      t.regex(run.stderr, /etcd: refusing to start/, "the log tail shows why");
      t.deepEqual((await readdir(parent)).filter((name) => name.startsWith("pfs-launch-")), [],
        "the dir is removed without --keep");
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

test("Ctrl-C once the cluster is up: every node stops and the dir is removed", async (t) => {
  const parent = await mkdtemp(join(tmpdir(), "launch-script-sigint-"));
  try {
    let pids: number[] = [];
    let sent = false;
    const run = await runScript([], { TMPDIR: parent }, (stderr, pid) => {
      if (sent || !stderr.includes("cluster ready")) return;
      sent = true;
      void clusterDir(parent).then((dir) => readFile(join(dir, "launch-pids"), "utf8"))
        .then((text) => { pids = ledgerPids(text); })
        .finally(() => { process.kill(-pid, "SIGINT"); });
    });
    t.true(sent, run.stderr);
    t.not(run.code, 0, run.stderr);
    t.is(pids.length, 3, run.stderr);
    t.deepEqual(pids.filter(alive), [], "every node of the cluster stopped");
    t.deepEqual((await readdir(parent)).filter((name) => name.startsWith("pfs-launch-")), []);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
