// Goal: `pfsd --join` over client TLS: the joiner reaches the cluster with its own client TLS
// settings (--trusted-ca-file as the root; with --client-cert-auth its certificate as the
// client's), as the pfs node's client of the member does. Method: a real one-member pfsd
// cluster serving clients over TLS with --client-cert-auth (test certificates from openssl);
// a pfsd with the same TLS flags and only --join https://… is added and starts (its name is
// published in the member list), and its promotion loop reaches the cluster over TLS too.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { type TlsCerts, makeTlsCerts } from "../support/tls-certs.js";
import { Joiner, type MemberRow, eventually, memberRows } from "./pfsd-join-support.js";

test("a joiner with client TLS joins a cluster that requires client certificates",
  async (t) => {
    const root = await mkdtemp(join(tmpdir(), "pfs-join-tls-"));
    let certs: TlsCerts | undefined;
    let cluster: MemberCluster | undefined;
    let joiner: Joiner | undefined;
    try {
      certs = await makeTlsCerts(root);
      cluster = await startCluster({ kind: "pfsd", size: 1, clientTls: {
        caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile,
        clientCertAuth: true,
      } });
      t.true(cluster.endpoints.startsWith("https://"));
      joiner = await Joiner.create("t2", root, cluster.endpoints, [
        "--cert-file", certs.certFile, "--key-file", certs.keyFile,
        "--trusted-ca-file", certs.caFile, "--client-cert-auth",
      ], "https");
      joiner.start();
      const tls = {
        rootCertificate: readFileSync(certs.caFile),
        certChain: readFileSync(certs.clientCertFile),
        privateKey: readFileSync(certs.clientKeyFile),
      };
      let rows: MemberRow[] = [];
      const started = joiner;
      await eventually(async () => {
        rows = await memberRows([cluster?.endpoints ?? ""], tls);
        return rows.some((row) => row.name === "t2" && row.isLearner);
      }, 40_000, () => `${JSON.stringify(rows)}\n${started.log()}`);
      t.regex(joiner.log(), /added this node to the cluster as a learner/);
      // The promotion loop reached the voter over TLS: promoted, or refused by the cluster's
      // own rule (the embedded member refuses to promote into a one-voter cluster), never by
      // the connection.
      const answered = /promoted this learner|learner not promoted yet.*not enough started/;
      await eventually(() => Promise.resolve(answered.test(started.log())), 20_000,
        () => started.log());
    } finally {
      await joiner?.stop();
      await cluster?.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
