/**
 * The throwaway certificates of `pfs deploy local --tls`, made with the openssl binary
 * (Debian's openssl package) under `<dir>/tls/`:
 *
 * - `ca.pem`, `ca-key.pem`: a CA made for this deployment only (kept, so add-node can sign
 *   the certificate of a new node).
 * - `<node>.pem`, `<node>-key.pem` per node: CN the node's name, SANs IP:127.0.0.1,
 *   DNS:localhost and the deploy's --host, extended key usages serverAuth and clientAuth, so
 *   one pair serves the node's client URLs, its peer URLs and its pfs API, and is its client
 *   certificate when it dials the other nodes (pfsd's --cert-file and --peer-cert-file).
 * - `client.pem`, `client-key.pem`: the user's client certificate (CN root, clientAuth only),
 *   for etcdctl (ETCDCTL_CERT/KEY) and pfs (PFS_CERT/KEY).
 *
 * Keys are ECDSA P-256 (quick to make; etcd, grpc-js and etcdctl accept them) and readable by
 * the owner only. Invariants: each pair is made in a scratch directory and moved into place
 * key first, certificate last, each file and the directory fsynced, so a certificate that
 * exists always has its key; what exists is kept, so a restart reuses every certificate. The
 * tests' helper (test/support/tls-certs.ts) makes its certificates with these functions too.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { fsyncPath } from "../pkg/pfs/client/index.js";

const execFileAsync = promisify(execFile);

/** Validity of a deployment's certificates: a year, far beyond any local cluster's life. */
export const deployCertificateValidityDays = 365;
/** Longest one openssl run may take before it counts as hung (key generation is quick). */
const opensslRunMsMax = 20_000;

/** One certificate to make, signed by a CA. */
export interface CertificateSpec {
  /** File stem: the pair is `<name>.pem` and `<name>-key.pem`. */
  readonly name: string;
  readonly commonName: string;
  /** subjectAltName entries, e.g. "IP:127.0.0.1", "DNS:localhost" (none for a pure client). */
  readonly altNames: readonly string[];
  readonly serverAuth: boolean;
  readonly validityDays: number;
}

/** A CA's certificate and key files. */
export interface CertificateAuthority {
  readonly certFile: string;
  readonly keyFile: string;
}

async function openssl(cwd: string, args: readonly string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args, { cwd, timeout: opensslRunMsMax });
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PfsError("FAILED_PRECONDITION",
      `openssl ${args[0] ?? ""} failed (is openssl installed?): ` +
      reason, { args: args.join(" ") });
  }
}

const newEcKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Makes `<dir>/<name>.pem` and `<name>-key.pem`: a self-signed CA. */
export async function makeCertificateAuthority(dir: string, name: string, commonName: string,
  validityDays: number): Promise<CertificateAuthority> {
  await openssl(dir, [
    "req", "-x509", ...newEcKey, "-keyout", `${name}-key.pem`, "-out", `${name}.pem`,
    "-days", String(validityDays), "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) };
}

/** A random positive 127-bit serial in hex (RFC 5280: unique per CA, at most 20 bytes). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString("hex")}`;
}

/** Makes `<dir>/<name>.pem` and `<name>-key.pem` as `spec` says, signed by `ca`. */
export async function makeSignedCertificate(dir: string, spec: CertificateSpec,
  ca: CertificateAuthority): Promise<void> {
  const usages = spec.serverAuth ? "serverAuth,clientAuth" : "clientAuth";
  const extensions = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${usages}`,
    ...(spec.altNames.length === 0 ? [] : [`subjectAltName=${spec.altNames.join(",")}`]),
  ];
  await writeFile(join(dir, `${spec.name}.ext`), `${extensions.join("\n")}\n`);
  await openssl(dir, [
    "req", "-new", ...newEcKey, "-keyout", `${spec.name}-key.pem`, "-out", `${spec.name}.csr`,
    "-subj", `/CN=${spec.commonName}`,
  ]);
  await openssl(dir, [
    "x509", "-req", "-in", `${spec.name}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile,
    "-set_serial", randomSerial(), "-days", String(spec.validityDays),
    "-extfile", `${spec.name}.ext`, "-out", `${spec.name}.pem`,
  ]);
}

/** The files of a deployment's TLS under `<dir>/tls/`. */
export interface DeployTls {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  /** The user's client certificate (CN root). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A node's certificate and key. */
  nodeCertificate(name: string): { readonly certFile: string; readonly keyFile: string };
}

/** The TLS files of the deployment in `deployDir` (whether made yet or not). */
export function deployTlsFiles(deployDir: string): DeployTls {
  const dir = join(deployDir, "tls");
  return {
    dir,
    ca: { certFile: join(dir, "ca.pem"), keyFile: join(dir, "ca-key.pem") },
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client-key.pem"),
    nodeCertificate: (name) => ({
      certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`),
    }),
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the pair `name` in a scratch directory inside `tls.dir` with `make`, then moves key
 * and certificate into place (key first), fsyncing each file and the directory.
 */
async function placePair(tls: DeployTls, name: string,
  make: (scratch: string) => Promise<void>): Promise<void> {
  const scratch = await mkdtemp(join(tls.dir, `.new-${name}-`));
  try {
    await make(scratch);
    for (const file of [`${name}-key.pem`, `${name}.pem`]) {
      const made = join(scratch, file);
      await chmod(made, file.endsWith("-key.pem") ? 0o600 : 0o644);
      await fsyncPath(made);
      await rename(made, join(tls.dir, file));
      await fsyncPath(tls.dir);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The subjectAltName entry of `host`: IP or DNS. */
function altNameOf(host: string): string {
  return isIP(host) === 0 ? `DNS:${host}` : `IP:${host}`;
}

/**
 * Makes what is missing of the TLS of a deployment in `deployDir` whose nodes are `nodes` and
 * serve on `host`: the CA, every node's certificate, the user's client certificate. Existing
 * files are kept. Rejects with openssl's error text when openssl fails.
 */
export async function ensureDeployTls(deployDir: string, nodes: readonly string[],
  host: string): Promise<DeployTls> {
  const tls = deployTlsFiles(deployDir);
  await mkdir(tls.dir, { recursive: true, mode: 0o700 });
  const validityDays = deployCertificateValidityDays;
  if (!await exists(tls.ca.certFile)) {
    await placePair(tls, "ca", async (scratch) => {
      await makeCertificateAuthority(scratch, "ca", "pfs deploy local CA", validityDays);
    });
  }
  const altNames = [...new Set(["IP:127.0.0.1", "DNS:localhost", altNameOf(host)])];
  for (const name of nodes) {
    if (await exists(tls.nodeCertificate(name).certFile)) continue;
    await placePair(tls, name, (scratch) => makeSignedCertificate(scratch,
      { name, commonName: name, altNames, serverAuth: true, validityDays }, tls.ca));
  }
  if (!await exists(tls.clientCertFile)) {
    await placePair(tls, "client", (scratch) => makeSignedCertificate(scratch,
      { name: "client", commonName: "root", altNames: [], serverAuth: false, validityDays },
      tls.ca));
  }
  return tls;
}

/**
 * pfsd's TLS flags for node `name` of a deployment: https client and peer URLs need the
 * node's certificate, the CA, and client certificates required on both (etcd's names).
 */
export function pfsdTlsArgs(tls: DeployTls, name: string): string[] {
  const { certFile, keyFile } = tls.nodeCertificate(name);
  return [
    "--cert-file", certFile, "--key-file", keyFile, "--trusted-ca-file", tls.ca.certFile,
    "--client-cert-auth=true",
    "--peer-cert-file", certFile, "--peer-key-file", keyFile,
    "--peer-trusted-ca-file", tls.ca.certFile, "--peer-client-cert-auth=true",
  ];
}

/** `value` as one sh word: as is when it holds only safe characters, else single-quoted. */
export function shellWord(value: string): string {
  if (/^[A-Za-z0-9_./:,@%+=-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** The export lines a shell needs for the TLS of a deployment (pfs and etcdctl). */
export function tlsExportLines(tls: DeployTls): string {
  const pairs: [string, string][] = [
    ["PFS_CACERT", tls.ca.certFile], ["PFS_CERT", tls.clientCertFile],
    ["PFS_KEY", tls.clientKeyFile],
    ["ETCDCTL_CACERT", tls.ca.certFile], ["ETCDCTL_CERT", tls.clientCertFile],
    ["ETCDCTL_KEY", tls.clientKeyFile],
  ];
  return pairs.map(([name, value]) => `export ${name}=${shellWord(value)}\n`).join("");
}
