// Goal: the two entry points run as built (dist/cmd/*.js): `pfs version` and `--help` print to
// stdout, `--json` prints one JSON value and nothing else, and pfsd refuses a bad flag with one
// line on stderr naming the flag and exit code 2, leaving stdout empty.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { freePort } from "../compat/support/etcd-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(binary: "pfs" | "pfsd", args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`${root}dist/cmd/${binary}.js`, ...args], { cwd: root }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

test("pfs version prints a table, and --json exactly one object", async (t) => {
  const text = await run("pfs", ["version"]);
  t.is(text.code, 0);
  t.regex(text.stdout, /^COMPONENT\s+VERSION\npfs\s+\d+\.\d+\.\d+\n$/);
  const json = await run("pfs", ["version", "--json"]);
  t.is(json.code, 0);
  t.deepEqual(Object.keys(JSON.parse(json.stdout) as object), ["pfs"]);
});

test("pfs --help lists the commands", async (t) => {
  const help = await run("pfs", ["--help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /Usage: pfs/);
  t.regex(help.stdout, /version/);
});

test("pfs with an unknown command fails with a usage error", async (t) => {
  const result = await run("pfs", ["frobnicate"]);
  t.is(result.code, 2);
  t.regex(result.stderr, /unknown command 'frobnicate'/);
});

test("pfsd --help shows etcd's flags with defaults", async (t) => {
  const help = await run("pfsd", ["--help"]);
  t.is(help.code, 0);
  for (const flag of ["--name", "--data-dir", "--listen-client-urls", "--initial-cluster-token", "--pfs-address"]) {
    t.true(help.stdout.includes(flag), flag);
  }
});

test("pfsd refuses a bad flag value with one line naming it", async (t) => {
  const result = await run("pfsd", ["--shards", "0"]);
  t.is(result.code, 2);
  t.is(result.stdout, "");
  t.is(result.stderr.trim().split("\n").length, 1);
  t.regex(result.stderr, /^pfsd: invalid value for --shards: "0"/);
});

test("pfsd logs its configuration as JSON on stderr, never stdout, and SIGTERM exits 0",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-cli-"));
    const [client, peer] = [await freePort(), await freePort()];
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const child = spawn(process.execPath, [`${root}dist/cmd/pfsd.js`, "--name", "n7",
      "--data-dir", join(dir, "n7"), "--listen-client-urls", clientUrl,
      "--advertise-client-urls", clientUrl, "--listen-peer-urls", peerUrl,
      "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", `n7=${peerUrl}`,
      "--log-format", "json"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
    const exited = new Promise<number | null>((resolve) => { child.once("exit", resolve); });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8");
          if (stderr.includes("\n")) resolve();
        });
        void exited.then((code) => { reject(new Error(`pfsd exited ${String(code)}`)); });
      });
      const first = JSON.parse(stderr.split("\n")[0] ?? "") as Record<string, unknown>;
      t.like(first, { node: "n7", component: "pfsd", message: "pfsd configuration" });
      child.kill("SIGTERM");
      t.is(await exited, 0);
      t.is(stdout, "");
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
