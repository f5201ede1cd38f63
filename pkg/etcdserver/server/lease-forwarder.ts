/**
 * Forwarding of lease calls from a follower to the leader, as etcd followers do: only the
 * leader keeps the expiry clock, so LeaseKeepAlive and LeaseTimeToLive must be answered
 * there. This uses the leader's own etcd v3 client API (its first advertised client URL, as
 * published in its member record) over a cached grpc-js client per URL: one short
 * LeaseKeepAlive stream per renewal and a unary LeaseTimeToLive. TLS client URLs (https)
 * use --trusted-ca-file and, when given, --cert-file/--key-file as the client certificate.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import {
  EtcdError, leaseId, limits, type LeaseId, type PfsdConfig,
} from "../../common/index.js";
import { loadEtcdProtos } from "../../proto/index.js";
import type { LeaseTimeToLive } from "../lease/index.js";

type LeaseClient = grpc.Client & Record<string, unknown>;

/** A unary or streaming method of the generated client, called by name. */
type StreamMethod = (metadata: grpc.Metadata, options: grpc.CallOptions) =>
  grpc.ClientDuplexStream<unknown, unknown>;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;

export class LeaseForwarder {
  readonly #config: PfsdConfig;
  readonly #clients = new Map<string, LeaseClient>();
  #leaseClass: grpc.ServiceClientConstructor | undefined;

  constructor(config: PfsdConfig) {
    this.#config = config;
  }

  /** Renews `id` on the leader at `clientUrl`; its answer (0 = gone). */
  keepAlive(clientUrl: string, id: LeaseId): Promise<number> {
    const client = this.#client(clientUrl);
    const method = client["LeaseKeepAlive"] as StreamMethod;
    return new Promise<number>((resolve, reject) => {
      const call = method.call(client, new grpc.Metadata(), { deadline: deadline() });
      call.on("data", (response: unknown) => {
        resolve(Number((response as { TTL?: string }).TTL ?? "0"));
        call.cancel();
      });
      call.on("error", (error: grpc.ServiceError) => {
        if (error.code !== grpc.status.CANCELLED) reject(forwardError(error));
      });
      call.on("end", () => { reject(new EtcdError("ETCD_LEADER_CHANGED")); });
      call.write({ ID: id.toString() });
    });
  }

  /** TimeToLive of `id` as the leader at `clientUrl` sees it. */
  timeToLive(clientUrl: string, id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    const client = this.#client(clientUrl);
    const method = client["LeaseTimeToLive"] as UnaryMethod;
    return new Promise<LeaseTimeToLive>((resolve, reject) => {
      method.call(client, { ID: id.toString(), keys }, new grpc.Metadata(),
        { deadline: deadline() }, (error, response) => {
          if (error !== null) {
            reject(forwardError(error));
            return;
          }
          const answer = response as { TTL?: string; grantedTTL?: string; keys?: Uint8Array[] };
          resolve({
            id: leaseId(id), ttlSeconds: Number(answer.TTL ?? "-1"),
            grantedTtlSeconds: Number(answer.grantedTTL ?? "0"),
            keys: (answer.keys ?? []).map((key) => Uint8Array.from(key)),
          });
        });
    });
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #client(clientUrl: string): LeaseClient {
    const cached = this.#clients.get(clientUrl);
    if (cached !== undefined) return cached;
    const url = new URL(clientUrl);
    const Lease = this.#leaseConstructor();
    const client = new Lease(url.host, this.#credentials(url.protocol === "https:"), {
      "grpc.max_receive_message_length": limits.grpcReceiveBytesMax,
    }) as LeaseClient;
    this.#clients.set(clientUrl, client);
    return client;
  }

  #leaseConstructor(): grpc.ServiceClientConstructor {
    if (this.#leaseClass === undefined) {
      const protos = loadEtcdProtos();
      const pb = protos["etcdserverpb"] as grpc.GrpcObject;
      this.#leaseClass = pb["Lease"] as grpc.ServiceClientConstructor;
    }
    return this.#leaseClass;
  }

  #credentials(tls: boolean): grpc.ChannelCredentials {
    if (!tls) return grpc.credentials.createInsecure();
    const { trustedCaFile, certFile, keyFile } = this.#config;
    const ca = trustedCaFile === undefined ? null : readFileSync(trustedCaFile);
    const key = keyFile === undefined ? null : readFileSync(keyFile);
    const cert = certFile === undefined ? null : readFileSync(certFile);
    return grpc.credentials.createSsl(ca, key, cert);
  }
}

function deadline(): Date {
  return new Date(Date.now() + limits.raftRequestTimeoutMs);
}

/** A forwarding failure: etcd errors keep their text; a transport failure is a timeout. */
function forwardError(error: grpc.ServiceError): Error {
  if (error.code === grpc.status.NOT_FOUND) return new EtcdError("ETCD_LEASE_NOT_FOUND");
  if (error.code === grpc.status.DEADLINE_EXCEEDED) return new EtcdError("ETCD_TIMEOUT");
  if (error.details === new EtcdError("ETCD_NO_LEADER").message) {
    return new EtcdError("ETCD_NO_LEADER");
  }
  return new EtcdError("ETCD_TIMEOUT_DUE_TO_CONNECTION_LOST");
}
