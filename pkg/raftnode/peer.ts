/**
 * The sending side of one peer link (etcd's rafthttp peer): a bounded outbound queue and one
 * long-lived gRPC stream to the peer, written in frames that batch whatever is queued when
 * the stream is writable. The driver is never blocked: when the queue is full, the stream
 * is broken, or the link is waiting to reconnect, a message is dropped and the peer reported
 * unreachable (Raft retransmits). A broken stream is reopened after an exponential backoff
 * in [raftPeerReconnectMsMin, raftPeerReconnectMsMax] on the injected clock, reset once the
 * receiver accepts a stream. Snapshot messages go through `PeerSnapshotSender` instead.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  assert, formatHexId, limits, type Clock, type Logger, type NodeId, type Timer,
} from "../common/index.js";

/** What a peer link needs; every field is owned by the caller and outlives the link. */
export interface PeerLinkOptions {
  readonly peer: NodeId;
  readonly client: grpc.Client;
  readonly service: grpc.ServiceDefinition;
  /** Sent on every call: cluster and sender id headers. */
  readonly metadata: grpc.Metadata;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for every dropped message and every broken stream. */
  readonly unreachable: (peer: NodeId) => void;
}

type LinkState = "idle" | "open" | "backoff" | "closed";

/** One peer's outbound stream and queue. */
export class PeerLink {
  readonly #options: PeerLinkOptions;
  /** Messages not yet written; `#queueBytes` is the sum of their lengths. */
  #queue: Uint8Array[] = [];
  #queueBytes = 0;
  #state: LinkState = "idle";
  #call: grpc.ClientDuplexStream<unknown, unknown> | undefined;
  /** True while the stream's buffer is full: writing resumes on 'drain'. */
  #waitingForDrain = false;
  /** Consecutive failed streams, for the backoff. */
  #failures = 0;
  #reconnectTimer: Timer | undefined;

  constructor(options: PeerLinkOptions) {
    this.#options = options;
  }

  /** Messages queued and not yet written (for tests and metrics). */
  get queuedMessageCount(): number {
    return this.#queue.length;
  }

  /**
   * Queues `bytes` for the peer; call `flush` after a batch of enqueues. Drops (and reports
   * unreachable) when the link is waiting to reconnect or a queue bound would be passed.
   */
  enqueue(bytes: Uint8Array): void {
    if (this.#state === "closed") return;
    if (this.#state === "backoff" || !this.#hasRoomFor(bytes.length)) {
      this.#options.unreachable(this.#options.peer);
      return;
    }
    this.#queue.push(bytes);
    this.#queueBytes += bytes.length;
  }

  /** Writes queued messages in frames while the stream is writable; opens it if needed. */
  flush(): void {
    if (this.#queue.length === 0 || this.#waitingForDrain) return;
    if (this.#state === "idle") this.#open();
    const call = this.#call;
    if (this.#state !== "open" || call === undefined) return;
    while (this.#queue.length > 0 && !this.#waitingForDrain) {
      const frame = this.#takeFrame();
      const writable = call.write({ messages: frame });
      if (!writable) {
        this.#waitingForDrain = true;
        call.once("drain", () => {
          this.#waitingForDrain = false;
          this.flush();
        });
      }
    }
  }

  /** Drops the queue, cancels the stream and the reconnect timer. Idempotent. */
  close(): void {
    this.#state = "closed";
    this.#reconnectTimer?.cancel();
    this.#reconnectTimer = undefined;
    this.#dropQueue();
    this.#call?.cancel();
    this.#call = undefined;
  }

  #hasRoomFor(byteCount: number): boolean {
    if (byteCount > limits.raftPeerFrameBytesMax) {
      this.#options.logger.warn("raft message larger than a frame dropped", {
        peer: formatHexId(this.#options.peer), bytes: byteCount,
      });
      return false;
    }
    return this.#queue.length < limits.raftPeerQueueMessagesMax &&
      this.#queueBytes + byteCount <= limits.raftPeerQueueBytesMax;
  }

  /** Takes the longest queue prefix that fits one frame (at least one message). */
  #takeFrame(): Uint8Array[] {
    let count = 0;
    let bytes = 0;
    for (const message of this.#queue) {
      if (count > 0 && bytes + message.length > limits.raftPeerFrameBytesMax) break;
      bytes += message.length;
      count += 1;
    }
    assert(count > 0, "empty frame taken from a non-empty queue");
    const frame = this.#queue.slice(0, count);
    this.#queue = this.#queue.slice(count);
    this.#queueBytes -= bytes;
    assert(this.#queueBytes >= 0, () => `peer queue bytes ${this.#queueBytes} negative`);
    return frame;
  }

  #open(): void {
    assert(this.#call === undefined, "peer stream opened twice");
    const method = this.#options.service["Stream"];
    assert(method !== undefined, "RaftPeer service has no Stream method");
    const call = this.#options.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.#options.metadata,
    );
    this.#call = call;
    this.#state = "open";
    call.on("data", () => {
      // The receiver accepted the stream: the peer is up, so the next failure starts over.
      this.#failures = 0;
    });
    call.on("error", (error: unknown) => {
      this.#broken(call, error);
    });
    call.on("end", () => {
      this.#broken(call, new Error("stream ended by the peer"));
    });
  }

  /** The stream failed: drop what is queued, report, and wait before reopening. */
  #broken(call: grpc.ClientDuplexStream<unknown, unknown>, error: unknown): void {
    if (this.#call !== call || this.#state !== "open") return;
    this.#call = undefined;
    this.#waitingForDrain = false;
    call.cancel();
    this.#dropQueue();
    this.#options.unreachable(this.#options.peer);
    const delayMs = Math.min(
      limits.raftPeerReconnectMsMax,
      limits.raftPeerReconnectMsMin * 2 ** Math.min(this.#failures, 16),
    );
    this.#failures += 1;
    this.#options.logger.debug("peer stream broken", {
      peer: formatHexId(this.#options.peer), error, reconnectMs: delayMs,
    });
    this.#state = "backoff";
    this.#reconnectTimer = this.#options.clock.setTimer(delayMs, () => {
      this.#reconnectTimer = undefined;
      if (this.#state === "backoff") this.#state = "idle";
    });
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#queueBytes = 0;
  }
}
