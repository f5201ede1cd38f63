/**
 * The Raft peer transport seam (STYLE rule 4): how a node's encoded Raft messages reach its
 * peers. Two implementations sit beside this file: `GrpcTransport` (transport-grpc.ts, one
 * gRPC stream per peer, chunked snapshots, optional mutual TLS) and `MemoryTransport`
 * (transport-memory.ts, an in-process network for tests and the simulator).
 *
 * Messages are opaque bytes (the core's `encodeMessage`); the transport never decodes them.
 * Delivery is best effort: a message may be dropped (full queue, broken stream, unknown peer)
 * and Raft retransmits, so `send` never blocks and never throws for a network fault. Every
 * drop is reported through `TransportHandler.unreachable`, which the driver forwards to
 * `RawNode.reportUnreachable` so the leader probes the follower instead of pipelining.
 */
import type { NodeId } from "../common/index.js";

/** One message to send: its encoded bytes and destination. */
export interface OutboundMessage {
  readonly to: NodeId;
  /** The encoded message; owned by the transport after `send` (never mutated). */
  readonly bytes: Uint8Array;
  /**
   * True for a snapshot message (MsgSnap). It is streamed in chunks on its own call and its
   * outcome is reported through `TransportHandler.snapshotDone`; at most one is in flight
   * per peer (a second one is refused as a failure while the first streams).
   */
  readonly snapshot: boolean;
}

/**
 * The receiving side, given to `start`. Callbacks run on the event loop and must only enqueue
 * (STYLE rule 14): the driver's inbox, drained each cycle.
 */
export interface TransportHandler {
  /**
   * Messages from `from`, in the order that peer sent them. Returns undefined when there is
   * room for more, or a promise that resolves when there is room again: until then the
   * transport stops reading that stream and gRPC flow control holds the sender.
   */
  receive(from: NodeId, messages: readonly Uint8Array[]): Promise<void> | undefined;
  /** A message to `peer` was dropped or its stream broke; forward to reportUnreachable. */
  unreachable(peer: NodeId): void;
  /** A snapshot message to `peer` finished: delivered (true) or failed (false). */
  snapshotDone(peer: NodeId, delivered: boolean): void;
}

/** The transport of one Raft member. */
export interface Transport {
  /**
   * Starts listening and enables sending; call once before `send`. Resolves when the node
   * can receive. Rejects when the listener cannot be bound.
   */
  start(handler: TransportHandler): Promise<void>;
  /**
   * Queues `messages` for their peers in order and returns at once. Messages to one peer
   * keep their order; messages to an unknown peer or past a queue bound are dropped and
   * reported unreachable.
   */
  send(messages: readonly OutboundMessage[]): void;
  /** Adds or re-addresses a peer (a membership change); `address` is "host:port". */
  setPeer(peer: NodeId, address: string): void;
  /** Forgets a peer: drops its queue and closes its streams. */
  removePeer(peer: NodeId): void;
  /**
   * Stops sending and receiving, cancels every timer and call, and resolves when the
   * listener is closed. Idempotent. Nothing is delivered to the handler after it resolves.
   */
  close(): Promise<void>;
}
