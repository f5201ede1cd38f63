/**
 * `RaftNode`: the driver of one Raft member (etcd's raftNode + EtcdServer apply loop). It owns
 * a `RawNode`, its `NodeStorage`, the `Transport` and the `StateMachine`, and runs one loop:
 * wait for the inbox → drain it (ticks, received messages, proposals, reads, reports) into
 * the core → for each Ready: persist → send → apply → advance (the `Ready` contract, asserted
 * by `ReadyPhases`) → maybe snapshot and compact. Callbacks from sockets and timers only
 * enqueue (STYLE rule 14), so appends and fsyncs batch whatever arrived during the last one.
 *
 * Membership changes: a ConfChange's `context` is the member's peer address ("host:port",
 * UTF-8); applying AddNode/AddLearner points the transport at it, RemoveNode forgets it.
 */
import {
  EtcdError, PfsError, assert, assertNever, formatHexId, limits, type Clock, type LogIndex,
  type Logger, type NodeId, type Term, type Timer,
} from "../common/index.js";
import {
  ConfChangeType, EntryType, RawNode, decodeConfChange, decodeMessage, encodeMessage,
  type ConfChange, type ConfState, type Entry, type Message, type Ready, type Role,
} from "../raft/index.js";
import { Inbox, type InboxBatch } from "./inbox.js";
import { PendingProposals, decodeProposal, encodeProposal } from "./proposal.js";
import { PendingReads } from "./raft-node-reads.js";
import {
  PendingRequest, sameConfChange, type PendingConfChange, type PendingTransfer,
} from "./raft-node-requests.js";
import type { NodeStorage } from "./raft-node-storage.js";
import { ReadyPhases } from "./raft-node-phases.js";
import type { StateMachine } from "./state-machine.js";
import type { OutboundMessage, Transport } from "./transport.js";

/** Everything a driver needs; it owns storage, transport and state machine from `start`. */
export interface RaftNodeOptions<Result> {
  readonly id: NodeId;
  readonly storage: NodeStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<Result>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Seed of the core's election-timeout PRNG. */
  readonly seed: number;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Applied entries between snapshots (etcd --snapshot-count). */
  readonly snapshotEntries?: number;
  /** Entries kept behind a snapshot for slow followers. */
  readonly snapshotCatchUpEntries?: number;
  /** Called once if the loop dies (I/O failure or a broken invariant); the node is stopped. */
  readonly onFatal?: (error: unknown) => void;
  /**
   * Called from the loop when this member's role or known leader changes (etcd's lessor
   * promote/demote hooks). It must only enqueue work: it runs between persist and send.
   */
  readonly onLeadershipChange?: (change: { readonly leader: NodeId; readonly role: Role }) => void;
}

/** What `status()` reports; all from the driver's own view, cheap to read any time. */
export interface RaftNodeStatus {
  readonly id: NodeId;
  /** 0n when unknown. */
  readonly leader: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  /** Index of the newest snapshot taken or installed. */
  readonly snapshotIndex: LogIndex;
  /** Persist calls that were fsync'd, and entries they carried (batching metrics). */
  readonly syncCount: number;
  readonly persistedEntryCount: number;
  /** Proposals and reads not yet ended: callers push back on their clients well before the
   * refusal bounds (etcdPendingProposalsMax, raftPendingReadsMax), STYLE rule 14. */
  readonly pendingProposalCount: number;
  readonly pendingReadCount: number;
}

/** One Raft member's driver. */
export class RaftNode<Result> {
  readonly #options: RaftNodeOptions<Result>;
  readonly #inbox = new Inbox();
  readonly #phases = new ReadyPhases();
  readonly #proposals = new PendingProposals<Result>();
  readonly #reads = new PendingReads();
  #raw: RawNode | undefined;
  #confChange: PendingConfChange | undefined;
  #transfer: PendingTransfer | undefined;
  #tickTimer: Timer | undefined;
  #loop: Promise<void> | undefined;
  #closing = false;
  #nextSequence: bigint;
  #confState: ConfState = { voters: [], learners: [] };
  #leader = 0n as NodeId;
  #role: Role = "follower";
  #term = 0 as Term;
  #commit = 0 as LogIndex;
  #applied = 0 as LogIndex;
  #snapshotIndex = 0 as LogIndex;
  /** The background snapshot being encoded and saved, if any (see #maybeSnapshot). */
  #snapshotJob: Promise<void> | undefined;
  #syncCount = 0;
  #persistedEntryCount = 0;

  constructor(options: RaftNodeOptions<Result>) {
    assert(options.id !== 0n, "raft node id must not be 0");
    this.#options = options;
    // Sequences of earlier lives of this member (replayed from the WAL) sort below ours.
    this.#nextSequence = BigInt(Math.floor(options.clock.wallMs())) << 20n;
  }

  /** Restores the state machine from the stored snapshot, starts the transport and loop. */
  async start(): Promise<void> {
    assert(this.#raw === undefined, "raft node started twice");
    const storage = this.#options.storage;
    const snapshot = storage.snapshot();
    assert(snapshot.ok, "storage has no snapshot at start");
    const metadata = snapshot.value.metadata;
    if (metadata.index > 0) this.#options.stateMachine.restore(snapshot.value.data);
    this.#applied = metadata.index;
    this.#snapshotIndex = metadata.index;
    const initial = storage.initialState();
    this.#confState = initial.confState;
    this.#term = initial.hardState.term;
    this.#commit = initial.hardState.commit;
    this.#raw = new RawNode({
      id: this.#options.id,
      electionTicks: this.#options.electionTicks ?? limits.raftElectionTicksDefault,
      heartbeatTicks: this.#options.heartbeatTicks ?? limits.raftHeartbeatTicksDefault,
      storage,
      applied: metadata.index,
      seed: this.#options.seed,
    });
    await this.#options.transport.start({
      receive: (_from, messages) => this.#inbox.receive(messages),
      unreachable: (peer) => { this.#inbox.unreachable(peer); },
      snapshotDone: (peer, delivered) => { this.#inbox.snapshotReport(peer, delivered); },
    });
    this.#scheduleTick();
    this.#loop = this.#run().catch((error: unknown) => { this.#fail(error); });
  }

  /**
   * Proposes `payload` (non-empty). Resolves with the state machine's result once the entry
   * is applied on this member. Rejects with EtcdError: ETCD_TOO_MANY_REQUESTS when
   * etcdPendingProposalsMax are pending; ETCD_NO_LEADER when no leader is known;
   * ETCD_LEADER_CHANGED when the entry was lost to a leader change; ETCD_TIMEOUT[_DUE_TO_
   * LEADER_FAIL] after raftRequestTimeoutMs (outcome unknown); ETCD_STOPPED on close.
   */
  propose(payload: Uint8Array): Promise<Result> {
    assert(payload.length > 0, "an empty proposal is indistinguishable from a leader no-op");
    if (this.#closing || this.#raw === undefined) {
      return Promise.reject(new EtcdError("ETCD_STOPPED"));
    }
    if (this.#proposals.size >= limits.etcdPendingProposalsMax) {
      return Promise.reject(new EtcdError("ETCD_TOO_MANY_REQUESTS"));
    }
    const sequence = this.#nextSequence;
    this.#nextSequence += 1n;
    const done = this.#proposals.add(sequence, this.#options.clock.nowMs() +
      limits.raftRequestTimeoutMs);
    const data = encodeProposal({ proposer: this.#options.id, sequence }, payload);
    this.#inbox.propose({ sequence, data });
    return done;
  }

  /**
   * A linearizable read barrier: resolves once this member applied everything committed
   * when the read was confirmed by the leader, so a local read afterwards is linearizable.
   * Rejects with ETCD_TOO_MANY_REQUESTS, ETCD_NO_LEADER, ETCD_LEADER_CHANGED, ETCD_TIMEOUT
   * or ETCD_STOPPED.
   */
  readIndex(): Promise<void> {
    if (this.#closing || this.#raw === undefined) {
      return Promise.reject(new EtcdError("ETCD_STOPPED"));
    }
    if (this.#reads.size >= limits.raftPendingReadsMax) {
      return Promise.reject(new EtcdError("ETCD_TOO_MANY_REQUESTS"));
    }
    const context = this.#nextSequence;
    this.#nextSequence += 1n;
    const done = this.#reads.add(context, this.#options.clock.nowMs() +
      limits.raftRequestTimeoutMs);
    this.#inbox.read(context);
    return done;
  }

  /**
   * Proposes a membership change (one at a time). For AddNode/AddLearner, `context` is the
   * member's peer address ("host:port", UTF-8), which every member's transport adopts when
   * the change applies. Resolves with the membership after it, once applied on this member.
   * Rejects with FAILED_PRECONDITION while another change is in flight (here or in the
   * core), ETCD_NO_LEADER, ETCD_NOT_LEADER, ETCD_TIMEOUT or ETCD_STOPPED.
   */
  proposeConfChange(change: ConfChange): Promise<ConfState> {
    if (this.#closing || this.#raw === undefined) {
      return Promise.reject(new EtcdError("ETCD_STOPPED"));
    }
    if (this.#confChange !== undefined) {
      return Promise.reject(new PfsError("FAILED_PRECONDITION",
        "a membership change is already in progress"));
    }
    const { request, done } = PendingRequest.create<ConfState>(this.#deadlineMs());
    this.#confChange = { change, request };
    this.#inbox.command(() => {
      const proposed = this.#raw?.proposeConfChange(change);
      if (proposed === undefined || proposed.ok) return;
      request.reject(proposed.error === "no-leader" ? new EtcdError("ETCD_NO_LEADER")
        : proposed.error === "conf-change-pending"
          ? new PfsError("FAILED_PRECONDITION", "a membership change is already in progress")
          : new EtcdError("ETCD_NOT_LEADER"));
    });
    return done;
  }

  /**
   * Hands leadership to voter `to` (etcd MoveLeader). Resolves once this member sees `to`
   * as leader. Rejects with ETCD_BAD_LEADER_TRANSFEREE (not a voter), ETCD_NO_LEADER,
   * FAILED_PRECONDITION (a transfer in flight), ETCD_TIMEOUT or ETCD_STOPPED.
   */
  transferLeadership(to: NodeId): Promise<void> {
    if (this.#closing || this.#raw === undefined) {
      return Promise.reject(new EtcdError("ETCD_STOPPED"));
    }
    if (this.#transfer !== undefined) {
      return Promise.reject(new PfsError("FAILED_PRECONDITION", "a leader transfer is in progress"));
    }
    if (this.#leader === to) return Promise.resolve();
    const { request, done } = PendingRequest.create<undefined>(this.#deadlineMs());
    this.#transfer = { to, request };
    this.#inbox.command(() => {
      const requested = this.#raw?.transferLeader(to);
      if (requested === undefined || requested.ok) return;
      request.reject(requested.error === "no-leader" ? new EtcdError("ETCD_NO_LEADER")
        : new EtcdError("ETCD_BAD_LEADER_TRANSFEREE"));
    });
    return done.then(() => undefined);
  }

  /** The membership as of the last applied entry. */
  membership(): ConfState {
    return this.#confState;
  }

  status(): RaftNodeStatus {
    return {
      id: this.#options.id, leader: this.#leader, role: this.#role, term: this.#term,
      commit: this.#commit, applied: this.#applied, snapshotIndex: this.#snapshotIndex,
      syncCount: this.#syncCount, persistedEntryCount: this.#persistedEntryCount,
      pendingProposalCount: this.#proposals.size, pendingReadCount: this.#reads.size,
    };
  }

  /**
   * On the leader, the members (voters and learners) other than itself that answered within
   * the last election timeout (raft's recentActive, reset every election timeout by
   * checkQuorum); empty on a follower. Tells which peers are alive.
   */
  activePeers(): NodeId[] {
    const progress = this.#raw?.status().progress;
    if (progress === undefined) return [];
    return [...progress].filter(([id, each]) => id !== this.#options.id && each.recentActive)
      .map(([id]) => id);
  }

  /**
   * Stops ticking, lets the current Ready finish, rejects everything pending with
   * ETCD_STOPPED, and closes the transport and storage. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closing) {
      await this.#loop;
      return;
    }
    this.#closing = true;
    this.#tickTimer?.cancel();
    this.#tickTimer = undefined;
    this.#inbox.wakeAll();
    await this.#loop;
    await this.#snapshotJob;
    this.#rejectAll();
    await this.#options.transport.close();
    await this.#options.storage.close();
  }

  #deadlineMs(): number {
    return this.#options.clock.nowMs() + limits.raftRequestTimeoutMs;
  }

  /** Deadlines, and forgetting requests that ended. */
  #expire(): void {
    const nowMs = this.#options.clock.nowMs();
    this.#proposals.expire(nowMs);
    this.#reads.expire(nowMs);
    this.#confChange?.request.expire(nowMs);
    if (this.#confChange?.request.ended === true) this.#confChange = undefined;
    this.#transfer?.request.expire(nowMs);
    if (this.#transfer?.request.ended === true) this.#transfer = undefined;
  }

  #scheduleTick(): void {
    const tickMs = this.#options.tickMs ?? limits.raftTickMsDefault;
    this.#tickTimer = this.#options.clock.setTimer(tickMs, () => {
      if (this.#closing) return;
      this.#inbox.tick();
      this.#scheduleTick();
    });
  }

  async #run(): Promise<void> {
    const raw = this.#raw;
    assert(raw !== undefined, "raft loop without a core");
    while (!this.#isClosing()) {
      await this.#inbox.next();
      if (this.#isClosing()) break;
      this.#feed(raw, this.#inbox.drain());
      while (raw.hasReady() && !this.#isClosing()) {
        await this.#handleReady(raw, raw.ready());
        await this.#maybeSnapshot();
      }
      this.#expire();
    }
  }

  /** A method, not the field: the loop re-reads it after every await. */
  #isClosing(): boolean {
    return this.#closing;
  }

  /** Hands a drained inbox batch to the core, in a fixed order. */
  #feed(raw: RawNode, batch: InboxBatch): void {
    for (let i = 0; i < batch.ticks; i += 1) raw.tick();
    for (const bytes of batch.messages) {
      const decoded = decodeMessage(bytes);
      if (!decoded.ok) {
        this.#options.logger.warn("undecodable raft message dropped", { error: decoded.error });
        continue;
      }
      raw.step(decoded.value);
    }
    for (const peer of batch.unreachable) raw.reportUnreachable(peer);
    for (const report of batch.snapshotReports) raw.reportSnapshot(report.peer, report.delivered);
    this.#feedProposals(raw, batch);
    for (const context of batch.reads) {
      const requested = raw.readIndex(encodeContext(this.#options.id, context));
      if (requested.ok) this.#reads.requested(context);
      else this.#reads.end(context, new EtcdError("ETCD_NO_LEADER"));
    }
    for (const command of batch.commands) command();
  }

  /** Proposes in order; as leader, records each accepted entry's index. */
  #feedProposals(raw: RawNode, batch: InboxBatch): void {
    if (batch.proposals.length === 0) return;
    const before = raw.status();
    const placed: bigint[] = [];
    for (const proposal of batch.proposals) {
      const accepted = raw.propose(proposal.data);
      if (accepted.ok) placed.push(proposal.sequence);
      else {
        const code = accepted.error === "no-leader" ? "ETCD_NO_LEADER"
          : accepted.error === "uncommitted-limit" ? "ETCD_TOO_MANY_REQUESTS" : "ETCD_NOT_LEADER";
        this.#proposals.refuse(proposal.sequence, new EtcdError(code));
      }
    }
    const after = raw.status();
    const contiguous = after.lastIndex === before.lastIndex + placed.length;
    if (before.role !== "leader" || after.role !== "leader" || !contiguous) return;
    placed.forEach((sequence, offset) => {
      this.#proposals.placedAt(sequence, (before.lastIndex + offset + 1) as LogIndex);
    });
  }

  /** One Ready, by its contract: persist → send → apply → advance. */
  async #handleReady(raw: RawNode, ready: Ready): Promise<void> {
    this.#phases.begin();
    this.#noteSoftState(ready);
    this.#send(ready.earlyMessages);
    await this.#options.storage.persist({
      ...(ready.snapshot === undefined ? {} : { snapshot: ready.snapshot }),
      ...(ready.hardState === undefined ? {} : { hardState: ready.hardState }),
      entries: ready.entries,
    }, ready.mustSync);
    if (ready.mustSync) this.#syncCount += 1;
    this.#persistedEntryCount += ready.entries.length;
    if (ready.hardState !== undefined) {
      this.#term = ready.hardState.term;
      this.#commit = ready.hardState.commit;
    }
    this.#phases.persisted();
    this.#send(ready.messages);
    this.#phases.sent();
    this.#apply(raw, ready);
    this.#phases.applied();
    raw.advance();
    this.#phases.advanced();
  }

  #noteSoftState(ready: Ready): void {
    const soft = ready.softState;
    if (soft === undefined) return;
    if (soft.leader !== this.#leader) {
      this.#proposals.leaderChanged();
      this.#reads.leaderChanged();
      this.#options.logger.info("leader changed", {
        from: formatHexId(this.#leader), to: formatHexId(soft.leader), role: soft.role,
      });
    }
    const changed = soft.leader !== this.#leader || soft.role !== this.#role;
    this.#leader = soft.leader;
    this.#role = soft.role;
    if (changed) this.#options.onLeadershipChange?.({ leader: soft.leader, role: soft.role });
    if (this.#transfer?.to === soft.leader) this.#transfer.request.resolve(undefined);
  }

  #send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const outbound: OutboundMessage[] = messages.map((message) => ({
      to: message.to,
      bytes: encodeMessage(message),
      snapshot: message.type === "installSnapshot",
    }));
    this.#options.transport.send(outbound);
  }

  /** Step 3: snapshot, committed entries in order, then read states. */
  #apply(raw: RawNode, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      const metadata = ready.snapshot.metadata;
      assert(metadata.index > this.#applied, () =>
        `snapshot ${metadata.index} not above applied ${this.#applied}`);
      this.#options.stateMachine.restore(ready.snapshot.data);
      this.#applied = metadata.index;
      this.#snapshotIndex = metadata.index;
      this.#confState = metadata.confState;
    }
    for (const entry of ready.committedEntries) this.#applyEntry(raw, entry);
    for (const state of ready.readStates) {
      this.#reads.confirmed(decodeContext(this.#options.id, state.context), state.index);
    }
    this.#reads.applied(this.#applied);
    if (this.#commit < this.#applied) this.#commit = this.#applied;
  }

  #applyEntry(raw: RawNode, entry: Entry): void {
    assert(entry.index === this.#applied + 1, () =>
      `applying ${entry.index} after ${this.#applied}: a gap or a repeat`);
    this.#applied = entry.index;
    switch (entry.type) {
      case EntryType.Normal: {
        const proposal = decodeProposal(entry.data);
        if (proposal === undefined) {
          this.#proposals.applied(entry.index);
          return;
        }
        const result = this.#options.stateMachine.apply({
          index: entry.index, data: proposal.payload,
        });
        const own = proposal.header.proposer === this.#options.id;
        this.#proposals.applied(entry.index,
          own ? { sequence: proposal.header.sequence, result } : undefined);
        return;
      }
      case EntryType.ConfChange:
        this.#applyConfChange(raw, entry);
        this.#proposals.applied(entry.index);
        return;
      default:
        assertNever(entry.type, "entry type");
    }
  }

  /** Applies a membership change to the core and points the transport at the member. */
  #applyConfChange(raw: RawNode, entry: Entry): void {
    const decoded = decodeConfChange(entry.data);
    assert(decoded.ok, () => `undecodable conf change at ${entry.index}`);
    const change = decoded.value;
    this.#confState = raw.applyConfChange(change);
    const pending = this.#confChange;
    if (pending !== undefined && sameConfChange(pending.change, change)) {
      pending.request.resolve(this.#confState);
    }
    if (change.nodeId === this.#options.id) return;
    switch (change.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearner: {
        const address = new TextDecoder().decode(change.context);
        if (address !== "") this.#options.transport.setPeer(change.nodeId, address);
        return;
      }
      case ConfChangeType.RemoveNode:
        this.#options.transport.removePeer(change.nodeId);
        return;
      default:
        assertNever(change.type, "conf change type");
    }
  }

  /**
   * Every snapshotEntries applied entries: snapshot the state machine, compact the log. A
   * state machine that can snapshot in slices is captured now and encoded and saved in the
   * background while the loop goes on (one such job at a time); otherwise the loop waits.
   */
  async #maybeSnapshot(): Promise<void> {
    if (this.#snapshotJob !== undefined) return;
    const every = this.#options.snapshotEntries ?? limits.raftSnapshotEntriesDefault;
    if (this.#applied - this.#snapshotIndex < every) return;
    const keep = this.#options.snapshotCatchUpEntries ?? limits.raftSnapshotCatchUpEntries;
    const index = this.#applied;
    const compactIndex = Math.max(this.#snapshotIndex, index - keep) as LogIndex;
    const confState = this.#confState;
    const machine = this.#options.stateMachine;
    if (machine.snapshotInSlices === undefined) {
      await this.#saveSnapshot(index, confState, machine.snapshot(), compactIndex);
      return;
    }
    const data = machine.snapshotInSlices(limits.snapshotSliceBytes);
    this.#snapshotJob = (async () => {
      const bytes = await data;
      if (!this.#closing) await this.#saveSnapshot(index, confState, bytes, compactIndex);
    })().catch((error: unknown) => { this.#fail(error); })
      .finally(() => { this.#snapshotJob = undefined; });
  }

  async #saveSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array,
    compactIndex: LogIndex): Promise<void> {
    await this.#options.storage.saveSnapshot(index, confState, data, compactIndex);
    // A snapshot received from the leader meanwhile may be newer.
    this.#snapshotIndex = Math.max(this.#snapshotIndex, index) as LogIndex;
    this.#options.logger.debug("snapshot taken", { index, compactIndex, bytes: data.length });
  }

  /** The loop died: stop everything; the owner decides (a process exits). */
  #fail(error: unknown): void {
    this.#options.logger.error("raft node stopped by an error", { error });
    this.#closing = true;
    this.#tickTimer?.cancel();
    this.#tickTimer = undefined;
    this.#rejectAll();
    this.#options.onFatal?.(error);
  }

  #rejectAll(): void {
    this.#proposals.rejectAll(new EtcdError("ETCD_STOPPED"));
    this.#reads.rejectAll(new EtcdError("ETCD_STOPPED"));
    this.#confChange?.request.reject(new EtcdError("ETCD_STOPPED"));
    this.#transfer?.request.reject(new EtcdError("ETCD_STOPPED"));
  }
}

/**
 * A read context on the wire: this member's ID and the read's sequence, 8 big-endian bytes
 * each. The leader holds at most one pending read per context, so contexts must differ
 * across members (etcd-io/raft has the same rule; etcd puts a per-member request ID there).
 */
function encodeContext(id: NodeId, context: bigint): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, id);
  view.setBigUint64(8, context);
  return bytes;
}

/** The sequence of a read context of member `id`; any other context maps to -1n. */
function decodeContext(id: NodeId, bytes: Uint8Array): bigint {
  if (bytes.length !== 16) return -1n;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return view.getBigUint64(0) === id ? view.getBigUint64(8) : -1n;
}
