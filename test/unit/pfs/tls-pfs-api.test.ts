// Goal: the TLS pieces of the pfs API on their own. pfsd's loader (loadPfsTls) refuses
// unpaired, missing and non-PEM files with a ConfigError naming the flag and loads a good set;
// the CLI's clientCredentials refuses an unpaired --cert/--key and unreadable files; a pfs.API
// server bound with pfsServerCredentials and --client-cert-auth serves a client with the CA
// and a client certificate, and a node's own pfsPeerCredentials, while a plaintext client, a
// client without a certificate and one without the CA are refused promptly with an error that
// names the flag to give; the deploy's export lines are one sh word per value.
// Method: real certificates from openssl (the product's helpers) in a temp dir, a real
// grpc-js server on a loopback port with a ListRepo stub, removed afterwards.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type sendUnaryData, type ServerUnaryCall, Server } from "@grpc/grpc-js";
import test from "ava";
import { ConfigError, PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the TLS pieces under test
import { loadPfsTls, pfsPeerCredentials, pfsServerCredentials } from "../../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries -- the client's TLS pieces under test
import {
  PfsClient, clientCredentials, transportHint, usesTls,
} from "../../../pkg/pfs/client/index.js";
import { loadPfsService } from "../../../pkg/proto/index.js";
import { deployTlsFiles, shellWord, tlsExportLines } from "../../../cmd/deploy-local-tls.js";
import { type TlsCerts, makeTlsCerts } from "../../support/tls-certs.js";

let certs: TlsCerts;
let server: Server;
let address: string;

test.before(async () => {
  certs = await makeTlsCerts();
  const tls = await loadPfsTls({ certFile: certs.certFile, keyFile: certs.keyFile,
    trustedCaFile: certs.caFile, clientCertAuth: true });
  server = new Server();
  server.addService(loadPfsService().service, {
    ListRepo: (_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
      done(null, { repos: [] });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", pfsServerCredentials(tls), (error, bound) => {
      if (error === null) resolve(bound);
      else reject(error);
    });
  });
  address = `127.0.0.1:${port}`;
});

test.after.always(async () => {
  server.forceShutdown();
  await certs.cleanup();
});

/** What ListRepo through a PfsClient with `files`' TLS ends with: "ok" or the error. */
async function listWith(files: { cacert?: string; cert?: string; key?: string }):
  Promise<"ok" | PfsError> {
  const client = new PfsClient({ address, callDeadlineMs: 5_000,
    credentials: await clientCredentials(files) });
  try {
    await client.listRepo();
    return "ok";
  } catch (error: unknown) {
    if (error instanceof PfsError) return error;
    throw error;
  } finally {
    client.close();
  }
}

test("loadPfsTls: plaintext without --cert-file; a good set loads", async (t) => {
  t.is(await loadPfsTls({ clientCertAuth: false }), undefined);
  const tls = await loadPfsTls({ certFile: certs.certFile, keyFile: certs.keyFile,
    clientCertAuth: false });
  t.is(tls?.caPem, undefined);
  t.true(tls?.certPem.includes("BEGIN CERTIFICATE"));
  t.true(Object.isFrozen(tls));
});

test("loadPfsTls: unpaired, missing and non-PEM files are ConfigErrors naming the flag",
  async (t) => {
    const refused = async (flags: Parameters<typeof loadPfsTls>[0], flag: string,
      text: RegExp): Promise<void> => {
      const error = await t.throwsAsync(loadPfsTls(flags), { instanceOf: ConfigError });
      t.is(error.flag, flag);
      t.regex(error.message, text);
    };
    await refused({ certFile: certs.certFile, clientCertAuth: false }, "--key-file",
      /go together/);
    await refused({ keyFile: certs.keyFile, clientCertAuth: false }, "--cert-file",
      /go together/);
    await refused({ certFile: certs.certFile, keyFile: certs.keyFile, clientCertAuth: true },
      "--trusted-ca-file", /client-cert-auth/);
    await refused({ certFile: join(certs.dir, "absent.pem"), keyFile: certs.keyFile,
      clientCertAuth: false }, "--cert-file", /cannot read .*absent\.pem/);
    const notPem = join(certs.dir, "not-pem.txt");
    await writeFile(notPem, "hello\n");
    await refused({ certFile: certs.certFile, keyFile: certs.keyFile, trustedCaFile: notPem,
      clientCertAuth: false }, "--trusted-ca-file", /no PEM/);
  });

test("clientCredentials: none is plaintext; unpaired or unreadable files are refused",
  async (t) => {
    t.false(usesTls({}));
    t.false(usesTls({ cacert: "", cert: "", key: "" }));
    t.false((await clientCredentials({ cacert: "" }))._isSecure());
    t.true((await clientCredentials({ cacert: certs.caFile }))._isSecure());
    const unpaired = await t.throwsAsync(clientCredentials({ cert: certs.clientCertFile }),
      { instanceOf: PfsError });
    t.is(unpaired.code, "INVALID_ARGUMENT");
    t.regex(unpaired.message, /--cert and --key go together/);
    const missing = await t.throwsAsync(clientCredentials({ cacert: join(certs.dir, "no.pem") }),
      { instanceOf: PfsError });
    t.regex(missing.message, /cannot read --cacert .*no\.pem/);
  });

test("a client with the CA and a client certificate is served", async (t) => {
  t.is(await listWith({ cacert: certs.caFile, cert: certs.clientCertFile,
    key: certs.clientKeyFile }), "ok");
});

test("a node's peer credentials (its own certificate as the client's) are served", async (t) => {
  const tls = await loadPfsTls({ certFile: certs.certFile, keyFile: certs.keyFile,
    trustedCaFile: certs.caFile, clientCertAuth: true });
  const { Client } = loadPfsService();
  const client = new Client(address, pfsPeerCredentials(tls));
  try {
    const answer = await new Promise<unknown>((resolve, reject) => {
      const call = (client as unknown as Record<string, (request: object, options: object,
        callback: (error: Error | null, response?: unknown) => void) => void>)["ListRepo"];
      call?.call(client, {}, { deadline: Date.now() + 5_000 },
        (error, response) => { if (error === null) resolve(response); else reject(error); });
    });
    t.deepEqual(answer, { repos: [] });
  } finally {
    client.close();
  }
});

test("plaintext, certificate-less and CA-less clients are refused naming the flag",
  async (t) => {
    const plaintext = await listWith({});
    t.true(plaintext instanceof PfsError && plaintext.code === "UNAVAILABLE");
    t.regex(plaintext instanceof PfsError ? plaintext.message : plaintext,
      /if the server serves TLS, give --cacert/);
    const noCert = await listWith({ cacert: certs.caFile });
    t.regex(noCert instanceof PfsError ? noCert.message : noCert,
      /requires a TLS client certificate: give --cert and --key/);
    const noCa = await listWith({ cert: certs.clientCertFile, key: certs.clientKeyFile });
    t.regex(noCa instanceof PfsError ? noCa.message : noCa,
      /not trusted: give --cacert/);
  });

test("a plaintext data call (it waits for the connection first) is refused with the hint",
  async (t) => {
    const client = new PfsClient({ address, callDeadlineMs: 2_000 });
    try {
      const error = await t.throwsAsync(client.waitCommit({ repo: "r", commit: "master" }),
        { instanceOf: PfsError });
      t.is(error.code, "UNAVAILABLE");
      t.regex(error.message, /no gRPC connection within 2000 ms; if the server serves TLS/);
    } finally {
      client.close();
    }
  });

test("transportHint: refused connections get no TLS hint", (t) => {
  t.is(transportHint("connect ECONNREFUSED 127.0.0.1:1", false), "");
  t.is(transportHint("connect ECONNREFUSED 127.0.0.1:1", true), "");
  t.regex(transportHint("TLS: wrong version number", true), /does the server serve TLS/);
});

test("deploy export lines: one `export NAME=VALUE` per line, VALUE one sh word", (t) => {
  t.is(shellWord("/tmp/a/tls/ca.pem"), "/tmp/a/tls/ca.pem");
  t.is(shellWord("/tmp/my dir/it's"), `'/tmp/my dir/it'"'"'s'`);
  const lines = tlsExportLines(deployTlsFiles("/tmp/with space")).split("\n");
  t.is(lines.pop(), "");
  t.is(lines.length, 6);
  for (const line of lines) t.regex(line, /^export [A-Z_]+=('[^']*'|[^\s'"]+)$/);
  t.true(lines.includes("export ETCDCTL_CERT='/tmp/with space/tls/client.pem'"));
});
