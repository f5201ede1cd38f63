// Goal: pfsd start-up hygiene — an etcd-only member (no --pfs-address) never loads pkg/pfs
// (but its data dir lock, a leaf module),
// while one with --pfs-address does (so the check can tell); and with client TLS (--cert-file,
// --key-file, --trusted-ca-file, --client-cert-auth) the pfs node's client of the embedded
// member uses the same TLS, so pfs starts, registers and serves — its pfs API over TLS too
// (same flags), refusing a plaintext client.
// Method: real pfsd processes; Node's module hooks (NODE_OPTIONS=--import) append every module
// URL a member loads to a file; throwaway certificates from test/support/tls-certs.ts.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import test from "ava";
import { credentials, status } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { startCluster } from "../support/member-cluster.js";
import { makeTlsCerts } from "../support/tls-certs.js";
import { PfsClient, pfsAddresses } from "./pfs-api-support.js";

const hooks = `import { appendFileSync } from "node:fs";
export async function load(url, context, nextLoad) {
  const file = process.env.PFS_LOAD_LOG;
  if (file !== undefined) appendFileSync(file, url + "\\n");
  return nextLoad(url, context);
}
`;

/** The module URLs a 1-member pfsd with `extraArgs` loads while starting and serving. */
async function modulesLoaded(dir: string, name: string, extraArgs: readonly string[]):
  Promise<string> {
  const log = join(dir, `${name}.log`);
  await writeFile(log, "");
  process.env["PFS_LOAD_LOG"] = log;
  const cluster = await startCluster({ kind: "pfsd", size: 1, extraArgs });
  try {
    if (extraArgs.includes("--pfs-address")) await pfsAddresses([cluster.endpoints], 1);
  } finally {
    await cluster.stop();
  }
  return readFile(log, "utf8");
}

test.serial("an etcd-only pfsd does not load pkg/pfs; with --pfs-address it does", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-load-"));
  try {
    await writeFile(join(dir, "hooks.mjs"), hooks);
    await writeFile(join(dir, "register.mjs"), `import { register } from "node:module";
register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});
`);
    process.env["NODE_OPTIONS"] = `--import=${pathToFileURL(join(dir, "register.mjs")).href}`;
    const etcdOnly = await modulesLoaded(dir, "etcd-only", []);
    t.true(etcdOnly.includes("/pkg/etcdserver/"), "the hooks saw the member's modules");
    // Two exceptions, both with node: and pkg/common imports only: the data dir lock (every
    // member takes it, so a pfs node never runs on a data dir an etcd-only member holds) and
    // the durable file helpers (`--join` writes its marker file with them).
    const pfsModules = etcdOnly.split("\n").filter((url) => url.includes("/pkg/pfs/"));
    t.deepEqual(pfsModules.map((url) => url.slice(url.indexOf("/pkg/pfs/"))).sort(),
      ["/pkg/pfs/api/data-dir-lock.js", "/pkg/pfs/durable-fs.js"]);
    const withPfs = await modulesLoaded(dir, "with-pfs",
      ["--pfs-address", "127.0.0.1:0", "--shards", "2"]);
    t.true(withPfs.includes("/pkg/pfs/api/"));
  } finally {
    delete process.env["NODE_OPTIONS"];
    delete process.env["PFS_LOAD_LOG"];
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial("with client TLS the pfs node reaches its member and serves", async (t) => {
  const certs = await makeTlsCerts();
  const cluster = await startCluster({ kind: "pfsd", size: 1,
    clientTls: { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile,
      clientCertAuth: true },
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "2"] });
  const etcd = new Etcd3({ hosts: cluster.endpoints.split(","), credentials: {
    rootCertificate: await readFile(certs.caFile), certChain: await readFile(certs.certFile),
    privateKey: await readFile(certs.keyFile) } });
  try {
    let address = "";
    const deadline = Date.now() + 30_000;
    while (address === "" && Date.now() < deadline) {
      const nodes = Object.values(await etcd.getAll().prefix("/pfs/nodes/").strings());
      address = nodes.length === 0 ? "" : (JSON.parse(nodes[0] ?? "{}") as { address: string }).address;
      if (address === "") await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.not(address, "", `the pfs node registered: ${cluster.members[0]?.log().slice(-1500) ?? ""}`);
    // The pfs API takes the same TLS flags as the client URLs: a client of it needs them too.
    const client = new PfsClient(address, credentials.createSsl(await readFile(certs.caFile),
      await readFile(certs.keyFile), await readFile(certs.certFile)));
    const plaintext = new PfsClient(address);
    try {
      const refused = await plaintext.failure("ListRepo", {});
      t.is(refused.code, status.UNAVAILABLE);
    } finally {
      plaintext.close();
    }
    try {
      await client.call("CreateRepo", { name: "secure" });
      const repos = await client.call("ListRepo", {});
      t.deepEqual(repos.repos.map((repo) => repo.name), ["secure"]);
    } finally {
      client.close();
    }
  } finally {
    etcd.close();
    await cluster.stop();
    await certs.cleanup();
  }
});
