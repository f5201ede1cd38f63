/**
 * The driver's bounded inbox (STYLE rule 14): socket and timer callbacks only enqueue here;
 * the driver drains everything in one go each cycle, so appends and fsyncs are batched.
 * Received peer messages push back past raftInboxMessagesSoftMax (the transport stops
 * reading until `drain` makes room) and are dropped past raftInboxMessagesMax (Raft
 * retransmits). Proposals and reads are bounded by their callers (the driver counts them
 * with the ones already pending).
 */
import { assert, limits, type NodeId } from "../common/index.js";

/** A proposal waiting to enter the core. */
export interface InboxProposal {
  readonly sequence: bigint;
  /** The entry data, header included. */
  readonly data: Uint8Array;
}

/** Everything queued since the last drain, in arrival order per kind. */
export interface InboxBatch {
  readonly ticks: number;
  readonly messages: readonly Uint8Array[];
  readonly proposals: readonly InboxProposal[];
  /** ReadIndex contexts. */
  readonly reads: readonly bigint[];
  readonly unreachable: readonly NodeId[];
  readonly snapshotReports: readonly { readonly peer: NodeId; readonly delivered: boolean }[];
  /** Driver requests (membership change, leader transfer) to run against the core, in order. */
  readonly commands: readonly (() => void)[];
}

/** The inbox of one driver. */
export class Inbox {
  #ticks = 0;
  #messages: Uint8Array[] = [];
  #proposals: InboxProposal[] = [];
  #reads: bigint[] = [];
  #unreachable: NodeId[] = [];
  #snapshotReports: { peer: NodeId; delivered: boolean }[] = [];
  #commands: (() => void)[] = [];
  /** Wakes the driver waiting in `next`. */
  #wake: (() => void) | undefined;
  /** Resolves the transports waiting for room. */
  #room: { promise: Promise<void>; resolve: () => void } | undefined;
  #droppedMessageCount = 0;

  /** Received messages dropped because the inbox was full (a metric). */
  get droppedMessageCount(): number {
    return this.#droppedMessageCount;
  }

  /** Queued proposals (not yet handed to the core). */
  get proposalCount(): number {
    return this.#proposals.length;
  }

  /** Queued reads (not yet handed to the core). */
  get readCount(): number {
    return this.#reads.length;
  }

  tick(): void {
    this.#ticks += 1;
    this.#notify();
  }

  /** Queues received messages; see `TransportHandler.receive` for the result. */
  receive(messages: readonly Uint8Array[]): Promise<void> | undefined {
    for (const message of messages) {
      if (this.#messages.length >= limits.raftInboxMessagesMax) this.#droppedMessageCount += 1;
      else this.#messages.push(message);
    }
    this.#notify();
    if (this.#messages.length < limits.raftInboxMessagesSoftMax) return undefined;
    if (this.#room === undefined) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((done) => { resolve = done; });
      this.#room = { promise, resolve };
    }
    return this.#room.promise;
  }

  propose(proposal: InboxProposal): void {
    this.#proposals.push(proposal);
    this.#notify();
  }

  read(context: bigint): void {
    this.#reads.push(context);
    this.#notify();
  }

  unreachable(peer: NodeId): void {
    this.#unreachable.push(peer);
    this.#notify();
  }

  snapshotReport(peer: NodeId, delivered: boolean): void {
    this.#snapshotReports.push({ peer, delivered });
    this.#notify();
  }

  /** Queues a request the driver runs against the core in its next cycle. */
  command(run: () => void): void {
    this.#commands.push(run);
    this.#notify();
  }

  /** Resolves when something is queued (at once if something already is). */
  next(): Promise<void> {
    assert(this.#wake === undefined, "two drivers wait on one inbox");
    if (!this.#isEmpty()) return Promise.resolve();
    return new Promise<void>((resolve) => { this.#wake = resolve; });
  }

  /** Takes everything queued and makes room for pushed-back transports. */
  drain(): InboxBatch {
    const batch: InboxBatch = {
      ticks: this.#ticks,
      messages: this.#messages,
      proposals: this.#proposals,
      reads: this.#reads,
      unreachable: this.#unreachable,
      snapshotReports: this.#snapshotReports,
      commands: this.#commands,
    };
    this.#ticks = 0;
    this.#messages = [];
    this.#proposals = [];
    this.#reads = [];
    this.#unreachable = [];
    this.#snapshotReports = [];
    this.#commands = [];
    this.#releaseRoom();
    return batch;
  }

  /** Wakes a waiting driver and pushed-back transports (close). */
  wakeAll(): void {
    this.#releaseRoom();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #releaseRoom(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.resolve();
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#wake = undefined;
    wake();
  }

  #isEmpty(): boolean {
    return this.#ticks === 0 && this.#messages.length === 0 && this.#proposals.length === 0 &&
      this.#reads.length === 0 && this.#unreachable.length === 0 &&
      this.#snapshotReports.length === 0 && this.#commands.length === 0;
  }
}
