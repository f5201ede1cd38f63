/**
 * The client listeners of the etcd gRPC server. Each accepted connection (TLS terminated here
 * for https listeners, with client certificates required when --client-cert-auth) passes
 * through an AuthorityRewriter and is handed to grpc-js through a connection injector, so
 * that Go clients' direct dials (whose `:authority` is a whole URL) reach the services.
 * Server-to-client bytes are not touched.
 */
import { randomBytes } from "node:crypto";
import { Duplex } from "node:stream";
import { type Server as NetServer, type Socket, createServer as createNetServer } from "node:net";
import { TLSSocket, createServer as createTlsServer } from "node:tls";
import type { Logger } from "../../common/index.js";
import { AuthorityRewriter, literalHeader } from "./authority-rewriter.js";
import type { ClientListener } from "./client-listeners.js";

/**
 * The metadata key that carries a verified client certificate's common name from the front
 * (which terminated TLS) to the services. Random per process, so no client can forge it.
 */
export const peerCommonNameKey = `x-pfsd-peer-cn-${randomBytes(16).toString("hex")}`;

/** The verified peer certificate's common name of a TLS socket, URI-encoded; else "". */
function peerCommonName(socket: Socket | TLSSocket): string {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return "";
  const commonName: unknown = socket.getPeerCertificate().subject.CN;
  return typeof commonName === "string" ? encodeURIComponent(commonName) : "";
}

/** A socket whose incoming bytes are rewritten; writes go straight through. */
class RewritingSocket extends Duplex {
  readonly #socket: Socket | TLSSocket;
  readonly #rewriter: AuthorityRewriter;

  constructor(socket: Socket | TLSSocket) {
    super();
    this.#socket = socket;
    const commonName = peerCommonName(socket);
    this.#rewriter = new AuthorityRewriter(
      commonName === "" ? undefined : literalHeader(peerCommonNameKey, commonName));
    socket.on("data", (chunk: Buffer) => {
      const out = this.#rewriter.transform(chunk);
      if (out.length > 0 && !this.push(out)) socket.pause();
    });
    socket.on("end", () => { this.push(null); });
    // A reset by the client is routine: end the connection without an 'error' event that
    // nobody may be listening for.
    socket.on("error", () => { this.destroy(); });
    socket.on("close", () => { this.destroy(); });
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding,
    callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy();
    callback(error);
  }
}

function listenOn(server: NetServer, address: string): Promise<void> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
}

/** The listening sockets of the client URLs. */
export class ClientFront {
  readonly #servers: NetServer[] = [];

  /** Listens on every listener, handing each connection to `inject`; rejects on a bind error. */
  async listen(listeners: readonly ClientListener[], inject: (connection: Duplex) => void,
    logger: Logger): Promise<void> {
    for (const listener of listeners) {
      const tls = listener.tls;
      const accept = (socket: Socket | TLSSocket): void => {
        socket.setNoDelay(true);
        inject(new RewritingSocket(socket));
      };
      const server = tls === undefined
        ? createNetServer(accept)
        : createTlsServer({
          cert: tls.certChain, key: tls.privateKey, ALPNProtocols: ["h2"],
          ...(tls.rootCerts === null ? {} : { ca: tls.rootCerts }),
          requestCert: tls.clientCertAuth, rejectUnauthorized: tls.clientCertAuth,
        }, accept);
      server.on("error", (error) => { logger.warn("client listener error", { error }); });
      this.#servers.push(server);
      await listenOn(server, listener.address);
    }
  }

  /** Stops accepting connections (open ones are closed by the gRPC server's shutdown). */
  close(): void {
    for (const server of this.#servers) server.close();
  }
}
