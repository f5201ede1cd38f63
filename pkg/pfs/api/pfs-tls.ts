/**
 * TLS of a node's pfs API (--pfs-address) with etcd's client flag names (DESIGN.md §1):
 * --cert-file and --key-file make the API serve TLS, --trusted-ca-file is the CA that client
 * certificates (and the other nodes' server certificates) are checked against, and
 * --client-cert-auth makes a client certificate signed by that CA mandatory.
 *
 * A node is also a client of the other nodes' pfs.Shard (forwarding, replication): with TLS it
 * dials them with the trusted CA as the root and its own certificate and key as its client
 * certificate — as etcd's gateway does, which is why such certificates carry both the
 * serverAuth and clientAuth extended key usages.
 *
 * Invariants: the PEM files are read once, at start (`loadPfsTls`), and a missing or
 * unreadable file is a ConfigError naming the flag (pfsd exits 2); `PfsTls` is frozen.
 */
import { readFile } from "node:fs/promises";
import {
  type ChannelCredentials, ServerCredentials, credentials,
} from "@grpc/grpc-js";
import { ConfigError, assert } from "../../common/index.js";

/** A node's pfs API TLS, loaded: PEM bytes, not file names. */
export interface PfsTls {
  /** --trusted-ca-file's CA(s); undefined: the system roots verify peers, no client check. */
  readonly caPem: Buffer | undefined;
  /** --cert-file: the node's certificate, served and presented to the other nodes. */
  readonly certPem: Buffer;
  /** --key-file: its private key. */
  readonly keyPem: Buffer;
  /** --client-cert-auth: clients must present a certificate signed by caPem. */
  readonly clientCertAuth: boolean;
}

/** The flags `loadPfsTls` reads (pfsd's config has them under these names). */
export interface PfsTlsFlags {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly trustedCaFile?: string | undefined;
  readonly clientCertAuth: boolean;
}

async function readPem(flag: string, file: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(flag, `cannot read ${file}: ${reason}`);
  }
  if (!pem.includes("-----BEGIN ")) throw new ConfigError(flag, `${file} holds no PEM block`);
  return pem;
}

/**
 * The pfs API TLS the flags ask for: undefined (plaintext) without --cert-file. Throws a
 * ConfigError when only one of --cert-file and --key-file is given, when --client-cert-auth
 * lacks --trusted-ca-file, or when a file cannot be read or holds no PEM.
 */
export async function loadPfsTls(flags: PfsTlsFlags): Promise<PfsTls | undefined> {
  const { certFile, keyFile, trustedCaFile } = flags;
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError(certFile === undefined ? "--cert-file" : "--key-file",
      "--cert-file and --key-file go together");
  }
  if (flags.clientCertAuth && trustedCaFile === undefined) {
    throw new ConfigError("--trusted-ca-file", "required by --client-cert-auth");
  }
  const [certPem, keyPem, caPem] = await Promise.all([
    readPem("--cert-file", certFile), readPem("--key-file", keyFile),
    trustedCaFile === undefined ? undefined : readPem("--trusted-ca-file", trustedCaFile),
  ]);
  return Object.freeze({ caPem, certPem, keyPem, clientCertAuth: flags.clientCertAuth });
}

/** What the pfs API server binds with: TLS when `tls` is given, else plaintext. */
export function pfsServerCredentials(tls: PfsTls | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  assert(!tls.clientCertAuth || tls.caPem !== undefined, "client-cert-auth without a CA");
  return ServerCredentials.createSsl(tls.caPem ?? null,
    [{ private_key: tls.keyPem, cert_chain: tls.certPem }], tls.clientCertAuth);
}

/**
 * What the node dials the other nodes' pfs.Shard with: TLS with the trusted CA (the system
 * roots without one) and the node's own certificate when `tls` is given, else plaintext.
 */
export function pfsPeerCredentials(tls: PfsTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(tls.caPem ?? null, tls.keyPem, tls.certPem);
}
