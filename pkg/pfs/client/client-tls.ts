/**
 * TLS of a pfs API client, named like etcdctl's flags: `--cacert` (the CA that signed the
 * server's certificate; the system roots without it), `--cert` and `--key` (the client's own
 * certificate, for a server started with --client-cert-auth). No file at all means plaintext.
 *
 * Invariants: `--cert` and `--key` go together; every file is read once, here, and a missing
 * or unreadable one is INVALID_ARGUMENT naming the flag, before any connection is made. The
 * hints explain the transport failures a TLS mismatch causes (grpc-js says only "Failed to
 * connect" or quotes OpenSSL), so a person learns which flag is missing.
 */
import { readFile } from "node:fs/promises";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { PfsError } from "../../common/index.js";

/** The PEM files of a client's TLS; each absent or undefined when not given. */
export interface ClientTlsFiles {
  /** CA certificate(s) that verify the server (--cacert, PFS_CACERT). */
  readonly cacert?: string | undefined;
  /** The client's certificate (--cert, PFS_CERT). */
  readonly cert?: string | undefined;
  /** The client certificate's private key (--key, PFS_KEY). */
  readonly key?: string | undefined;
}

/** True when `files` asks for TLS (any of the three given and not empty). */
export function usesTls(files: ClientTlsFiles): boolean {
  return [files.cacert, files.cert, files.key].some((file) => file !== undefined && file !== "");
}

async function readPem(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PfsError("INVALID_ARGUMENT", `cannot read ${flag} ${file}: ${reason}`,
      { flag, file });
  }
}

/**
 * The channel credentials `files` ask for: plaintext when none is given, else TLS with the
 * CA (or the system roots) and, when given, the client certificate. Rejects with
 * INVALID_ARGUMENT when only one of cert and key is given or a file cannot be read.
 */
export async function clientCredentials(files: ClientTlsFiles): Promise<ChannelCredentials> {
  if (!usesTls(files)) return credentials.createInsecure();
  const given = (file: string | undefined): file is string => file !== undefined && file !== "";
  if (given(files.cert) !== given(files.key)) {
    throw new PfsError("INVALID_ARGUMENT", "--cert and --key go together (PFS_CERT, PFS_KEY)");
  }
  const ca = given(files.cacert) ? await readPem("--cacert", files.cacert) : null;
  if (given(files.cert) && given(files.key)) {
    const [cert, key] = await Promise.all([readPem("--cert", files.cert),
      readPem("--key", files.key)]);
    return credentials.createSsl(ca, key, cert);
  }
  return credentials.createSsl(ca);
}

/**
 * What a person should do about a connection failure whose transport reason is `reason`, on a
 * channel that is `secure` (TLS) or not; "" when the failure does not look like TLS.
 */
export function transportHint(reason: string, secure: boolean): string {
  if (!secure) {
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(reason)) return "";
    return "; if the server serves TLS, give --cacert (and --cert/--key if it requires a " +
      "client certificate)";
  }
  if (/certificate required|handshake failure|bad certificate/i.test(reason)) {
    return "; the server requires a TLS client certificate: give --cert and --key " +
      "(PFS_CERT, PFS_KEY) signed by its trusted CA";
  }
  if (/certificate|self[- ]signed|issuer|verify/i.test(reason)) {
    return "; the server's TLS certificate is not trusted: give --cacert (PFS_CACERT) with " +
      "the CA that signed it";
  }
  if (/SSL|TLS|wrong version|packet length/i.test(reason)) {
    return "; TLS handshake failed: does the server serve TLS on this address?";
  }
  return "";
}
