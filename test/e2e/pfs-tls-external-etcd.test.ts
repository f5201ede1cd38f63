// Goal: a pfsd on an external etcd that serves https and requires client certificates
// (--etcd-endpoints https://…) reaches it with --trusted-ca-file and its own --cert-file and
// --key-file, and serves its pfs API over TLS with the same certificates: a TLS client
// creates and lists a repo through it.
// Method: the real Debian etcd with TLS flags and one pfsd, on free loopback ports, in a temp
// dir removed afterwards; both stopped with SIGTERM.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone
import { PfsClient, clientCredentials } from "../../pkg/pfs/client/index.js";
import { etcdBinary, freePort } from "../compat/support/etcd-process.js";
import { makeTlsCerts } from "../support/tls-certs.js";
import { spawnPfsd } from "./pfs-api-support.js";

/** How long the etcd and pfsd pair get to serve a first ListRepo. */
const servingMsMax = 60_000;

test("pfsd on an https etcd with client-cert-auth serves its pfs API over TLS", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-tls-external-"));
  const certs = await makeTlsCerts(dir);
  const [clientPort, peerPort, pfsPort] = [await freePort(), await freePort(), await freePort()];
  const clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = spawn(etcdBinary, [
    "--name", "external", "--data-dir", join(dir, "etcd"),
    "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
    "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `external=${peerUrl}`, "--initial-cluster-state", "new",
    "--cert-file", certs.certFile, "--key-file", certs.keyFile,
    "--trusted-ca-file", certs.caFile, "--client-cert-auth", "--log-level", "warn",
  ], { stdio: ["ignore", "ignore", "ignore"] });
  const pfsd = spawnPfsd([
    "--name", "ext1", "--data-dir", join(dir, "pfsd"), "--etcd-endpoints", clientUrl,
    "--pfs-address", `127.0.0.1:${pfsPort}`, "--shards", "2", "--replicas", "1",
    "--cert-file", certs.certFile, "--key-file", certs.keyFile,
    "--trusted-ca-file", certs.caFile, "--client-cert-auth=true",
  ]);
  t.teardown(async () => {
    await pfsd.stop();
    const etcdExited = new Promise((resolve) => etcd.once("exit", resolve));
    if (etcd.exitCode === null) {
      etcd.kill("SIGTERM");
      await etcdExited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  const client = new PfsClient({ address: `127.0.0.1:${pfsPort}`, callDeadlineMs: 2_000,
    credentials: await clientCredentials({ cacert: certs.caFile, cert: certs.clientCertFile,
      key: certs.clientKeyFile }) });
  t.teardown(() => { client.close(); });
  const deadline = Date.now() + servingMsMax;
  for (;;) {
    try {
      await client.listRepo();
      break;
    } catch (error: unknown) {
      if (Date.now() > deadline || pfsd.child.exitCode !== null) {
        t.fail(`pfsd not serving: ${String(error)}\n${pfsd.stderr()}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await client.createRepo("over-tls");
  t.deepEqual((await client.listRepo()).map((repo) => repo.name), ["over-tls"]);
});
