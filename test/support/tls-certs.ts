// Throwaway TLS material for tests, made with the openssl binary in a fresh temp dir: a CA, a
// server certificate and a client certificate, all signed by that CA, with ECDSA P-256 keys
// (fast to make, accepted by etcd, grpc-js and etcdctl). The certificates are made by the
// product's own functions (cmd/deploy-local-tls.ts, `pfs deploy local --tls`).
//
// - The server certificate names IP:127.0.0.1 and DNS:localhost and allows both serverAuth and
//   clientAuth, so the very same pair serves as a member's client-facing certificate, as its
//   peer certificate (members dial each other with it) and as a client certificate.
// - The client certificate has CN "root": with --client-cert-auth and auth enabled, etcd takes
//   the user name from the certificate's CN, so this certificate acts as etcd's root user.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificateAuthority, makeSignedCertificate } from "../../cmd/deploy-local-tls.js";

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

/**
 * Makes a CA, a server certificate (SAN IP:127.0.0.1 and DNS:localhost; serverAuth and
 * clientAuth) and a client certificate (CN root; clientAuth) in a fresh temp dir under
 * `parentDir` (default: the OS temp dir). Rejects with openssl's error text on failure.
 */
export async function makeTlsCerts(parentDir: string = tmpdir()): Promise<TlsCerts> {
  const dir = await mkdtemp(join(parentDir, "pfs-tls-"));
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const validityDays = certificateValidityDays;
    const ca = await makeCertificateAuthority(dir, "ca", "pfs test CA", validityDays);
    await makeSignedCertificate(dir, { name: "server", commonName: "localhost",
      altNames: ["IP:127.0.0.1", "DNS:localhost"], serverAuth: true, validityDays }, ca);
    await makeSignedCertificate(dir, { name: "client", commonName: "root", altNames: [],
      serverAuth: false, validityDays }, ca);
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
