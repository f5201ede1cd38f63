// Goal: `pfs deploy local --tls` gives a 3-node cluster that is TLS everywhere and usable with
// nothing but the export lines it prints: the real etcdctl puts and gets over https with the
// printed client certificate; the pfs CLI creates a repo, puts a file through one node and
// gets it byte-identical through another (the put forwarded over TLS between nodes);
// `pfs cluster status` shows every node online; every line of every node's log is JSON (Node's
// TLS-to-an-IP warning included). A plaintext CLI and a CLI without a client
// certificate are refused promptly with an error that names the missing TLS flag. Deploying
// again without --tls keeps TLS (deploy.json) and the same CA.
// Method: real processes on free ports in a temp dir; `deploy local down` and removal after.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { freePortRange } from "../support/port-range.js";
import { runPfs } from "./pfs-cli-suite.js";

const nodes = 3;

/** Runs `command args…` to its end with `env` added; resolves with its code and output. */
function run(command: string, args: readonly string[], env: Readonly<Record<string, string>>):
  Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      });
  });
}

/** The NAME=VALUE pairs of `export NAME=VALUE` lines; throws on any other line. */
function parseExports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split("\n").filter((each) => each !== "")) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=([^\s'"]+)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new Error(`not an export line: ${JSON.stringify(line)}`);
    }
    env[match[1]] = match[2];
  }
  return env;
}

/** Runs `pfs deploy local …` and resolves with the exports it printed. */
async function deploy(args: readonly string[]): Promise<Record<string, string>> {
  const up = await run(process.execPath, [join(import.meta.dirname, "../../cmd/pfs.js"),
    "deploy", "local", "--detach", ...args], {});
  if (up.code !== 0) throw new Error(`deploy local failed (${up.code}): ${up.stderr}`);
  return parseExports(up.stdout);
}

interface NodeStatusJson { readonly id: string; readonly online: boolean }

test("deploy local --tls: etcdctl and pfs over TLS, plaintext and cert-less clients refused",
  async (t) => {
    const seed = systemSeed();
    t.log(`seed ${seed}`);
    const dir = await mkdtemp(join(tmpdir(), "pfs-tls-deploy-"));
    const base = await freePortRange(4 * nodes, 31);
    const flags = ["--dir", dir, "--nodes", String(nodes), "--base-port", String(base),
      "--pfs-base-port", String(base + 2 * nodes), "--metrics-base-port", String(base + 3 * nodes),
      "--shards", "4"];
    t.teardown(async () => {
      await run(process.execPath, [join(import.meta.dirname, "../../cmd/pfs.js"), "deploy",
        "local", "down", "--dir", dir], {});
      await rm(dir, { recursive: true, force: true });
    });
    const env = await deploy([...flags, "--tls"]);
    t.is(env["PFS_ADDRESS"], `127.0.0.1:${base + 2 * nodes}`);
    t.regex(env["ETCDCTL_ENDPOINTS"] ?? "", /^https:\/\/127\.0\.0\.1:\d+(,https:\/\/[^,]+){2}$/);
    for (const name of ["PFS_CACERT", "PFS_CERT", "PFS_KEY", "ETCDCTL_CACERT", "ETCDCTL_CERT",
      "ETCDCTL_KEY"]) {
      t.true((env[name] ?? "").startsWith(join(dir, "tls")), `${name}: ${env[name] ?? ""}`);
    }
    const settings = JSON.parse(await readFile(join(dir, "deploy.json"), "utf8")) as
      { tls?: unknown };
    t.is(settings.tls, true);

    // etcdctl with the printed certificates; without a client certificate it is refused.
    const put = await run("etcdctl", ["put", "tls-key", "tls-value"], env);
    t.is(put.code, 0, put.stderr);
    const got = await run("etcdctl", ["get", "tls-key", "--print-value-only"], env);
    t.is(got.stdout, "tls-value\n", got.stderr);
    const certless = await run("etcdctl", ["get", "tls-key", "--dial-timeout", "2s",
      "--command-timeout", "3s"], { ...env, ETCDCTL_CERT: "", ETCDCTL_KEY: "" });
    t.not(certless.code, 0);

    // pfs: put through node 1, get through node 3, byte-identical.
    const prng = new Prng(seed);
    const data = Buffer.from(Array.from({ length: 300_000 }, () => prng.intBelow(256)));
    t.is((await runPfs(["create", "repo", "secure"], { env })).code, 0);
    const putFile = await runPfs(["put", "file", "secure@master:/data.bin", "-f", "-"],
      { env, input: data });
    t.is(putFile.code, 0, putFile.stderr);
    const third = `127.0.0.1:${base + 2 * nodes + 2}`;
    const getFile = await runPfs(["get", "file", "secure@master:/data.bin", "--address", third],
      { env });
    t.is(getFile.code, 0, getFile.stderr);
    t.true(getFile.stdoutBytes.equals(data), `seed ${seed}: bytes differ`);
    const status = await runPfs(["cluster", "status", "--json"], { env });
    t.is(status.code, 0, status.stderr);
    const statusNodes = (JSON.parse(status.stdout) as { nodes: NodeStatusJson[] }).nodes;
    t.deepEqual(statusNodes.map((node) => [node.id, node.online]).sort(),
      [["node1", true], ["node2", true], ["node3", true]]);
    // The nodes dialled each other by IP over TLS (the forwarded put): Node's DEP0123 warning
    // became a log line like any other, so every line of every node's log is one JSON object.
    for (let i = 1; i <= nodes; i++) {
      const lines = (await readFile(join(dir, `node${i}.log`), "utf8")).split("\n")
        .filter((line) => line !== "");
      t.true(lines.length > 0);
      const free = lines.filter((line) => !line.startsWith("{"));
      t.deepEqual(free, [], `node${i}.log has lines that are not JSON`);
    }

    // Refusals: a clear error naming the TLS flag, non-zero, no output, within the deadline.
    const noTls = { ...env, PFS_CACERT: "", PFS_CERT: "", PFS_KEY: "" };
    const plaintext = await runPfs(["list", "repo", "--deadline-ms", "5000"], { env: noTls });
    t.not(plaintext.code, 0);
    t.is(plaintext.stdout, "");
    t.regex(plaintext.stderr, /^pfs: cannot reach [^\n]*TLS[^\n]*--cacert[^\n]*\n$/);
    const noCert = await runPfs(["list", "repo", "--deadline-ms", "5000"],
      { env: { ...env, PFS_CERT: "", PFS_KEY: "" } });
    t.not(noCert.code, 0);
    t.regex(noCert.stderr, /^pfs: [^\n]*client certificate[^\n]*--cert and --key[^\n]*\n$/);

    // Deploying again without --tls (the nodes already run): deploy.json keeps TLS, the
    // certificates are reused, and the exports are the TLS ones again.
    const caBefore = await readFile(join(dir, "tls", "ca.pem"));
    const again = await deploy(flags);
    t.deepEqual(again, env);
    t.true((await readFile(join(dir, "tls", "ca.pem"))).equals(caBefore));
    const listed = await runPfs(["list", "repo", "--json"], { env: again });
    t.is(listed.code, 0, listed.stderr);
    t.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((repo) => repo.name),
      ["secure"]);
  });
