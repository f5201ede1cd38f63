/**
 * Where the etcd services listen: one listener per --listen-client-urls entry, insecure for
 * http and TLS for https (--cert-file/--key-file; with --client-cert-auth, client
 * certificates must be signed by --trusted-ca-file), as etcd serves them.
 */
import { readFileSync } from "node:fs";
import { ConfigError, type PfsdConfig } from "../../common/index.js";

/** TLS material of a listener (PEM). */
export interface ListenerTls {
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
  /** CA that client certificates must chain to; null when clients are not verified. */
  readonly rootCerts: Buffer | null;
  readonly clientCertAuth: boolean;
}

/** One address to serve on. */
export interface ClientListener {
  /** The URL as configured, for logs. */
  readonly url: string;
  /** host:port for grpc-js (IPv6 hosts in brackets). */
  readonly address: string;
  readonly tls: ListenerTls | undefined;
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error: unknown) {
    throw new ConfigError(flag, `cannot read ${path}: ${String(error)}`);
  }
}

function listenerTls(config: PfsdConfig): ListenerTls {
  if (config.certFile === undefined || config.keyFile === undefined) {
    throw new ConfigError("--listen-client-urls", "https needs --cert-file and --key-file");
  }
  const rootCerts = config.trustedCaFile === undefined
    ? null
    : readPem(config.trustedCaFile, "--trusted-ca-file");
  return {
    certChain: readPem(config.certFile, "--cert-file"),
    privateKey: readPem(config.keyFile, "--key-file"),
    rootCerts,
    clientCertAuth: config.clientCertAuth,
  };
}

/** The listeners of `config`; throws ConfigError for an unusable URL or unreadable file. */
export function clientListeners(config: PfsdConfig): ClientListener[] {
  return config.listenClientUrls.map((raw) => {
    const url = new URL(raw);
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") {
      throw new ConfigError("--listen-client-urls", `unsupported scheme in ${raw}`);
    }
    const port = url.port === "" ? (secure ? "443" : "80") : url.port;
    return {
      url: raw,
      address: `${url.hostname}:${port}`,
      tls: secure ? listenerTls(config) : undefined,
    };
  });
}
