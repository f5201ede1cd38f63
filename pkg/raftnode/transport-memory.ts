/**
 * The in-memory `Transport` (hashicorp/raft's inmem_transport): members of one
 * `MemoryNetwork` deliver to each other within the process, in order, on a later microtask
 * (never re-entering the sender). Tests cut links with `partition` to make messages drop and
 * be reported unreachable, as a broken gRPC stream would.
 */
import { assert, formatHexId, type NodeId } from "../common/index.js";
import type { OutboundMessage, Transport, TransportHandler } from "./transport.js";

/** A set of in-memory transports that can reach each other. */
export class MemoryNetwork {
  readonly #members = new Map<NodeId, MemoryTransport>();
  /** Cut directed links, as "from>to" in hex. */
  readonly #cutLinks = new Set<string>();

  /** Makes the transport of member `id`; it receives once started. */
  transport(id: NodeId): MemoryTransport {
    return new MemoryTransport(this, id);
  }

  /** Cuts both directions between `a` and `b` until `heal`. */
  partition(a: NodeId, b: NodeId): void {
    this.#cutLinks.add(linkKey(a, b));
    this.#cutLinks.add(linkKey(b, a));
  }

  /** Restores every link. */
  heal(): void {
    this.#cutLinks.clear();
  }

  /** @internal Registers a started member. */
  attach(member: MemoryTransport): void {
    assert(!this.#members.has(member.id), () => `member ${formatHexId(member.id)} started twice`);
    this.#members.set(member.id, member);
  }

  /** @internal Unregisters a closed member. */
  detach(member: MemoryTransport): void {
    if (this.#members.get(member.id) === member) this.#members.delete(member.id);
  }

  /** @internal The started member `to`, when `from` can reach it. */
  reachable(from: NodeId, to: NodeId): MemoryTransport | undefined {
    if (this.#cutLinks.has(linkKey(from, to))) return undefined;
    return this.#members.get(to);
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${formatHexId(from)}>${formatHexId(to)}`;
}

/** One member's in-memory transport. Peer addresses are ignored: ids are addresses. */
export class MemoryTransport implements Transport {
  readonly id: NodeId;
  readonly #network: MemoryNetwork;
  #handler: TransportHandler | undefined;
  #closed = false;

  constructor(network: MemoryNetwork, id: NodeId) {
    this.#network = network;
    this.id = id;
  }

  start(handler: TransportHandler): Promise<void> {
    assert(this.#handler === undefined, "memory transport started twice");
    assert(!this.#closed, "memory transport started after close");
    this.#handler = handler;
    this.#network.attach(this);
    return Promise.resolve();
  }

  send(messages: readonly OutboundMessage[]): void {
    const handler = this.#handler;
    assert(handler !== undefined, "memory transport: send before start");
    if (this.#closed) return;
    for (const message of messages) {
      assert(message.to !== this.id, () => `message to self ${formatHexId(this.id)}`);
      const target = this.#network.reachable(this.id, message.to);
      queueMicrotask(() => {
        if (this.#closed) return;
        const open = target !== undefined && target.#deliver(this.id, message.bytes);
        if (!open) handler.unreachable(message.to);
        if (message.snapshot) handler.snapshotDone(message.to, open);
      });
    }
  }

  setPeer(): void {
    // Every member of the network is a peer; addresses mean nothing here.
  }

  removePeer(): void {
    // Nothing is queued per peer.
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#network.detach(this);
    return Promise.resolve();
  }

  /** Hands `bytes` to this member's handler; false when it is closed. */
  #deliver(from: NodeId, bytes: Uint8Array): boolean {
    if (this.#closed || this.#handler === undefined) return false;
    // Push-back is meaningless in memory: the in-process sender cannot be slowed down.
    void this.#handler.receive(from, [bytes]);
    return true;
  }
}
