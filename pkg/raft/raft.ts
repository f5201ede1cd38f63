/**
 * The Raft state machine (etcd-io/raft raft.go): roles, elections with pre-vote and check
 * quorum, replication, commitment, ReadIndex, leader transfer and single-server membership
 * changes. Pure and synchronous: inputs are `tick`, `step` and the local requests; outputs
 * accumulate in `msgs`, `readStates` and the log, and RawNode turns them into a Ready.
 *
 * Membership (documented choice): a change takes effect when the driver applies its entry
 * (`applyConfChange`), as etcd's ConfChange v1. A leader accepts a change only when the
 * previous one is applied (`pendingConfIndex <= applied`), and a new leader sets
 * `pendingConfIndex` to the index of its no-op, so it accepts no change before it has
 * committed (and applied) an entry of its own term: the raft-dev 2015 fix, slightly stricter
 * than etcd (which uses the last index before the no-op).
 */
import {
  type LogIndex,
  type NodeId,
  Prng,
  type Term,
  assert,
  assertNever,
} from "../common/index.js";
import type { ResolvedRaftConfig } from "./config.js";
import type {
  AppendEntriesMessage,
  AppendEntriesResponseMessage,
  HeartbeatResponseMessage,
  Message,
  RequestVoteMessage,
  RequestVoteResponseMessage,
} from "./message.js";
import { ProgressTracker, type Progress } from "./progress.js";
import { committedIndex, majority, voteResult, type VoteResult } from "./quorum.js";
import { RaftLog, payloadBytes } from "./raft-log.js";
import type { ProposalError } from "./raft-error.js";
import { ReadOnly, type ReadRequest } from "./read-only.js";
import type { ReadState, Role } from "./ready.js";
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type Snapshot,
  StorageError,
} from "./types.js";

const none = 0n as NodeId;
const emptyBytes = new Uint8Array(0);

type CampaignKind = "preElection" | "election" | "transfer";

/** One node's Raft state. Owned and driven by a RawNode. */
export class Raft {
  readonly id: NodeId;
  readonly config: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  term: Term = 0 as Term;
  /** The node voted for in `term`; 0n = none. */
  vote: NodeId = none;
  /** The leader of `term` as far as this node knows; 0n = unknown. */
  lead: NodeId = none;
  role: Role = "follower";
  /** Messages to hand out in the next Ready. */
  msgs: Message[] = [];
  /** Completed reads to hand out in the next Ready. */
  readStates: ReadState[] = [];
  /** Leader transfer target in progress; 0n = none. */
  leadTransferee: NodeId = none;
  /** Index of the last conf change the leader appended; none may be proposed above applied. */
  pendingConfIndex: LogIndex = 0 as LogIndex;
  /** Payload bytes the leader appended that are not yet applied (bounded by config). */
  uncommittedBytes = 0;
  readonly #votes = new Map<NodeId, boolean>();
  readonly #readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before the leader committed an entry of its term. */
  #pendingReads: ReadRequest[] = [];
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  readonly #prng: Prng;

  constructor(config: ResolvedRaftConfig) {
    this.id = config.id;
    this.config = config;
    this.#prng = new Prng(config.seed);
    this.log = new RaftLog(config.storage, config.applied);
    this.tracker = new ProgressTracker(config.maxInflightMessages, config.maxInflightBytes);
    const { hardState, confState } = config.storage.initialState();
    this.tracker.reset(confState, (this.log.lastIndex() + 1) as LogIndex);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, none);
  }

  /** The randomized election timeout of this term, in ticks, in [election, 2 * election). */
  get randomizedElectionTimeout(): number {
    return this.#randomizedElectionTimeout;
  }

  get electionElapsed(): number {
    return this.#electionElapsed;
  }

  // ---- Roles -------------------------------------------------------------------------------

  #reset(term: Term): void {
    if (this.term !== term) {
      assert(term > this.term, () => `term moves back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = none;
    }
    this.lead = none;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    const election = this.config.electionTicks;
    this.#randomizedElectionTimeout = election + this.#prng.intBelow(election);
    this.leadTransferee = none;
    this.#votes.clear();
    this.tracker.reset(this.tracker.confState(), (this.log.lastIndex() + 1) as LogIndex);
    for (const [id, progress] of this.tracker.progress) progress.recentActive = id === this.id;
    this.uncommittedBytes = 0;
    this.#readOnly.reset();
    this.#pendingReads = [];
  }

  becomeFollower(term: Term, lead: NodeId): void {
    this.#reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // Term and vote stay; the leader is forgotten so that a live leader's messages (same
    // term) turn us back into a follower (etcd PR 8334).
    this.#votes.clear();
    this.lead = none;
    this.role = "preCandidate";
  }

  becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.#reset((this.term + 1) as Term);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    assert(this.role === "candidate", () => `${this.role} cannot become leader`);
    this.#reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const self = this.tracker.progress.get(this.id);
    assert(self !== undefined, "a leader must be a member");
    // The leader counts only what is durable; advance() moves this as the driver persists.
    self.maybeUpdate(this.log.persistedLastIndex());
    self.becomeReplicate();
    const appended = this.#appendEntries([
      { term: 0 as Term, index: 0 as LogIndex, type: EntryType.Normal, data: emptyBytes },
    ]);
    assert(appended, "the no-op of a new leader must fit the uncommitted limit");
    // No conf change until the no-op is applied (see the file comment).
    this.pendingConfIndex = this.log.lastIndex();
  }

  /** Whether this node may campaign: a voter without a pending incoming snapshot. */
  promotable(): boolean {
    return this.tracker.voters.has(this.id) && this.log.unstable.snapshot === undefined;
  }

  /** Asserts the invariants every step must keep, with operand values (cheap: O(1)). */
  checkInvariants(): void {
    const log = this.log;
    assert(
      log.applied <= log.committed && log.committed <= log.lastIndex(),
      () => `applied ${log.applied} <= committed ${log.committed} <= last ${log.lastIndex()}`,
    );
    assert(
      (this.role === "leader") === (this.lead === this.id),
      () => `role ${this.role} with lead ${this.lead} on node ${this.id}`,
    );
    const self = this.tracker.progress.get(this.id);
    assert(
      this.role !== "leader" || self === undefined || self.match <= log.persistedLastIndex(),
      () => `leader counts match ${self?.match} beyond durable ${log.persistedLastIndex()}`,
    );
    assert(
      this.role !== "candidate" || this.vote === this.id,
      () => `candidate ${this.id} voted for ${this.vote}`,
    );
  }

  // ---- Time --------------------------------------------------------------------------------

  tick(): void {
    if (this.role === "leader") this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.#electionElapsed += 1;
    if (this.promotable() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0;
      this.hup(false);
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed += 1;
    this.#electionElapsed += 1;
    if (this.#electionElapsed >= this.config.electionTicks) {
      this.#electionElapsed = 0;
      if (this.config.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, none); // Lost touch with a quorum: step down.
          return;
        }
        for (const [id, progress] of this.tracker.progress) progress.recentActive = id === this.id;
      }
      this.leadTransferee = none; // A transfer that did not finish in a timeout is abandoned.
    }
    if (this.#heartbeatElapsed >= this.config.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#bcastHeartbeat(this.#readOnly.lastPendingContext() ?? emptyBytes);
    }
  }

  // ---- Elections ---------------------------------------------------------------------------

  /** Starts an election if allowed (pre-vote first unless `transfer`). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.#hasUnappliedConfChanges()) return;
    if (transfer) this.#campaign("transfer");
    else this.#campaign(this.config.preVote ? "preElection" : "election");
  }

  #hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex()) as LogIndex;
    const entries = this.log.slice(lo, (this.log.committed + 1) as LogIndex, Infinity);
    return entries.ok && entries.value.some((e) => e.type === EntryType.ConfChange);
  }

  #campaign(kind: CampaignKind): void {
    let voteTerm: Term;
    if (kind === "preElection") {
      this.becomePreCandidate();
      voteTerm = (this.term + 1) as Term;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.#poll(this.id, true) === "won") {
      // A single voter: won at once.
      if (kind === "preElection") this.#campaign("election");
      else this.becomeLeader();
      return;
    }
    const voters = [...this.tracker.voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const to of voters) {
      if (to === this.id) continue;
      this.msgs.push({
        type: "requestVote", from: this.id, to, term: voteTerm,
        preVote: kind === "preElection", logTerm: this.log.lastTerm(),
        index: this.log.lastIndex(), transfer: kind === "transfer",
      });
    }
  }

  #poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.#votes.has(from)) this.#votes.set(from, granted);
    return voteResult(this.tracker.voters, this.#votes);
  }

  #handleVote(m: RequestVoteMessage): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === none && this.lead === none) ||
      (m.preVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers in the proposed term so the candidate counts it.
      this.msgs.push({
        type: "requestVoteResponse", from: this.id, to: m.from, term: m.term,
        preVote: m.preVote, reject: false,
      });
      if (!m.preVote) {
        this.#electionElapsed = 0;
        this.vote = m.from;
      }
      return;
    }
    this.msgs.push({
      type: "requestVoteResponse", from: this.id, to: m.from, term: this.term,
      preVote: m.preVote, reject: true,
    });
  }

  #handleVoteResponse(m: RequestVoteResponseMessage): void {
    if (m.preVote !== (this.role === "preCandidate")) return; // A response to another round.
    if (!this.tracker.voters.has(m.from)) return;
    const result = this.#poll(m.from, !m.reject);
    if (result === "won") {
      if (this.role === "preCandidate") {
        this.#campaign("election");
      } else {
        this.becomeLeader();
        this.#bcastAppend();
      }
    } else if (result === "lost") {
      this.becomeFollower(this.term, none);
    }
  }

  // ---- The one door ------------------------------------------------------------------------

  /**
   * Handles a message from a peer (or a forwarded local request, whose `term` is 0). Returns a
   * ProposalError only for a propose this node refused; other refusals are silent, as in
   * Raft a dropped message is always allowed.
   */
  step(m: Message): ProposalError | undefined {
    if (m.term !== 0 && !this.#checkTerm(m)) return undefined;
    switch (m.type) {
      case "requestVote":
        this.#handleVote(m);
        return undefined;
      case "propose":
        return this.propose(m.entries, m.from);
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        this.#stepLeader(m);
        return undefined;
      case "candidate":
      case "preCandidate":
        this.#stepCandidate(m);
        return undefined;
      case "follower":
        this.#stepFollower(m);
        return undefined;
      default:
        return assertNever(this.role, "role");
    }
  }

  /** Applies the term rules of §5.1 and §9.6; returns whether to go on handling `m`. */
  #checkTerm(m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === "requestVote") {
        // Leader stickiness: while we hear from a live leader, refuse to help unseat it,
        // unless the leader itself asked for the election (transfer).
        const inLease = this.config.checkQuorum && this.lead !== none &&
          this.#electionElapsed < this.config.electionTicks;
        if (inLease && !m.transfer) return false;
        if (m.preVote) return true; // A pre-vote never changes our term.
      }
      if (m.type === "requestVoteResponse" && m.preVote && !m.reject) return true;
      const fromLeader = m.type === "appendEntries" || m.type === "heartbeat" ||
        m.type === "installSnapshot";
      this.becomeFollower(m.term, fromLeader ? m.from : none);
      return true;
    }
    if (m.term < this.term) {
      this.#answerStaleTerm(m);
      return false;
    }
    return true;
  }

  #answerStaleTerm(m: Message): void {
    const fromStaleLeader = m.type === "appendEntries" || m.type === "heartbeat";
    if (fromStaleLeader && (this.config.checkQuorum || this.config.preVote)) {
      // Tell a deposed leader our term so it steps down; with pre-vote it may otherwise
      // never learn it (its followers ignore it and it cannot win a pre-vote).
      this.msgs.push({
        type: "appendEntriesResponse", from: this.id, to: m.from, term: this.term,
        index: 0 as LogIndex, reject: false, rejectHint: 0 as LogIndex, logTerm: 0 as Term,
      });
    } else if (m.type === "requestVote" && m.preVote) {
      this.msgs.push({
        type: "requestVoteResponse", from: this.id, to: m.from, term: this.term,
        preVote: true, reject: true,
      });
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case "appendEntries":
        this.#electionElapsed = 0;
        this.lead = m.from;
        this.#handleAppendEntries(m);
        return;
      case "heartbeat":
        this.#electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(m.commit);
        this.msgs.push({
          type: "heartbeatResponse", from: this.id, to: m.from, term: this.term,
          context: m.context,
        });
        return;
      case "installSnapshot":
        this.#electionElapsed = 0;
        this.lead = m.from;
        this.#handleSnapshot(m.snapshot, m.from);
        return;
      case "timeoutNow":
        this.hup(true);
        return;
      case "transferLeader":
        this.transferLeader(m.transferee); // Forwards it on to the leader we know.
        return;
      case "readIndexResponse":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case "appendEntries":
      case "heartbeat":
      case "installSnapshot":
        // A leader of our term exists: we lost.
        this.becomeFollower(m.term, m.from);
        this.#stepFollower(m);
        return;
      case "requestVoteResponse":
        this.#handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  #stepLeader(m: Message): void {
    switch (m.type) {
      case "readIndex":
        this.readIndex(m.context, m.from);
        return;
      case "transferLeader":
        this.transferLeader(m.transferee);
        return;
      case "appendEntriesResponse":
      case "heartbeatResponse": {
        const progress = this.tracker.progress.get(m.from);
        if (progress === undefined) return;
        progress.recentActive = true;
        if (m.type === "appendEntriesResponse") this.#handleAppendResponse(m, progress);
        else this.#handleHeartbeatResponse(m, progress);
        return;
      }
      default:
        return;
    }
  }

  // ---- Follower replication ----------------------------------------------------------------

  #respondAppend(to: NodeId, index: LogIndex, reject?: { hint: LogIndex; term: Term }): void {
    this.msgs.push({
      type: "appendEntriesResponse", from: this.id, to, term: this.term, index,
      reject: reject !== undefined, rejectHint: reject?.hint ?? (0 as LogIndex),
      logTerm: reject?.term ?? (0 as Term),
    });
  }

  #handleAppendEntries(m: AppendEntriesMessage): void {
    if (m.index < this.log.committed) {
      // Everything up to committed already matches: a stale or duplicate message.
      this.#respondAppend(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.#respondAppend(m.from, lastNew);
      return;
    }
    const probe = Math.min(m.index, this.log.lastIndex()) as LogIndex;
    const hint = this.log.findConflictByTerm(probe, m.logTerm);
    this.#respondAppend(m.from, m.index, { hint: hint.index, term: hint.term });
  }

  #handleSnapshot(snapshot: Snapshot, from: NodeId): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.log.committed) {
      // Stale: we already have (and may have applied) everything it holds.
      this.#respondAppend(from, this.log.committed);
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // Our log already contains the snapshot's last entry: just commit up to it.
      this.log.commitTo(index);
      this.#respondAppend(from, this.log.committed);
      return;
    }
    this.log.restore(snapshot);
    this.tracker.reset(snapshot.metadata.confState, (this.log.lastIndex() + 1) as LogIndex);
    this.#respondAppend(from, this.log.lastIndex());
  }

  // ---- Leader replication ------------------------------------------------------------------

  /** Sends one append (or a snapshot) to `to` if its window allows; returns whether sent. */
  #sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.progress.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const previousIndex = (progress.next - 1) as LogIndex;
    const previousTerm = this.log.term(previousIndex);
    const entries = this.log.entriesFrom(
      progress.next, this.config.maxMessageBytes, this.config.maxEntriesPerMessage,
    );
    if (!previousTerm.ok || !entries.ok) {
      const error = previousTerm.ok ? (entries.ok ? undefined : entries.error) : previousTerm.error;
      assert(error === StorageError.Compacted, () => `log read for ${to} failed: ${error}`);
      return this.#sendSnapshot(to, progress);
    }
    if (entries.value.length === 0 && !sendIfEmpty) return false;
    this.msgs.push({
      type: "appendEntries", from: this.id, to, term: this.term, logTerm: previousTerm.value,
      index: previousIndex, entries: entries.value, commit: this.log.committed,
    });
    const last = entries.value[entries.value.length - 1];
    const lastIndex = last === undefined ? previousIndex : last.index;
    progress.sentEntries(lastIndex, payloadBytes(entries.value), entries.value.length);
    return true;
  }

  #sendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive) return false; // Not worth a snapshot until it answers.
    const snapshot = this.log.snapshot();
    if (!snapshot.ok) return false; // Temporarily unavailable: retry on a later trigger.
    const index = snapshot.value.metadata.index;
    assert(index > 0, () => `snapshot for ${to} is empty though its entries are compacted`);
    this.msgs.push({
      type: "installSnapshot", from: this.id, to, term: this.term, snapshot: snapshot.value,
    });
    progress.becomeSnapshot(index);
    return true;
  }

  #bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) {
      if (id !== this.id) this.#sendAppend(id, true);
    }
  }

  #bcastHeartbeat(context: Uint8Array): void {
    for (const [to, progress] of this.tracker.progress) {
      if (to === this.id) continue;
      const commit = Math.min(progress.match, this.log.committed) as LogIndex;
      this.msgs.push({ type: "heartbeat", from: this.id, to, term: this.term, commit, context });
    }
  }

  #handleAppendResponse(m: AppendEntriesResponseMessage, progress: Progress): void {
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (progress.maybeDecrTo(m.index, hint)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    if (!progress.maybeUpdate(m.index)) return;
    if (progress.state === "probe") {
      progress.becomeReplicate();
    } else if (progress.state === "snapshot") {
      if (progress.match + 1 >= this.log.firstIndex()) {
        progress.becomeProbe();
        progress.becomeReplicate();
      }
    } else {
      progress.inflights.freeLE(m.index);
    }
    if (this.#maybeCommit()) this.#bcastAppend();
    // Bounded: each send fills the window or drains the log.
    while (this.#sendAppend(m.from, false));
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.msgs.push({ type: "timeoutNow", from: this.id, to: m.from, term: this.term });
    }
  }

  #handleHeartbeatResponse(m: HeartbeatResponseMessage, progress: Progress): void {
    progress.probeSent = false;
    if (progress.state === "replicate" && progress.inflights.full()) {
      progress.inflights.freeFirstOne();
    }
    if (progress.match < this.log.lastIndex()) this.#sendAppend(m.from, true);
    if (m.context.length === 0) return;
    const acks = this.#readOnly.recvAck(m.from, m.context);
    if (acks === undefined) return;
    let voterAcks = 0;
    for (const id of acks) if (this.tracker.voters.has(id)) voterAcks += 1;
    if (voterAcks < majority(this.tracker.voters.size)) return;
    for (const request of this.#readOnly.advance(m.context)) this.#respondRead(request);
  }

  /** Advances commit from the voters' durable matches; returns whether it moved. */
  #maybeCommit(): boolean {
    const index = committedIndex(
      this.tracker.voters,
      (id) => this.tracker.progress.get(id)?.match ?? (0 as LogIndex),
    );
    if (!this.log.maybeCommit(index, this.term)) return false;
    this.#releasePendingReads();
    return true;
  }

  /**
   * The driver persisted the log up to the unstable offset (RawNode.advance). A leader now
   * counts its own entries toward commit: only durable entries ever count.
   */
  onPersisted(): void {
    if (this.role !== "leader") return;
    const self = this.tracker.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(this.log.persistedLastIndex()) && this.#maybeCommit()) {
      this.#bcastAppend();
    }
  }

  /** The driver applied `entries` payload bytes: they no longer count as uncommitted. */
  reduceUncommitted(bytes: number): void {
    if (this.role !== "leader") return;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  // ---- Local requests ----------------------------------------------------------------------

  /** Assigns term and index and appends, unless over the uncommitted limit. */
  #appendEntries(entries: readonly Entry[]): boolean {
    const bytes = payloadBytes(entries);
    const limit = this.config.maxUncommittedBytes;
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > limit) {
      return false;
    }
    const last = this.log.lastIndex();
    const stamped = entries.map((entry, i) => ({
      term: this.term, index: (last + 1 + i) as LogIndex, type: entry.type, data: entry.data,
    }));
    this.uncommittedBytes += bytes;
    this.log.append(stamped);
    return true;
  }

  /**
   * Proposes entries from `from` (this node, or a follower that forwarded them). A leader
   * refuses a conf change while another is pending: a local proposal gets an error, a
   * forwarded one becomes a no-op entry (etcd's behaviour, the sender cannot be told).
   */
  propose(entries: readonly Entry[], from: NodeId): ProposalError | undefined {
    if (this.role !== "leader") {
      if (this.role !== "follower" || this.lead === none) return "no-leader";
      this.msgs.push({ type: "propose", from: this.id, to: this.lead, term: 0 as Term, entries });
      return undefined;
    }
    if (!this.tracker.progress.has(this.id)) return "not-member";
    if (this.leadTransferee !== none) return "transfer-in-progress";
    const accepted: Entry[] = [];
    let confIndex = this.pendingConfIndex;
    for (const entry of entries) {
      if (entry.type !== EntryType.ConfChange) {
        accepted.push(entry);
      } else if (confIndex > this.log.applied) {
        if (from === this.id) return "conf-change-pending";
        accepted.push({ ...entry, type: EntryType.Normal, data: emptyBytes });
      } else {
        confIndex = (this.log.lastIndex() + accepted.length + 1) as LogIndex;
        accepted.push(entry);
      }
    }
    if (!this.#appendEntries(accepted)) return "uncommitted-limit";
    this.pendingConfIndex = confIndex;
    this.#bcastAppend();
    return undefined;
  }

  /**
   * Starts a ReadIndex round for `context` on behalf of `from`. Safe mode: the read index is
   * the commit index once a quorum confirms this node is still leader; a new leader waits
   * until it has committed an entry of its term (its commit index is only then current).
   */
  readIndex(context: Uint8Array, from: NodeId): void {
    if (this.role !== "leader") {
      if (this.lead !== none) {
        this.msgs.push({ type: "readIndex", from: this.id, to: this.lead, term: 0 as Term, context });
      }
      return;
    }
    const request: ReadRequest = { index: this.log.committed, from, context };
    if (this.log.termOrZero(this.log.committed) !== this.term) {
      this.#pendingReads.push(request);
      return;
    }
    this.#startRead(request);
  }

  #startRead(request: ReadRequest): void {
    if (this.tracker.voters.size === 1 && this.tracker.voters.has(this.id)) {
      this.#respondRead(request);
      return;
    }
    this.#readOnly.addRequest(request);
    this.#readOnly.recvAck(this.id, request.context);
    this.#bcastHeartbeat(request.context);
  }

  #releasePendingReads(): void {
    if (this.#pendingReads.length === 0) return;
    if (this.log.termOrZero(this.log.committed) !== this.term) return;
    const pending = this.#pendingReads;
    this.#pendingReads = [];
    for (const request of pending) {
      this.#startRead({ ...request, index: this.log.committed });
    }
  }

  #respondRead(request: ReadRequest): void {
    if (request.from === this.id) {
      this.readStates.push({ index: request.index, context: request.context });
      return;
    }
    this.msgs.push({
      type: "readIndexResponse", from: this.id, to: request.from, term: this.term,
      index: request.index, context: request.context,
    });
  }

  /** Hands leadership to `transferee` (a voter); followers forward to the leader. */
  transferLeader(transferee: NodeId): void {
    if (this.role !== "leader") {
      if (this.lead !== none) {
        this.msgs.push({
          type: "transferLeader", from: this.id, to: this.lead, term: 0 as Term, transferee,
        });
      }
      return;
    }
    const progress = this.tracker.progress.get(transferee);
    if (progress === undefined || progress.isLearner || transferee === this.id) return;
    if (this.leadTransferee === transferee) return;
    this.leadTransferee = transferee;
    this.#electionElapsed = 0; // The transfer must finish within one election timeout.
    if (progress.match === this.log.lastIndex()) {
      this.msgs.push({ type: "timeoutNow", from: this.id, to: transferee, term: this.term });
    } else {
      this.#sendAppend(transferee, true);
    }
  }

  /** The transport could not reach `id`: stop pipelining to it. */
  reportUnreachable(id: NodeId): void {
    const progress = this.tracker.progress.get(id);
    if (this.role === "leader" && progress?.state === "replicate") progress.becomeProbe();
  }

  /** The driver finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, succeeded: boolean): void {
    const progress = this.tracker.progress.get(id);
    if (this.role !== "leader" || progress?.state !== "snapshot") return;
    if (!succeeded) progress.pendingSnapshot = 0 as LogIndex;
    progress.becomeProbe();
    // Wait for the follower's answer (or a heartbeat response) before probing again.
    progress.probeSent = true;
  }

  /** Applies a committed membership change (called by the driver during apply). */
  applyConfChange(cc: ConfChange): ConfState {
    const next = (this.log.lastIndex() + 1) as LogIndex;
    switch (cc.type) {
      case ConfChangeType.AddNode:
        this.tracker.setMember(cc.nodeId, false, next);
        break;
      case ConfChangeType.AddLearner:
        // Demoting a voter is not supported by single-server changes: ignored.
        if (!this.tracker.voters.has(cc.nodeId)) this.tracker.setMember(cc.nodeId, true, next);
        break;
      case ConfChangeType.RemoveNode:
        this.tracker.remove(cc.nodeId);
        break;
      default:
        assertNever(cc.type, "conf change type");
    }
    if (this.role === "leader") this.#afterLeaderConfChange();
    return this.tracker.confState();
  }

  #afterLeaderConfChange(): void {
    if (!this.tracker.voters.has(this.id)) {
      // Removed (or never a voter): the change is committed, so hand over by stepping down.
      this.becomeFollower(this.term, none);
      return;
    }
    if (this.leadTransferee !== none && !this.tracker.voters.has(this.leadTransferee)) {
      this.leadTransferee = none;
    }
    this.#maybeCommit(); // The quorum may have shrunk.
    this.#bcastAppend();
  }
}
