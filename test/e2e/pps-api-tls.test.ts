// Goal: pipelines work on a pfsd whose pfs API serves TLS with --client-cert-auth: pps.API
// answers the CLI over TLS (and refuses a plaintext one), and the node's pps master and worker,
// which dial the node's own pfs API with its certificate, run a job to success.
// Method: one real pfsd (embedded etcd, client TLS with client-cert-auth) with certificates
// from openssl in a temp dir; the pfs CLI as a child process with PFS_CACERT/PFS_CERT/PFS_KEY;
// the job polled with a generous bound. Everything removed afterwards.
import { readFile } from "node:fs/promises";
import test from "ava";
import { Etcd3 } from "etcd3";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { type TlsCerts, makeTlsCerts } from "../support/tls-certs.js";
import { type Run, runPfs } from "./pfs-cli-suite.js";

// The etcd3 client dials 127.0.0.1 over TLS, which makes Node warn (DEP0123) on stderr.
process.noDeprecation = true;

let certs: TlsCerts;
let cluster: MemberCluster;
let env: Record<string, string>;

/** The node's pfs address, from its registration (read over TLS). */
async function pfsAddress(): Promise<string> {
  const etcd = new Etcd3({ hosts: cluster.endpoints.split(","), credentials: {
    rootCertificate: await readFile(certs.caFile),
    certChain: await readFile(certs.clientCertFile),
    privateKey: await readFile(certs.clientKeyFile),
  } });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const nodes = Object.values(await etcd.getAll().prefix("/pfs/nodes/").strings());
      const first = nodes[0];
      if (first !== undefined) return (JSON.parse(first) as { address: string }).address;
      if (Date.now() > deadline) throw new Error("the node never registered");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    etcd.close();
  }
}

test.before(async () => {
  certs = await makeTlsCerts();
  cluster = await startCluster({ kind: "pfsd", size: 1,
    clientTls: { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile,
      clientCertAuth: true },
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "2"] });
  env = { PFS_ADDRESS: await pfsAddress(), PFS_CACERT: certs.caFile,
    PFS_CERT: certs.clientCertFile, PFS_KEY: certs.clientKeyFile };
});

test.after.always(async () => {
  await cluster.stop();
  await certs.cleanup();
});

function pfs(args: readonly string[], input?: string): Promise<Run> {
  return runPfs(args, { env, ...(input === undefined ? {} : { input: Buffer.from(input) }) });
}

async function ok(args: readonly string[], input?: string): Promise<string> {
  const run = await pfs(args, input);
  if (run.code !== 0) throw new Error(`pfs ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

test("a pipeline runs to success on a TLS node; a plaintext CLI is refused", async (t) => {
  await ok(["create", "repo", "in"]);
  await ok(["put", "file", "in@master:/x", "-f", "-"], "abc");
  await ok(["create", "pipeline", "-f", "-"], "name: upper\ninput: {repo: in, glob: /*}\n" +
    "transform: {cmd: [sh, -c, 'tr a-z A-Z < \"$PFS_IN\"/in/x > \"$PFS_OUT\"/x']}\n");
  const deadline = Date.now() + 120_000;
  let state = "";
  let output = "";
  while (Date.now() < deadline && !["success", "failure", "killed"].includes(state)) {
    const { jobs } = JSON.parse(await ok(["list", "job", "-p", "upper", "--json"])) as
      { jobs: { state: string; output_commit: string }[] };
    state = jobs[0]?.state ?? "";
    output = jobs[0]?.output_commit ?? "";
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  t.is(state, "success");
  t.is(await ok(["get", "file", `${output}:/x`]), "ABC");
  const plain = await runPfs(["list", "pipeline"], { env: { PFS_ADDRESS: env["PFS_ADDRESS"] ??
    "", PFS_CACERT: "", PFS_CERT: "", PFS_KEY: "" } });
  t.is(plain.code, 1);
  t.regex(plain.stderr, /^pfs: [^\n]+\n$/);
});
