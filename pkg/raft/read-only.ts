/**
 * Pending ReadIndex requests on a leader (etcd-io/raft read_only.go, safe mode): each request
 * remembers the commit index when it arrived and completes once a quorum acknowledges a
 * heartbeat carrying its context, which proves the leader was still leader at that moment.
 */
import type { LogIndex, NodeId } from "../common/index.js";

/** A ReadIndex request waiting for its heartbeat round. `from` is who asked (maybe self). */
export interface ReadRequest {
  readonly index: LogIndex;
  readonly from: NodeId;
  readonly context: Uint8Array;
}

interface PendingRead {
  readonly request: ReadRequest;
  readonly acks: Set<NodeId>;
}

/** Contexts are compared by content: a hex string key. */
function keyOf(context: Uint8Array): string {
  let key = "";
  for (const byte of context) key += byte.toString(16).padStart(2, "0");
  return key;
}

/** The queue of pending reads, in arrival order. Cleared whenever the node changes role. */
export class ReadOnly {
  readonly #pending = new Map<string, PendingRead>();
  #queue: string[] = [];

  /** Queues a request; a duplicate context (already pending) is ignored. */
  addRequest(request: ReadRequest): void {
    const key = keyOf(request.context);
    if (this.#pending.has(key)) return;
    this.#pending.set(key, { request, acks: new Set() });
    this.#queue.push(key);
  }

  /** Records `from`'s acknowledgement of `context`; returns the acks so far (or undefined). */
  recvAck(from: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const pending = this.#pending.get(keyOf(context));
    if (pending === undefined) return undefined;
    pending.acks.add(from);
    return pending.acks;
  }

  /**
   * Completes the request with `context` and every request queued before it (a later
   * quorum-acknowledged heartbeat also proves leadership for earlier ones). In queue order.
   */
  advance(context: Uint8Array): ReadRequest[] {
    const key = keyOf(context);
    const position = this.#queue.indexOf(key);
    if (position < 0) return [];
    const released = this.#queue.slice(0, position + 1);
    this.#queue = this.#queue.slice(position + 1);
    const out: ReadRequest[] = [];
    for (const releasedKey of released) {
      const pending = this.#pending.get(releasedKey);
      if (pending !== undefined) out.push(pending.request);
      this.#pending.delete(releasedKey);
    }
    return out;
  }

  /** The context of the most recent pending request (for heartbeats), if any. */
  lastPendingContext(): Uint8Array | undefined {
    const key = this.#queue[this.#queue.length - 1];
    return key === undefined ? undefined : this.#pending.get(key)?.request.context;
  }

  pendingCount(): number {
    return this.#queue.length;
  }

  reset(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
