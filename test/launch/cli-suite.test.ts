// The `pfs` CLI end-to-end suite, run by scripts/launch_test against the cluster it launched
// (a 3-node `pfs deploy local`, or 3 pfsd nodes over a real 3-member etcd with
// --external-etcd; with --tls over TLS). The tests cover repo, commit and branch lifecycles;
// put/get round trips of a file (and a byte range), stdin and a directory (-r, also from the
// root) that come back byte-identical, with -o replacing what was there; every --json output
// is exactly one JSON value; list, glob, inspect, diff, delete and copy file; every error is a
// non-zero exit with one line on stderr and nothing on stdout, and a refused put changes
// nothing; --address wins over PFS_ADDRESS; `pfs sync` (once, watching, and interrupted during
// its first upload, which leaves no half commit). Tests talk to different nodes (every node of
// `pfs cluster status`), so requests are forwarded.
// Method: `node dist/cmd/pfs.js` as a child process, which inherits the launch environment
// (TLS settings among it); seeded random data (seed printed on failure); each test uses its
// own repo so they run concurrently.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import tar from "tar-stream";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import {
  type Run, type RunOptions, oneErrorLine, pfsScript, runPfs,
} from "../e2e/pfs-cli-suite.js";
import { randomBytesFrom as randomBytes } from "../unit/pfs/chunk-fixture.js";
import { launchAddresses, launchPfsClient } from "./launch-env.js";

interface RepoJson { name: string; description: string; created_ms: string }
interface CommitJson { id: string; repo: string; branch: string; state: string; parent: string }
interface BranchJson { name: string; head: string; open: string }
interface FileJson { path: string; type: string; size_bytes: string; hash: string }
interface DiffJson { new_file: FileJson | null; old_file: FileJson | null }

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The suite's state, filled by its `before` hook. */
interface SuiteState {
  /** The pfs API address of every node of the launched cluster. */
  addresses: readonly string[];
  workDir: string;
}

/** Runs `pfs` against node `node` of the cluster (PFS_ADDRESS), or as `options.env` says. */
type Pfs = (node: number, args: readonly string[], options?: RunOptions) => Promise<Run>;

/** The commands of one test, bound to the cluster. */
interface Cli {
  readonly pfs: Pfs;
  readonly addresses: readonly string[];
  readonly workDir: string;
  /** Runs pfs on `node` and requires exit 0 with nothing on stderr; returns stdout. */
  readonly ok: (node: number, args: readonly string[], input?: Buffer) => Promise<string>;
  /** `ok` with --json; the parsed value (stdout must be exactly one JSON value). */
  readonly json: <T>(node: number, args: readonly string[]) => Promise<T>;
}

function cliOf(state: SuiteState): Cli {
  const { addresses } = state;
  const pfs: Pfs = (node, args, options = {}) => {
    const address = addresses[node % addresses.length] ?? "";
    return runPfs(args, { ...options, env: { PFS_ADDRESS: address, ...options.env } });
  };
  const ok = async (node: number, args: readonly string[], input?: Buffer): Promise<string> => {
    const result = await pfs(node, args, input === undefined ? {} : { input });
    if (result.code !== 0 || result.stderr !== "") {
      throw new Error(`pfs ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    }
    return result.stdout;
  };
  const json = async <T>(node: number, args: readonly string[]): Promise<T> => {
    const stdout = await ok(node, [...args, "--json"]);
    // One value and nothing else: one line, and JSON.parse takes the whole of it.
    if (!stdout.endsWith("\n") || stdout.indexOf("\n") !== stdout.length - 1) {
      throw new Error(`pfs ${args.join(" ")} --json printed more than one line: ${stdout}`);
    }
    return JSON.parse(stdout) as T;
  };
  return { pfs, addresses, workDir: state.workDir, ok, json };
}

/** Registers the CLI suite against the launched cluster (its workDir made in `before`). */
function cliSuite(): void {
  const state: SuiteState = { addresses: [], workDir: "" };
  test.before(async () => {
    state.addresses = await launchAddresses();
    state.workDir = await mkdtemp(join(tmpdir(), "pfs-launch-cli-"));
  });
  test.after.always(async () => {
    if (state.workDir !== "") await rm(state.workDir, { recursive: true, force: true });
  });
  const seed = systemSeed();
  const cli = (): Cli => cliOf(state);
  lifecycleTests(cli);
  fileTests(cli, seed);
  errorTests(cli);
  syncTests(cli, seed);
}

cliSuite();

function lifecycleTests(cli: () => Cli): void {
  test("repo lifecycle, --json shapes and one-line errors", async (t) => {
    const { ok, json, pfs } = cli();
    t.is(await ok(0, ["create", "repo", "lifecycle", "-d", "images to label"]), "");
    const repos = await json<RepoJson[]>(1, ["list", "repo"]);
    const repo = repos.find((each) => each.name === "lifecycle");
    t.is(repo?.description, "images to label");
    t.regex(repo?.created_ms ?? "", /^[1-9][0-9]*$/);
    t.is((await json<RepoJson>(2, ["inspect", "repo", "lifecycle"])).name, "lifecycle");
    t.regex(await ok(1, ["list", "repo"]), /^NAME\s+CREATED\s+DESCRIPTION\n(.|\n)*lifecycle/);
    const again = await pfs(2, ["create", "repo", "lifecycle"]);
    t.is(again.code, 1);
    t.is(again.stdout, "");
    t.regex(again.stderr, /^pfs: .*exist.*\n$/i);
    t.is(await ok(0, ["delete", "repo", "lifecycle"]), "");
    const gone = await pfs(1, ["inspect", "repo", "lifecycle", "--json"]);
    t.is(gone.code, 1);
    t.is(gone.stdout, "");
    t.regex(gone.stderr, oneErrorLine);
    const bad = await pfs(0, ["create", "repo", "no/slashes"]);
    t.is(bad.code, 1);
    t.is(bad.stderr, 'pfs: invalid address "no/slashes": the repo name contains "/"; only ' +
      'letters, digits, "_" and "-" are allowed\n');
  });

  test("commits and branches: start, put, finish, inspect, wait, list, branch, delete",
    async (t) => {
      const { ok, json, pfs } = cli();
      await ok(1, ["create", "repo", "history"]);
      const id = (await ok(2, ["start", "commit", "history@master"])).trim();
      t.regex(id, /^[0-9a-f]{32}$/);
      const open = (await json<BranchJson[]>(0, ["list", "branch", "history"]))
        .find((branch) => branch.name === "master");
      t.is(open?.open, id);
      const second = await pfs(1, ["start", "commit", "history@master"]);
      t.is(second.code, 1, "a second open commit on a branch is refused");
      await ok(0, ["put", "file", `history@${id}:/a.txt`, "-f", "-"], Buffer.from("alpha\n"));
      await ok(1, ["finish", "commit", `history@${id}`]);
      const info = await json<CommitJson>(2, ["inspect", "commit", `history@${id}`]);
      t.like(info, { id, repo: "history", branch: "master", state: "FINISHED", parent: "" });
      t.is((await json<CommitJson>(0, ["wait", "commit", `history@${id}`])).state, "FINISHED");
      const commits = await json<CommitJson[]>(1, ["list", "commit", "history@master"]);
      t.deepEqual(commits.map((commit) => commit.id), [id]);
      await ok(2, ["create", "branch", "history@dev", "--head", `history@${id}`]);
      const branches = await json<BranchJson[]>(0, ["list", "branch", "history"]);
      t.is(branches.find((branch) => branch.name === "dev")?.head, id);
      t.is((await json<BranchJson>(1, ["inspect", "branch", "history@dev"])).head, id);
      t.is((await pfs(2, ["get", "file", "history@dev:/a.txt"])).stdout, "alpha\n");
      await ok(0, ["delete", "branch", "history@dev"]);
      t.false((await json<BranchJson[]>(1, ["list", "branch", "history"]))
        .some((branch) => branch.name === "dev"));
      const doomed = (await ok(2, ["start", "commit", "history@master"])).trim();
      await ok(0, ["delete", "commit", `history@${doomed}`]);
      t.deepEqual((await json<CommitJson[]>(1, ["list", "commit", "history@master"]))
        .map((commit) => commit.id), [id]);
    });

  test("subscribe commit streams history then new commits; wait commit blocks until finished",
    async (t) => {
      const { ok, pfs, addresses } = cli();
      await ok(0, ["create", "repo", "follow"]);
      await ok(0, ["put", "file", "follow@master:/a", "-f", "-"], Buffer.from("a"));
      const child = spawn(process.execPath, [pfsScript, "subscribe", "commit", "follow@master",
        "--json", "--address", addresses[1] ?? ""], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
      const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
      // Up to a minute per line: a loaded machine (three launches side by side in npm test)
      // took over 15 s to start the subscriber.
      const lines = async (count: number): Promise<CommitJson[]> => {
        for (let tries = 0; tries < 600 && stdout.split("\n").length <= count; tries++) {
          await new Promise((wake) => setTimeout(wake, 100));
        }
        if (stdout.split("\n").length <= count) {
          throw new Error(`subscribe printed fewer than ${count} line(s) in 60 s: ${stdout}`);
        }
        return stdout.trim().split("\n").map((line) => JSON.parse(line) as CommitJson);
      };
      try {
        t.is((await lines(1)).length, 1);
        const id = (await ok(2, ["start", "commit", "follow@master"])).trim();
        const waiting = pfs(0, ["wait", "commit", `follow@${id}`, "--json"]);
        await ok(1, ["put", "file", `follow@${id}:/b`, "-f", "-"], Buffer.from("b"));
        await ok(2, ["finish", "commit", `follow@${id}`]);
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
}

function fileTests(cli: () => Cli, seed: number): void {
  test(`put and get a file, a byte range and stdin, byte-identical (seed ${seed})`,
    async (t) => {
      const { ok, json, pfs, workDir } = cli();
      const prng = new Prng(seed);
      await ok(0, ["create", "repo", "roundtrip"]);
      const data = randomBytes(prng, 3 * 1024 * 1024 + prng.intBelow(100_000));
      const local = join(workDir, "roundtrip.bin");
      await writeFile(local, data);
      await ok(1, ["put", "file", "roundtrip@master:/data/blob.bin", "-f", local]);
      const out = join(workDir, "roundtrip.out");
      await writeFile(out, "old content to be replaced, longer than nothing");
      await ok(2, ["get", "file", "roundtrip@master:/data/blob.bin", "-o", out]);
      t.true((await readFile(out)).equals(data), `seed ${seed}`);
      const slice = await pfs(0, ["get", "file", "roundtrip@master:/data/blob.bin",
        "--offset", "1000", "--length", "5000"]);
      t.true(slice.stdoutBytes.equals(data.subarray(1000, 6000)), `seed ${seed}`);
      const info = await json<FileJson>(1, ["inspect", "file", "roundtrip@master:/data/blob.bin"]);
      t.like(info, { path: "/data/blob.bin", type: "FILE", size_bytes: String(data.length),
        hash: sha256(data) });
      const stdin = randomBytes(prng, 200_000);
      await ok(2, ["put", "file", "roundtrip@master:/stdin.bin", "-f", "-"], stdin);
      t.true((await pfs(0, ["get", "file", "roundtrip@master:/stdin.bin"])).stdoutBytes
        .equals(stdin));
      await ok(1, ["put", "file", "roundtrip@master:/stdin.bin", "-f", "-", "--append"], stdin);
      t.true((await pfs(2, ["get", "file", "roundtrip@master:/stdin.bin"])).stdoutBytes
        .equals(Buffer.concat([stdin, stdin])));
      t.is((await json<CommitJson[]>(0, ["list", "commit", "roundtrip@master"])).length, 3);
      t.deepEqual((await readdir(workDir)).filter((name) => name.includes(".pfs-")), [],
        "no temporary output left");
    });

  test(`a directory: put -r, get -r (also of /), list, glob, diff, copy, delete (seed ${seed})`,
    async (t) => {
      const { ok, json, pfs, workDir } = cli();
      const prng = new Prng(seed + 1);
      await ok(1, ["create", "repo", "tree"]);
      const source = join(workDir, "tree-source");
      const names = ["a.csv", "b.csv", "sub/c.csv", "sub/deep/d.bin", "sub/e.txt"];
      const contents = new Map<string, Buffer>();
      for (const name of names) {
        contents.set(name, randomBytes(prng, prng.intBelow(300_000)));
        await mkdir(join(source, name, ".."), { recursive: true });
        await writeFile(join(source, name), contents.get(name) ?? Buffer.alloc(0));
      }
      await ok(2, ["put", "file", "tree@master:/in", "-f", source, "-r"]);
      const out = join(workDir, "tree-out");
      await ok(0, ["get", "file", "tree@master:/in", "-r", "-o", out]);
      for (const [name, bytes] of contents) {
        t.true((await readFile(join(out, name))).equals(bytes), `${name}; seed ${seed}`);
      }
      // The root, over an existing directory: it is replaced, stale entries and all.
      const root = join(workDir, "tree-root");
      await mkdir(join(root, "stale"), { recursive: true });
      await writeFile(join(root, "stale", "old.txt"), "old");
      await ok(1, ["get", "file", "tree@master:/", "-r", "-o", root]);
      t.deepEqual(await readdir(root), ["in"]);
      for (const [name, bytes] of contents) {
        t.true((await readFile(join(root, "in", name))).equals(bytes), `/in/${name}`);
      }
      const listed = await json<FileJson[]>(2, ["list", "file", "tree@master:/in"]);
      t.deepEqual(listed.map((file) => file.path), ["/in/a.csv", "/in/b.csv", "/in/sub"]);
      t.is(listed[2]?.type, "DIR");
      const csv = await json<FileJson[]>(0, ["glob", "file", "tree@master:/**.csv"]);
      t.deepEqual(csv.map((file) => file.path), ["/in/a.csv", "/in/b.csv", "/in/sub/c.csv"]);
      await ok(1, ["delete", "file", "tree@master:/in/a.csv"]);
      await ok(2, ["copy", "file", "tree@master:/in/b.csv", "tree@master:/copied.csv"]);
      const diff = await json<DiffJson[]>(0, ["diff", "file", "tree@master:/"]);
      t.deepEqual(diff.map((entry) =>
        [entry.old_file?.path ?? null, entry.new_file?.path ?? null]), [[null, "/copied.csv"]]);
      const copied = await pfs(1, ["get", "file", "tree@master:/copied.csv"]);
      t.true(copied.stdoutBytes.equals(contents.get("b.csv") ?? Buffer.alloc(1)));
      const older = await json<DiffJson[]>(2, ["diff", "file", "tree@master:/", "tree@master^2:/"]);
      t.true(older.some((entry) => entry.old_file?.path === "/in/a.csv" &&
        entry.new_file === null));
      t.regex(await ok(0, ["diff", "file", "tree@master:/"]),
        /^OP\s+PATH\s+SIZE\n\+\s+\/copied\.csv/);
      const noR = await pfs(1, ["get", "file", "tree@master:/in", "-o", join(workDir, "x")]);
      t.is(noR.code, 1);
      t.regex(noR.stderr, /is a directory; get it with -r/);
    });

  test("every --json output is exactly one JSON value, and nothing else", async (t) => {
    const { ok, json } = cli();
    await ok(2, ["create", "repo", "shapes", "-d", "json\nwith a newline"]);
    const started = await json<CommitJson>(0, ["start", "commit", "shapes@master"]);
    await ok(1, ["put", "file", `shapes@${started.id}:/d/x`, "-f", "-"], Buffer.from("x\n"));
    const finished = await json<CommitJson>(2, ["finish", "commit", `shapes@${started.id}`]);
    t.is(finished.state, "FINISHED");
    // json() fails unless stdout is one line that parses whole and stderr is empty.
    const values: unknown[] = [
      await json(0, ["list", "repo"]), await json(1, ["inspect", "repo", "shapes"]),
      await json(2, ["list", "commit", "shapes@master"]),
      await json(0, ["inspect", "commit", "shapes@master"]),
      await json(1, ["list", "branch", "shapes"]),
      await json(2, ["inspect", "branch", "shapes@master"]),
      await json(0, ["list", "file", "shapes@master:/d"]),
      await json(1, ["glob", "file", "shapes@master:/**"]),
      await json(2, ["inspect", "file", "shapes@master:/d/x"]),
      await json(0, ["diff", "file", "shapes@master:/"]),
      await json(1, ["wait", "commit", "shapes@master"]),
      await json(2, ["create", "branch", "shapes@other", "--head", "shapes@master"]),
    ];
    t.is(values.length, 12);
    t.true(Array.isArray(values[0]) && Array.isArray(values[9]));
    t.is((values[1] as RepoJson).description, "json\nwith a newline");
    t.is((values[11] as BranchJson).head, started.id);
  });

  test("a refused --untar (a symlink after good entries) leaves no commit behind", async (t) => {
    const { ok, json, pfs } = cli();
    await ok(0, ["create", "repo", "hostile"]);
    await ok(1, ["put", "file", "hostile@master:/keep", "-f", "-"], Buffer.from("keep"));
    const pack = tar.pack();
    pack.entry({ name: "good.txt" }, "fine");
    pack.entry({ name: "evil", type: "symlink", linkname: "/etc/passwd" });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
    const refused = await pfs(2, ["put", "file", "hostile@master:/x", "-f", "-", "--untar"],
      { input: Buffer.concat(chunks) });
    t.is(refused.code, 1);
    t.is(refused.stdout, "");
    t.regex(refused.stderr, /^pfs: [^\n]*symlink[^\n]*\n$/);
    const commits = await json<CommitJson[]>(0, ["list", "commit", "hostile@master"]);
    t.is(commits.length, 1);
    t.true(commits.every((commit) => commit.state === "FINISHED"));
    const branch = (await json<BranchJson[]>(1, ["list", "branch", "hostile"]))[0];
    t.is(branch?.open, "");
    t.deepEqual((await json<FileJson[]>(2, ["glob", "file", "hostile@master:/**"]))
      .map((file) => file.path), ["/keep"]);
  });
}

function errorTests(cli: () => Cli): void {
  test("every error is a non-zero exit, one line on stderr, nothing on stdout", async (t) => {
    const { ok, json, pfs } = cli();
    await ok(0, ["create", "repo", "refusals"]);
    await ok(1, ["put", "file", "refusals@master:/a", "-f", "-"], Buffer.from("a"));
    const [head] = await json<CommitJson[]>(2, ["list", "commit", "refusals@master"]);
    const finishedId = head?.id ?? "";
    const cases: readonly (readonly string[])[] = [
      ["inspect", "repo", "nosuchrepo"], ["list", "branch", "nosuchrepo"],
      ["get", "file", "nosuchrepo@master:/a"], ["list", "commit", "refusals@nosuchbranch"],
      ["get", "file", "refusals@nosuchbranch:/a"], ["inspect", "branch", "refusals@nobranch"],
      ["inspect", "commit", "refusals@ffffffffffffffffffffffffffffffff"],
      ["get", "file", "refusals@master:/nosuchfile"], ["create", "repo", "refusals"],
      ["get", "file", "refusals@master:/../etc/passwd"], ["list", "file", "refusals@:/"],
      ["put", "file", "refusals@master:/a/../b", "-f", "-"], ["inspect", "repo", "bad/name"],
      ["put", "file", `refusals@${finishedId}:/late`, "-f", "-"],
      ["list", "repo", "--address", "127.0.0.1:1"],
      ["list", "repo", "--deadline-ms", "0"],
      ["get", "file", "refusals@master:/a", "-o", "/nonexistent-pfs-dir/out"],
    ];
    const runs = await Promise.all(cases.map((args, i) =>
      pfs(i, args, { input: Buffer.from("refused bytes") })));
    for (const [i, run] of runs.entries()) {
      const args = (cases[i] ?? []).join(" ");
      t.not(run.code, 0, args);
      t.is(run.stdout, "", args);
      t.regex(run.stderr, oneErrorLine, args);
    }
    t.regex(runs[14]?.stderr ?? "", /^pfs: cannot reach the pfs API at 127\.0\.0\.1:1 /);
    // Nothing changed: the one commit, the one file.
    t.deepEqual((await json<CommitJson[]>(0, ["list", "commit", "refusals@master"]))
      .map((commit) => commit.id), [finishedId]);
    t.deepEqual((await json<FileJson[]>(1, ["glob", "file", "refusals@master:/**"]))
      .map((file) => file.path), ["/a"]);
  });

  test("--address wins over PFS_ADDRESS; either one alone is used", async (t) => {
    const { pfs, addresses } = cli();
    const live = addresses[1] ?? "";
    const dead = "127.0.0.1:1";
    const flagWins = await pfs(0, ["list", "repo", "--json", "--address", live],
      { env: { PFS_ADDRESS: dead } });
    t.is(flagWins.code, 0, flagWins.stderr);
    t.true(Array.isArray(JSON.parse(flagWins.stdout)));
    const flagDead = await pfs(0, ["list", "repo", "--address", dead],
      { env: { PFS_ADDRESS: live } });
    t.is(flagDead.code, 1);
    t.regex(flagDead.stderr, /^pfs: cannot reach the pfs API at 127\.0\.0\.1:1 \(ListRepo\)/);
    const envOnly = await pfs(0, ["list", "repo"], { env: { PFS_ADDRESS: dead } });
    t.regex(envOnly.stderr, /at 127\.0\.0\.1:1 /);
  });

  test("a file put through one node reads the same through every node", async (t) => {
    const { ok, json, addresses } = cli();
    await ok(2, ["create", "repo", "forwarded"]);
    const names = addresses.map((_, node) => `/from-node-${node}.txt`);
    for (const [node, name] of names.entries()) {
      await ok(node, ["put", "file", `forwarded@master:${name}`, "-f", "-"], Buffer.from(name));
    }
    await Promise.all(addresses.map(async (_, node) => {
      const files = await json<FileJson[]>(node, ["glob", "file", "forwarded@master:/*"]);
      t.deepEqual(files.map((file) => file.path), [...names].sort(), `node ${node}`);
      const other = names[(node + 1) % names.length] ?? "";
      t.is(await ok(node, ["get", "file", `forwarded@master:${other}`]), other);
    }));
  });
}

function syncTests(cli: () => Cli, seed: number): void {
  test("pfs sync --once mirrors added, changed and deleted files", async (t) => {
    const { ok, json, pfs, workDir } = cli();
    await ok(0, ["create", "repo", "mirror"]);
    const dir = join(workDir, "mirror");
    await mkdir(join(dir, "sub"), { recursive: true });
    await writeFile(join(dir, "one.txt"), "1");
    await writeFile(join(dir, "sub", "two.txt"), "2");
    t.is((await pfs(1, ["sync", dir, "mirror@master:/m", "--once"])).code, 0);
    const paths = async (): Promise<string[]> =>
      (await json<FileJson[]>(2, ["glob", "file", "mirror@master:/m/**"]))
        .filter((file) => file.type === "FILE").map((file) => file.path);
    t.deepEqual(await paths(), ["/m/one.txt", "/m/sub/two.txt"]);
    await rm(join(dir, "one.txt"));
    await writeFile(join(dir, "sub", "two.txt"), "22");
    await writeFile(join(dir, "three.txt"), "3");
    t.is((await pfs(2, ["sync", dir, "mirror@master:/m", "--once"])).code, 0);
    t.deepEqual(await paths(), ["/m/sub/two.txt", "/m/three.txt"]);
    t.is(await ok(0, ["get", "file", "mirror@master:/m/sub/two.txt"]), "22");
    t.is((await json<CommitJson[]>(1, ["list", "commit", "mirror@master"])).length, 2);
    t.deepEqual((await readdir(dir)).sort(), ["sub", "three.txt"]);
  });

  test("pfs sync watches: each settled burst becomes one commit; SIGINT exits 0", async (t) => {
    const { ok, json, addresses, workDir } = cli();
    await ok(1, ["create", "repo", "watched"]);
    const dir = join(workDir, "watched");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "first.txt"), "first");
    const child = spawn(process.execPath, [pfsScript, "sync", dir, "watched@master",
      "--quiet-ms", "300", "--address", addresses[2] ?? ""], { stdio: ["ignore", "pipe", "pipe"] });
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
        paths = (await json<FileJson[]>(tries, ["glob", "file", "watched@master:/*"]))
          .map((file) => file.path);
        if (paths.length === 2) break;
        await new Promise((wake) => setTimeout(wake, 200));
      }
      t.deepEqual(paths, ["/first.txt", "/second.txt"]);
      t.is(await ok(0, ["get", "file", "watched@master:/first.txt"]), "changed");
      const commits = await json<CommitJson[]>(1, ["list", "commit", "watched@master"]);
      t.true(commits.length >= 2 && commits.every((commit) => commit.state === "FINISHED"));
      child.kill("SIGINT");
      t.is(await exited, 0, stderr);
      const branch = (await json<BranchJson[]>(2, ["list", "branch", "watched"]))[0];
      t.is(branch?.open, "");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test(`pfs sync interrupted during its first upload leaves no half commit (seed ${seed})`,
    async (t) => {
      const { ok, json, addresses, workDir } = cli();
      await ok(0, ["create", "repo", "interrupted"]);
      const dir = join(workDir, "interrupted");
      await mkdir(dir, { recursive: true });
      const prng = new Prng(seed + 2);
      for (let i = 0; i < 4; i++) {
        await writeFile(join(dir, `part-${i}.bin`), randomBytes(prng, 6 * 1024 * 1024));
      }
      const child = spawn(process.execPath, [pfsScript, "sync", dir, "interrupted@master",
        "--once", "--address", addresses[1] ?? ""], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
      const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
      // Watch for the sync's open commit through another node, then interrupt the upload.
      const watcher = await launchPfsClient(addresses[0] ?? "");
      let openId = "";
      try {
        while (openId === "" && child.exitCode === null) {
          const branch = await watcher.inspectBranch("interrupted", "master")
            .catch(() => undefined);
          openId = branch?.open ?? "";
          if (openId === "") await new Promise((wake) => setTimeout(wake, 10));
        }
        child.kill("SIGINT");
        t.is(await exited, 0, stderr);
      } finally {
        watcher.close();
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      t.not(openId, "", `the upload ended before it was seen: ${stderr}`);
      t.regex(stderr, /interrupted; the unfinished commit was deleted/);
      t.deepEqual(await json<CommitJson[]>(2, ["list", "commit", "interrupted@master"]), []);
      const branches = await json<BranchJson[]>(0, ["list", "branch", "interrupted"]);
      t.true(branches.every((branch) => branch.open === "" && branch.head === ""));
      const gone = await cli().pfs(1, ["inspect", "commit", `interrupted@${openId}`]);
      t.is(gone.code, 1);
      t.regex(gone.stderr, oneErrorLine);
    });
}
