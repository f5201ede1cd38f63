// Throwaway TLS material for tests, made with the openssl binary in a fresh temp dir: a CA, a
// server certificate and a client certificate, all signed by that CA, with ECDSA P-256 keys
// (fast to make, accepted by etcd, grpc-js and etcdctl).
//
// - The server certificate names IP:127.0.0.1 and DNS:localhost and allows both serverAuth and
//   clientAuth, so the very same pair serves as a member's client-facing certificate, as its
//   peer certificate (members dial each other with it) and as a client certificate.
// - The client certificate has CN "root": with --client-cert-auth and auth enabled, etcd takes
//   the user name from the certificate's CN, so this certificate acts as etcd's root user.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Validity of every certificate made here: long enough for any test run. */
const certificateValidityDays = 30;

/** PEM file paths of one set of test certificates; cleanup() removes the directory. */
export interface TlsCerts {
  readonly dir: string;
  /** The CA certificate: --trusted-ca-file for members, the root of trust for clients. */
  readonly caFile: string;
  /** Server certificate (also valid as a peer and a client certificate). */
  readonly certFile: string;
  readonly keyFile: string;
  /** Client certificate with CN "root" (etcd's cert-CN auth maps it to user root). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args, { cwd: dir, timeout: 20_000 });
  } catch (error: unknown) {
    throw new Error(`openssl ${args.join(" ")} failed: ${String(error)}`, { cause: error });
  }
}

const newEcKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string): Promise<void> {
  return openssl(dir, [
    "req", "-x509", ...newEcKey, "-keyout", "ca-key.pem", "-out", "ca.pem",
    "-days", String(certificateValidityDays), "-subj", "/CN=pfs test CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

/** Makes `<name>.pem` and `<name>-key.pem`, signed by the CA, with the given extensions. */
async function makeSigned(dir: string, name: string, commonName: string,
  extensions: readonly string[], serial: number): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
  await openssl(dir, [
    "req", "-new", ...newEcKey, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`,
    "-subj", `/CN=${commonName}`,
  ]);
  await openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem",
    "-set_serial", String(serial), "-days", String(certificateValidityDays),
    "-extfile", `${name}.ext`, "-out", `${name}.pem`,
  ]);
}

/**
 * Makes a CA, a server certificate (SAN IP:127.0.0.1 and DNS:localhost; serverAuth and
 * clientAuth) and a client certificate (CN root; clientAuth) in a fresh temp dir under
 * `parentDir` (default: the OS temp dir). Rejects with openssl's error text on failure.
 */
export async function makeTlsCerts(parentDir: string = tmpdir()): Promise<TlsCerts> {
  const dir = await mkdtemp(join(parentDir, "pfs-tls-"));
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await makeCa(dir);
    await makeSigned(dir, "server", "localhost", [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ], 2);
    await makeSigned(dir, "client", "root", [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=clientAuth",
    ], 3);
  } catch (error: unknown) {
    await cleanup();
    throw error;
  }
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server-key.pem"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client-key.pem"),
    cleanup,
  };
}
