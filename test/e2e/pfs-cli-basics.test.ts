// Goal: the `pfs` CLI end to end against a real 3-node `pfs deploy local --detach` cluster on
// free ports: repo, commit and branch lifecycles; put/get round trips of a file (and a byte
// range), stdin and a directory (-r) that come back byte-identical; --json shapes; list, glob,
// inspect, diff, delete and copy file; every error is a non-zero exit with one line on stderr
// and nothing on stdout, and a refused put leaves no commit behind; `pfs sync --once` mirrors a
// directory (added, changed and deleted files). Method: `node dist/cmd/pfs.js` as a child
// process with PFS_ADDRESS from deploy's output; seeded random data (seed printed on failure);
// each test uses its own repo so they run concurrently; the cluster is stopped and its
// directory removed afterwards.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import tar from "tar-stream";
import { freePortRange } from "../support/port-range.js";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { randomBytesFrom as randomBytes } from "../unit/pfs/chunk-fixture.js";

const pfsScript = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));
const seed = systemSeed();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

let address = "";
let clusterDir = "";
let workDir = "";

/** Runs `pfs args…` with PFS_ADDRESS set, feeding `input` to stdin. */
function pfs(args: readonly string[], input?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [pfsScript, ...args], {
      env: { ...process.env, PFS_ADDRESS: address }, stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? 1, stdout: stdoutBytes.toString("utf8"), stdoutBytes,
        stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/** Runs pfs and requires exit 0; returns stdout. */
async function ok(args: readonly string[], input?: Buffer): Promise<string> {
  const result = await pfs(args, input);
  if (result.code !== 0) {
    throw new Error(`pfs ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

async function json<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(await ok([...args, "--json"])) as T;
}

test.before(async () => {
  clusterDir = await mkdtemp(join(tmpdir(), "pfs-cli-cluster-"));
  workDir = await mkdtemp(join(tmpdir(), "pfs-cli-work-"));
  const base = await freePortRange(9, 17);
  const up = await new Promise<Run>((resolve) => {
    execFile(process.execPath, [pfsScript, "deploy", "local", "--detach", "--dir", clusterDir,
      "--base-port", String(base), "--pfs-base-port", String(base + 6), "--shards", "4"],
    { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : 1, stdout, stderr, stdoutBytes: Buffer.from(stdout) });
    });
  });
  const match = /^export PFS_ADDRESS=(\S+)$/m.exec(up.stdout);
  if (up.code !== 0 || match?.[1] === undefined) {
    throw new Error(`deploy local failed: ${up.stderr}`);
  }
  address = match[1];
});

test.after.always(async () => {
  await new Promise((resolve) => {
    execFile(process.execPath, [pfsScript, "deploy", "local", "down", "--dir", clusterDir],
      () => { resolve(undefined); });
  });
  await rm(clusterDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface RepoJson { name: string; description: string; created_ms: string }
interface CommitJson { id: string; repo: string; branch: string; state: string; parent: string }
interface BranchJson { name: string; head: string; open: string }
interface FileJson { path: string; type: string; size_bytes: string; hash: string }
interface DiffJson { new_file: FileJson | null; old_file: FileJson | null }

test.serial("repo lifecycle, --json shapes and one-line errors", async (t) => {
  t.is(await ok(["create", "repo", "lifecycle", "-d", "images to label"]), "");
  const repos = await json<RepoJson[]>(["list", "repo"]);
  const repo = repos.find((each) => each.name === "lifecycle");
  t.is(repo?.description, "images to label");
  t.regex(repo?.created_ms ?? "", /^[1-9][0-9]*$/);
  t.is((await json<RepoJson>(["inspect", "repo", "lifecycle"])).name, "lifecycle");
  t.regex(await ok(["list", "repo"]), /^NAME\s+CREATED\s+DESCRIPTION\n(.|\n)*lifecycle/);
  const again = await pfs(["create", "repo", "lifecycle"]);
  t.is(again.code, 1);
  t.is(again.stdout, "");
  t.regex(again.stderr, /^pfs: .*exist.*\n$/i);
  t.is(await ok(["delete", "repo", "lifecycle"]), "");
  const gone = await pfs(["inspect", "repo", "lifecycle", "--json"]);
  t.is(gone.code, 1);
  t.is(gone.stdout, "");
  t.regex(gone.stderr, /^pfs: [^\n]*\n$/);
  const bad = await pfs(["create", "repo", "no/slashes"]);
  t.is(bad.code, 1);
  t.is(bad.stderr, 'pfs: invalid address "no/slashes": the repo name contains "/"; only ' +
    'letters, digits, "_" and "-" are allowed\n');
});

test("commits and branches: start, put, finish, inspect, wait, list, branch, delete",
  async (t) => {
    await ok(["create", "repo", "history"]);
    const id = (await ok(["start", "commit", "history@master"])).trim();
    t.regex(id, /^[0-9a-f]{32}$/);
    const open = (await json<BranchJson[]>(["list", "branch", "history"]))
      .find((branch) => branch.name === "master");
    t.is(open?.open, id);
    const second = await pfs(["start", "commit", "history@master"]);
    t.is(second.code, 1, "a second open commit on a branch is refused");
    await ok(["put", "file", `history@${id}:/a.txt`, "-f", "-"], Buffer.from("alpha\n"));
    await ok(["finish", "commit", `history@${id}`]);
    const info = await json<CommitJson>(["inspect", "commit", `history@${id}`]);
    t.like(info, { id, repo: "history", branch: "master", state: "FINISHED", parent: "" });
    t.is((await json<CommitJson>(["wait", "commit", `history@${id}`])).state, "FINISHED");
    const commits = await json<CommitJson[]>(["list", "commit", "history@master"]);
    t.deepEqual(commits.map((commit) => commit.id), [id]);
    await ok(["create", "branch", "history@dev", "--head", `history@${id}`]);
    const branches = await json<BranchJson[]>(["list", "branch", "history"]);
    t.is(branches.find((branch) => branch.name === "dev")?.head, id);
    t.is((await pfs(["get", "file", "history@dev:/a.txt"])).stdout, "alpha\n");
    await ok(["delete", "branch", "history@dev"]);
    t.false((await json<BranchJson[]>(["list", "branch", "history"]))
      .some((branch) => branch.name === "dev"));
    const doomed = (await ok(["start", "commit", "history@master"])).trim();
    await ok(["delete", "commit", `history@${doomed}`]);
    t.deepEqual((await json<CommitJson[]>(["list", "commit", "history@master"]))
      .map((commit) => commit.id), [id]);
    const missing = await pfs(["inspect", "commit", "history@ffffffffffffffffffffffffffffffff"]);
    t.is(missing.code, 1);
    t.regex(missing.stderr, /^pfs: [^\n]+\n$/);
  });

test(`put and get a file, a byte range and stdin, byte-identical (seed ${seed})`, async (t) => {
  const prng = new Prng(seed);
  await ok(["create", "repo", "roundtrip"]);
  const data = randomBytes(prng, 3 * 1024 * 1024 + prng.intBelow(100_000));
  const local = join(workDir, "roundtrip.bin");
  await writeFile(local, data);
  await ok(["put", "file", "roundtrip@master:/data/blob.bin", "-f", local]);
  const out = join(workDir, "roundtrip.out");
  await writeFile(out, "old content to be replaced");
  await ok(["get", "file", "roundtrip@master:/data/blob.bin", "-o", out]);
  t.true((await readFile(out)).equals(data), `seed ${seed}`);
  const slice = await pfs(["get", "file", "roundtrip@master:/data/blob.bin",
    "--offset", "1000", "--length", "5000"]);
  t.true(slice.stdoutBytes.equals(data.subarray(1000, 6000)), `seed ${seed}`);
  const info = await json<FileJson>(["inspect", "file", "roundtrip@master:/data/blob.bin"]);
  t.like(info, { path: "/data/blob.bin", type: "FILE", size_bytes: String(data.length),
    hash: sha256(data) });
  const stdin = randomBytes(prng, 200_000);
  await ok(["put", "file", "roundtrip@master:/stdin.bin", "-f", "-"], stdin);
  t.true((await pfs(["get", "file", "roundtrip@master:/stdin.bin"])).stdoutBytes.equals(stdin));
  await ok(["put", "file", "roundtrip@master:/stdin.bin", "-f", "-", "--append"], stdin);
  t.true((await pfs(["get", "file", "roundtrip@master:/stdin.bin"])).stdoutBytes
    .equals(Buffer.concat([stdin, stdin])));
  t.is((await json<CommitJson[]>(["list", "commit", "roundtrip@master"])).length, 3);
});

test(`a directory: put -r, get -r, list, glob, diff, copy, delete (seed ${seed})`,
  async (t) => {
    const prng = new Prng(seed + 1);
    await ok(["create", "repo", "tree"]);
    const source = join(workDir, "tree-source");
    const names = ["a.csv", "b.csv", "sub/c.csv", "sub/deep/d.bin", "sub/e.txt"];
    const contents = new Map<string, Buffer>();
    for (const name of names) {
      contents.set(name, randomBytes(prng, prng.intBelow(300_000)));
      await mkdir(join(source, name, ".."), { recursive: true });
      await writeFile(join(source, name), contents.get(name) ?? Buffer.alloc(0));
    }
    await ok(["put", "file", "tree@master:/in", "-f", source, "-r"]);
    const out = join(workDir, "tree-out");
    await ok(["get", "file", "tree@master:/in", "-r", "-o", out]);
    for (const [name, bytes] of contents) {
      t.true((await readFile(join(out, name))).equals(bytes), `${name}; seed ${seed}`);
    }
    const listed = await json<FileJson[]>(["list", "file", "tree@master:/in"]);
    t.deepEqual(listed.map((file) => file.path), ["/in/a.csv", "/in/b.csv", "/in/sub"]);
    t.is(listed[2]?.type, "DIR");
    const csv = await json<FileJson[]>(["glob", "file", "tree@master:/**.csv"]);
    t.deepEqual(csv.map((file) => file.path), ["/in/a.csv", "/in/b.csv", "/in/sub/c.csv"]);
    await ok(["delete", "file", "tree@master:/in/a.csv"]);
    await ok(["copy", "file", "tree@master:/in/b.csv", "tree@master:/copied.csv"]);
    const diff = await json<DiffJson[]>(["diff", "file", "tree@master:/"]);
    t.deepEqual(diff.map((entry) => [entry.old_file?.path ?? null, entry.new_file?.path ?? null]),
      [[null, "/copied.csv"]]);
    const copied = await pfs(["get", "file", "tree@master:/copied.csv"]);
    t.true(copied.stdoutBytes.equals(contents.get("b.csv") ?? Buffer.alloc(1)));
    const older = await json<DiffJson[]>(["diff", "file", "tree@master:/", "tree@master^2:/"]);
    t.true(older.some((entry) => entry.old_file?.path === "/in/a.csv" && entry.new_file === null));
    t.regex(await ok(["diff", "file", "tree@master:/"]), /^OP\s+PATH\s+SIZE\n\+\s+\/copied\.csv/);
    const noR = await pfs(["get", "file", "tree@master:/in", "-o", join(workDir, "x")]);
    t.is(noR.code, 1);
    t.regex(noR.stderr, /is a directory; get it with -r/);
  });

test("a refused --untar (a symlink after good entries) leaves no commit behind", async (t) => {
  await ok(["create", "repo", "hostile"]);
  await ok(["put", "file", "hostile@master:/keep", "-f", "-"], Buffer.from("keep"));
  const pack = tar.pack();
  pack.entry({ name: "good.txt" }, "fine");
  pack.entry({ name: "evil", type: "symlink", linkname: "/etc/passwd" });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  const refused = await pfs(["put", "file", "hostile@master:/x", "-f", "-", "--untar"],
    Buffer.concat(chunks));
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^pfs: [^\n]*symlink[^\n]*\n$/);
  const commits = await json<CommitJson[]>(["list", "commit", "hostile@master"]);
  t.is(commits.length, 1);
  t.true(commits.every((commit) => commit.state === "FINISHED"));
  const branch = (await json<BranchJson[]>(["list", "branch", "hostile"]))[0];
  t.is(branch?.open, "");
  t.deepEqual((await json<FileJson[]>(["glob", "file", "hostile@master:/**"]))
    .map((file) => file.path), ["/keep"]);
});

test("pfs sync --once mirrors added, changed and deleted files", async (t) => {
  await ok(["create", "repo", "mirror"]);
  const dir = join(workDir, "mirror");
  await mkdir(join(dir, "sub"), { recursive: true });
  await writeFile(join(dir, "one.txt"), "1");
  await writeFile(join(dir, "sub", "two.txt"), "2");
  await ok(["sync", dir, "mirror@master:/m", "--once"]);
  const paths = async (): Promise<string[]> =>
    (await json<FileJson[]>(["glob", "file", "mirror@master:/m/**"]))
      .filter((file) => file.type === "FILE").map((file) => file.path);
  t.deepEqual(await paths(), ["/m/one.txt", "/m/sub/two.txt"]);
  await rm(join(dir, "one.txt"));
  await writeFile(join(dir, "sub", "two.txt"), "22");
  await writeFile(join(dir, "three.txt"), "3");
  await ok(["sync", dir, "mirror@master:/m", "--once"]);
  t.deepEqual(await paths(), ["/m/sub/two.txt", "/m/three.txt"]);
  t.is((await pfs(["get", "file", "mirror@master:/m/sub/two.txt"])).stdout, "22");
  t.is((await json<CommitJson[]>(["list", "commit", "mirror@master"])).length, 2);
  t.deepEqual((await readdir(dir)).sort(), ["sub", "three.txt"]);
});

test("pfs sync watches: each settled burst becomes one commit; SIGINT exits 0", async (t) => {
  await ok(["create", "repo", "watched"]);
  const dir = join(workDir, "watched");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "first.txt"), "first");
  const child = spawn(process.execPath, [pfsScript, "sync", dir, "watched@master",
    "--quiet-ms", "300"], { env: { ...process.env, PFS_ADDRESS: address },
    stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const waitFor = (pattern: RegExp): Promise<void> => new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(stderr)) resolve();
      else if (child.exitCode !== null) reject(new Error(`sync exited: ${stderr}`));
      else setTimeout(check, 50);
    };
    check();
  });
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
  const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
  try {
    await waitFor(/synced /);
    // Give the watcher a moment to be ready before the burst.
    await new Promise((wake) => setTimeout(wake, 1_000));
    await writeFile(join(dir, "second.txt"), "second");
    await writeFile(join(dir, "first.txt"), "changed");
    await waitFor(/committed \d+ change\(s\)/);
    // A loaded machine may split the two writes into two bursts: wait for both to land.
    let paths: string[] = [];
    for (let tries = 0; tries < 50; tries++) {
      paths = (await json<FileJson[]>(["glob", "file", "watched@master:/*"]))
        .map((file) => file.path);
      if (paths.length === 2) break;
      await new Promise((wake) => setTimeout(wake, 200));
    }
    t.deepEqual(paths, ["/first.txt", "/second.txt"]);
    t.is((await pfs(["get", "file", "watched@master:/first.txt"])).stdout, "changed");
    const commits = await json<CommitJson[]>(["list", "commit", "watched@master"]);
    t.true(commits.length >= 2 && commits.every((commit) => commit.state === "FINISHED"));
    child.kill("SIGINT");
    t.is(await exited, 0, stderr);
    const branch = (await json<BranchJson[]>(["list", "branch", "watched"]))[0];
    t.is(branch?.open, "");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("subscribe commit streams history then new commits; wait commit blocks until finished",
  async (t) => {
    await ok(["create", "repo", "follow"]);
    await ok(["put", "file", "follow@master:/a", "-f", "-"], Buffer.from("a"));
    const child = spawn(process.execPath, [pfsScript, "subscribe", "commit", "follow@master",
      "--json"], { env: { ...process.env, PFS_ADDRESS: address },
      stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
    const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
    const lines = async (count: number): Promise<CommitJson[]> => {
      for (let tries = 0; tries < 150 && stdout.split("\n").length <= count; tries++) {
        await new Promise((wake) => setTimeout(wake, 100));
      }
      return stdout.trim().split("\n").map((line) => JSON.parse(line) as CommitJson);
    };
    try {
      t.is((await lines(1)).length, 1);
      const id = (await ok(["start", "commit", "follow@master"])).trim();
      const waiting = pfs(["wait", "commit", `follow@${id}`, "--json"]);
      await ok(["put", "file", `follow@${id}:/b`, "-f", "-"], Buffer.from("b"));
      await ok(["finish", "commit", `follow@${id}`]);
      const waited = await waiting;
      t.is(waited.code, 0, waited.stderr);
      t.like(JSON.parse(waited.stdout) as CommitJson, { id, state: "FINISHED" });
      const streamed = await lines(2);
      t.deepEqual(streamed.map((commit) => commit.state), ["FINISHED", "FINISHED"]);
      t.is(streamed[1]?.id, id);
      child.kill("SIGINT");
      t.is(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
