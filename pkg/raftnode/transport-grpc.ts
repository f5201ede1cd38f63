/**
 * The gRPC `Transport` (pkg/proto/raftpeer.proto): one server for incoming peer calls and,
 * per peer, one long-lived message stream (`PeerLink`) plus a snapshot call when needed.
 * Optional mutual TLS: the server demands a client certificate signed by the CA, and
 * clients verify the server against the same CA. Message size limits are explicit on both
 * ends (raftPeerGrpcMessageBytesMax).
 */
import * as grpc from "@grpc/grpc-js";
import {
  assert, formatHexId, limits, type Clock, type Logger, type NodeId,
} from "../common/index.js";
import { PeerLink } from "./peer.js";
import { sendSnapshot } from "./peer-snapshot.js";
import type { OutboundMessage, Transport, TransportHandler } from "./transport.js";
import { raftPeerHandlers } from "./transport-grpc-receiver.js";
import {
  clusterIdHeader, formatIdHeader, raftPeerService, senderIdHeader,
} from "./transport-proto.js";

/** PEM material for mutual TLS; all three are required together. */
export interface TransportTls {
  readonly caPem: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

/** Everything a gRPC transport needs. */
export interface GrpcTransportOptions {
  readonly localId: NodeId;
  /** Only peers presenting this cluster id are accepted; ours is sent on every call. */
  readonly clusterId: bigint;
  /** "host:port" to listen on; port 0 picks a free port (see `port`). */
  readonly listenAddress: string;
  /** Initial peers, id → "host:port"; the local id must not be among them. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Mutual TLS when present, plaintext otherwise. */
  readonly tls?: TransportTls;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Per-peer sending state. */
interface Peer {
  readonly address: string;
  readonly client: grpc.Client;
  readonly link: PeerLink;
  snapshotInFlight: boolean;
}

const channelOptions: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": limits.raftPeerGrpcMessageBytesMax,
  "grpc.max_send_message_length": limits.raftPeerGrpcMessageBytesMax,
};

/** Client channels also ping, so a peer that vanished without a reset is noticed. */
const clientChannelOptions: grpc.ChannelOptions = {
  ...channelOptions,
  "grpc.keepalive_time_ms": limits.raftPeerKeepaliveMs,
  "grpc.keepalive_timeout_ms": limits.raftPeerKeepaliveTimeoutMs,
  "grpc.keepalive_permit_without_calls": 1,
};

/** The gRPC peer transport of one member. */
export class GrpcTransport implements Transport {
  readonly #options: GrpcTransportOptions;
  readonly #service = raftPeerService();
  readonly #metadata = new grpc.Metadata();
  readonly #peers = new Map<NodeId, Peer>();
  readonly #server: grpc.Server;
  /** Aborted by close: cancels snapshot calls in flight. */
  readonly #closing = new AbortController();
  /** Snapshot transfers in flight, awaited by close. */
  readonly #transfers = new Set<Promise<void>>();
  #handler: TransportHandler | undefined;
  #port = 0;
  #closed = false;

  constructor(options: GrpcTransportOptions) {
    assert(options.localId !== 0n, "transport local id must not be 0");
    assert(!options.peers.has(options.localId), () =>
      `peer list contains the local member ${formatHexId(options.localId)}`);
    this.#options = options;
    this.#metadata.set(clusterIdHeader, formatIdHeader(options.clusterId));
    this.#metadata.set(senderIdHeader, formatIdHeader(options.localId));
    this.#server = new grpc.Server(channelOptions);
    this.#server.addService(this.#service, raftPeerHandlers({
      clusterId: options.clusterId,
      logger: options.logger,
      handler: () => (this.#closed ? undefined : this.#handler),
    }));
  }

  /** The bound port; valid after `start` resolves. */
  get port(): number {
    assert(this.#port !== 0, "transport port read before start");
    return this.#port;
  }

  async start(handler: TransportHandler): Promise<void> {
    assert(this.#handler === undefined, "transport started twice");
    this.#handler = handler;
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(this.#options.listenAddress, this.#serverCredentials(),
        (error, port) => { if (error === null) resolve(port); else reject(error); });
    });
    for (const [peer, address] of this.#options.peers) this.setPeer(peer, address);
  }

  send(messages: readonly OutboundMessage[]): void {
    const handler = this.#handler;
    assert(handler !== undefined, "transport: send before start");
    if (this.#closed) return;
    const touched = new Set<PeerLink>();
    for (const message of messages) {
      assert(message.to !== this.#options.localId, "transport: message to self");
      const peer = this.#peers.get(message.to);
      if (peer === undefined) handler.unreachable(message.to);
      else if (message.snapshot) this.#sendSnapshot(message.to, peer, message.bytes);
      else {
        peer.link.enqueue(message.bytes);
        touched.add(peer.link);
      }
    }
    for (const link of touched) link.flush();
  }

  setPeer(peer: NodeId, address: string): void {
    assert(peer !== this.#options.localId, "transport: the local member is not a peer");
    if (this.#closed || this.#peers.get(peer)?.address === address) return;
    this.removePeer(peer);
    const client = new grpc.Client(address, this.#channelCredentials(), clientChannelOptions);
    const link = new PeerLink({
      peer, client, service: this.#service, metadata: this.#metadata,
      clock: this.#options.clock, logger: this.#options.logger,
      unreachable: (id) => { if (!this.#closed) this.#handler?.unreachable(id); },
    });
    this.#peers.set(peer, { address, client, link, snapshotInFlight: false });
  }

  removePeer(peer: NodeId): void {
    const existing = this.#peers.get(peer);
    if (existing === undefined) return;
    this.#peers.delete(peer);
    existing.link.close();
    existing.client.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    for (const peer of [...this.#peers.keys()]) this.removePeer(peer);
    await Promise.all([...this.#transfers]);
    await new Promise<void>((resolve) => {
      this.#server.tryShutdown(() => { resolve(); });
      // Streams from peers never end on their own: cut them rather than wait.
      this.#server.forceShutdown();
    });
  }

  #sendSnapshot(to: NodeId, peer: Peer, bytes: Uint8Array): void {
    if (peer.snapshotInFlight) {
      this.#handler?.snapshotDone(to, false);
      return;
    }
    peer.snapshotInFlight = true;
    const transfer = sendSnapshot(bytes, {
      client: peer.client, service: this.#service, metadata: this.#metadata,
      clock: this.#options.clock, signal: this.#closing.signal,
    }).then((delivered) => {
      peer.snapshotInFlight = false;
      if (this.#closed) return;
      if (!delivered) this.#handler?.unreachable(to);
      this.#handler?.snapshotDone(to, delivered);
    });
    this.#transfers.add(transfer);
    void transfer.finally(() => this.#transfers.delete(transfer));
  }

  #serverCredentials(): grpc.ServerCredentials {
    const tls = this.#options.tls;
    if (tls === undefined) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(tls.caPem,
      [{ cert_chain: tls.certPem, private_key: tls.keyPem }], true);
  }

  #channelCredentials(): grpc.ChannelCredentials {
    const tls = this.#options.tls;
    if (tls === undefined) return grpc.credentials.createInsecure();
    return grpc.credentials.createSsl(tls.caPem, tls.keyPem, tls.certPem);
  }
}
