// Goal: the certificates from test/support/tls-certs.ts really work with a TLS member. Method: a
// single real etcd 3.4.23 with client TLS and --client-cert-auth; the etcd3 client with the CA
// and the client certificate (CN root) writes and reads a key; the same client without a
// certificate is refused (the TLS handshake fails, so the call errors before any Range).
import { readFileSync } from "node:fs";
import test from "ava";
import { Etcd3 } from "etcd3";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { makeTlsCerts, type TlsCerts } from "../support/tls-certs.js";

let certs: TlsCerts | undefined;
let cluster: MemberCluster | undefined;

test.before(async () => {
  certs = await makeTlsCerts();
  cluster = await startCluster({
    kind: "etcd",
    clientTls: { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile,
      clientCertAuth: true },
  });
});

test.after.always(async () => {
  await cluster?.stop();
  await certs?.cleanup();
});

function client(withCertificate: boolean): Etcd3 {
  if (certs === undefined || cluster === undefined) throw new Error("no cluster");
  const rootCertificate = readFileSync(certs.caFile);
  return new Etcd3({
    hosts: cluster.members.map((member) => member.clientUrl),
    credentials: withCertificate
      ? { rootCertificate, privateKey: readFileSync(certs.clientKeyFile),
        certChain: readFileSync(certs.clientCertFile) }
      : { rootCertificate },
    defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }),
  });
}

test.serial("a client with the CA and a client certificate reads over TLS", async (t) => {
  t.true(cluster?.endpoints.startsWith("https://"));
  const etcd = client(true);
  try {
    await etcd.put("tls/key").value("over tls");
    t.is(await etcd.get("tls/key").string(), "over tls");
    t.deepEqual(await etcd.getAll().prefix("tls/").keys(), ["tls/key"]);
  } finally {
    etcd.close();
  }
});

test.serial("a client without a certificate is refused", async (t) => {
  const etcd = client(false);
  try {
    const error = await t.throwsAsync(etcd.get("tls/key").string());
    t.regex(error.message, /certificate|handshake|UNAVAILABLE/i);
  } finally {
    etcd.close();
  }
});
