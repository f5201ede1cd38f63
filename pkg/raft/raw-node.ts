/**
 * `RawNode`: the synchronous, single-threaded API of the Raft core (etcd-io/raft rawnode.go).
 * Everything enters through its methods; everything leaves through `ready()`, which the driver
 * handles by the contract documented on `Ready`, then calls `advance()`.
 */
import {
  type LogIndex,
  type NodeId,
  type Result,
  type Term,
  assert,
  err,
  ok,
} from "../common/index.js";
import { encodeConfChange } from "./codec.js";
import { type RaftConfig, validateConfig } from "./config.js";
import type { Message } from "./message.js";
import { Raft } from "./raft.js";
import { payloadBytes } from "./raft-log.js";
import type { ProposalError, RequestError, StepError } from "./raft-error.js";
import type { Ready, SoftState } from "./ready.js";
import type { ProgressStatus, Status } from "./status.js";
import { type ConfChange, type ConfState, EntryType, type HardState } from "./types.js";

/** Message types a leader may send before its own entries are durable (see `Ready`). */
const earlyTypes: ReadonlySet<Message["type"]> = new Set([
  "appendEntries",
  "heartbeat",
  "installSnapshot",
]);

/**
 * One Raft node. Owned by one driver; not re-entrant. Methods other than `ready`/`advance`
 * may be called at any time, including between a `ready()` and its `advance()`.
 */
export class RawNode {
  readonly #raft: Raft;
  #previousSoft: SoftState;
  #previousHard: HardState;
  /** The Ready handed out and not yet advanced. */
  #outstanding: Ready | undefined = undefined;

  /**
   * Builds a node from its configuration and storage (a restart when storage holds state).
   * Throws an AssertionError on an invalid configuration: call `validateConfig` first to
   * report it as an operating error.
   */
  constructor(config: RaftConfig) {
    const resolved = validateConfig(config);
    assert(resolved.ok, () => `invalid raft config: ${resolved.ok ? "" : resolved.error}`);
    this.#raft = new Raft(resolved.value);
    this.#previousSoft = this.#softState();
    this.#previousHard = config.storage.initialState().hardState;
  }

  /** Advances logical time by one tick (election and heartbeat timers). */
  tick(): void {
    this.#raft.tick();
    this.#raft.checkInvariants();
  }

  /**
   * Handles a message from a peer. Errors: `wrong-recipient` when `to` is not this node.
   * Messages from non-members and stale terms are ignored (Raft tolerates drops).
   */
  step(message: Message): Result<void, StepError> {
    if (message.to !== this.#raft.id) return err("wrong-recipient");
    this.#raft.step(message);
    this.#raft.checkInvariants();
    return ok(undefined);
  }

  /** Starts an election now (pre-vote first when enabled), as if the timer fired. */
  campaign(): void {
    this.#raft.hup(false);
  }

  /**
   * Proposes `data` for the log. On a follower it is forwarded to the leader (ok means sent,
   * not committed). Errors: see ProposalError. Commitment shows in Ready.committedEntries.
   */
  propose(data: Uint8Array): Result<void, ProposalError> {
    const entry = { term: 0 as Term, index: 0 as LogIndex, type: EntryType.Normal, data };
    const error = this.#raft.propose([entry], this.#raft.id);
    return error === undefined ? ok(undefined) : err(error);
  }

  /**
   * Proposes a membership change. A leader refuses it (`conf-change-pending`) while another
   * change is unapplied or before it has committed an entry of its term.
   */
  proposeConfChange(cc: ConfChange): Result<void, ProposalError> {
    const data = encodeConfChange(cc);
    const entry = { term: 0 as Term, index: 0 as LogIndex, type: EntryType.ConfChange, data };
    const error = this.#raft.propose([entry], this.#raft.id);
    return error === undefined ? ok(undefined) : err(error);
  }

  /**
   * Applies a committed ConfChange entry's change (decode it with `decodeConfChange`); call
   * it during apply, in log order. Returns the new configuration, to store with snapshots.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.#raft.applyConfChange(cc);
  }

  /**
   * Requests a linearizable read point; `context` must be unique per request. The answer
   * arrives as a ReadState in a later Ready, or never (leader change): retry with a new
   * context after a timeout. Errors: `no-leader`.
   */
  readIndex(context: Uint8Array): Result<void, RequestError> {
    if (this.#raft.role !== "leader" && this.#raft.lead === 0n) return err("no-leader");
    this.#raft.readIndex(context, this.#raft.id);
    return ok(undefined);
  }

  /** Asks the leader to hand leadership to voter `to`. Errors: `no-leader`, `not-voter`. */
  transferLeader(to: NodeId): Result<void, RequestError> {
    if (!this.#raft.tracker.voters.has(to)) return err("not-voter");
    if (this.#raft.role !== "leader" && this.#raft.lead === 0n) return err("no-leader");
    this.#raft.transferLeader(to);
    return ok(undefined);
  }

  /** The transport failed to deliver to `id`; the leader falls back to probing it. */
  reportUnreachable(id: NodeId): void {
    this.#raft.reportUnreachable(id);
  }

  /** The transport finished sending the snapshot in an installSnapshot message to `id`. */
  reportSnapshot(id: NodeId, succeeded: boolean): void {
    this.#raft.reportSnapshot(id, succeeded);
  }

  #softState(): SoftState {
    return { leader: this.#raft.lead, role: this.#raft.role };
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }

  /** Whether `ready()` has work. False while a Ready awaits its `advance()`. */
  hasReady(): boolean {
    if (this.#outstanding !== undefined) return false;
    const raft = this.#raft;
    const soft = this.#softState();
    const hard = this.#hardState();
    return (
      soft.leader !== this.#previousSoft.leader ||
      soft.role !== this.#previousSoft.role ||
      !sameHardState(hard, this.#previousHard) ||
      raft.log.unstable.snapshot !== undefined ||
      raft.log.unstable.entries.length > 0 ||
      raft.log.hasNextCommittedEntries() ||
      raft.msgs.length > 0 ||
      raft.readStates.length > 0
    );
  }

  /**
   * Collects the pending work into a Ready (see its contract). Must be followed by exactly
   * one `advance()` before the next `ready()`.
   */
  ready(): Ready {
    assert(this.#outstanding === undefined, "ready() called again before advance()");
    const raft = this.#raft;
    const soft = this.#softState();
    const hard = this.#hardState();
    const previous = this.#previousHard;
    const voteChanged = hard.term !== previous.term || hard.vote !== previous.vote;
    const entries = raft.log.unstable.entries.slice();
    const snapshot = raft.log.unstable.snapshot;
    const messages: Message[] = [];
    const earlyMessages: Message[] = [];
    for (const m of raft.msgs) {
      const early = raft.role === "leader" && !voteChanged && earlyTypes.has(m.type) &&
        m.term === raft.term;
      (early ? earlyMessages : messages).push(m);
    }
    const softChanged = soft.leader !== this.#previousSoft.leader ||
      soft.role !== this.#previousSoft.role;
    const ready: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(sameHardState(hard, this.#previousHard) ? {} : { hardState: hard }),
      ...(snapshot === undefined ? {} : { snapshot }),
      entries,
      committedEntries: raft.log.nextCommittedEntries(),
      messages,
      earlyMessages,
      readStates: raft.readStates,
      mustSync: voteChanged || entries.length > 0 || snapshot !== undefined,
    };
    raft.msgs = [];
    raft.readStates = [];
    this.#previousSoft = soft;
    this.#previousHard = hard;
    this.#outstanding = ready;
    return ready;
  }

  /**
   * Tells the core the last Ready was handled: persisted, sent and applied. The entries
   * become stable (a leader counts them toward commit only now) and `applied` advances.
   */
  advance(): void {
    const ready = this.#outstanding;
    assert(ready !== undefined, "advance() without an outstanding ready()");
    const log = this.#raft.log;
    if (ready.snapshot !== undefined) {
      log.unstable.stableSnapshotTo(ready.snapshot.metadata.index);
      log.appliedTo(ready.snapshot.metadata.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) log.unstable.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      log.appliedTo(lastCommitted.index);
      this.#raft.reduceUncommitted(payloadBytes(ready.committedEntries));
    }
    this.#outstanding = undefined;
    this.#raft.onPersisted();
    this.#raft.checkInvariants();
  }

  /** The index the state machine has applied (as reported through advance). */
  applied(): LogIndex {
    return this.#raft.log.applied;
  }

  /** A copy of the node's state; `progress` only on the leader. */
  status(): Status {
    const raft = this.#raft;
    const base = {
      id: raft.id, term: raft.term, vote: raft.vote, commit: raft.log.committed,
      applied: raft.log.applied, lastIndex: raft.log.lastIndex(), lead: raft.lead,
      role: raft.role, leadTransferee: raft.leadTransferee,
    };
    if (raft.role !== "leader") return base;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, p] of raft.tracker.progress) progress.set(id, p.status());
    return { ...base, progress };
  }

  /** The current configuration. */
  confState(): ConfState {
    return this.#raft.tracker.confState();
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
