// Goal: etcdctl over client TLS (with --client-cert-auth) sees a pfsd member exactly as it sees
// an etcd 3.4.23 member. Method as in etcdctl-kv.test.ts: one single-member cluster of each,
// both serving https with the same test certificates (test/support/tls-certs.ts), the same
// etcdctl commands with --cacert/--cert/--key, outputs compared after masking. A client without
// a certificate must be refused by both. The commands are listed and counted in
// etcdctl-kv.test.ts.
import { mkdir, rm } from "node:fs/promises";
import test from "ava";
import { makeTlsCerts, type TlsCerts } from "../support/tls-certs.js";
import { type CtlDiffer, connect, startPair, stopPair } from "./support/etcdctl-differ.js";
import { normalize } from "./support/etcdctl-masker.js";
import { CtlChild, runCtl, stopAllChildren } from "./support/etcdctl-runner.js";

const scratchRoot = `/dev/shm/pfs-etcdctl-tls-${process.pid}`;
let certs: TlsCerts | undefined;
let differ: CtlDiffer | undefined;

test.before(async () => {
  await mkdir(scratchRoot, { recursive: true });
  certs = await makeTlsCerts(scratchRoot);
  differ = await startPair({
    size: 1,
    scratchDir: scratchRoot,
    tls: { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile },
    tlsArgs: ["--cacert", certs.caFile, "--cert", certs.clientCertFile,
      "--key", certs.clientKeyFile],
  });
});

test.after.always(async () => {
  await stopAllChildren();
  await stopPair(differ);
  await certs?.cleanup();
  await rm(scratchRoot, { recursive: true, force: true });
});

test.serial("etcdctl over client TLS with client certificates: same output as etcd", async (t) => {
  if (differ === undefined || certs === undefined) throw new Error("clusters not started");
  const d = differ;
  const caOnly = ["--cacert", certs.caFile];
  await d.ctl(["put", "tls/a", "1"]);
  await d.ctl(["put", "tls/a", "2", "--prev-kv"]);
  await d.ctl(["get", "tls/", "--prefix", "-w", "json"]);
  await d.step("watch tls/a --rev=2 over TLS", async (target) => {
    const child = new CtlChild(connect(target), ["watch", "tls/a", "--rev=2"]);
    await child.waitLines(6);
    return child.stop("SIGTERM");
  });
  await d.ctl(["endpoint", "health"]);
  await d.ctl(["endpoint", "status"], { normalize: normalize.statusLines });
  await d.ctl(["member", "list"]);
  await d.step("get without a client certificate (refused)", (target) =>
    runCtl({ ...connect(target), tlsArgs: caOnly }, ["get", "tls/a", "--dial-timeout=1s"]));
  d.assertNoMismatch(t);
  t.is(d.steps.length, 8, "every listed command ran");
});
