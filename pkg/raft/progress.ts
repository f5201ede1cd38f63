/**
 * The leader's view of each follower's log (etcd-io/raft tracker/progress.go): match and next
 * indexes, the replication state machine (probe → replicate, snapshot) and the in-flight window.
 */
import { type LogIndex, type NodeId, assert } from "../common/index.js";
import { Inflights } from "./inflights.js";
import type { ProgressState, ProgressStatus } from "./status.js";
import type { ConfState } from "./types.js";

/** One follower's replication progress. Invariant: match < next. */
export class Progress {
  /** Highest index known to be in the follower's log (acknowledged). */
  match: LogIndex;
  /** Next index to send. */
  next: LogIndex;
  state: ProgressState = "probe";
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: LogIndex = 0 as LogIndex;
  /** Heard from within the current election timeout (check quorum). */
  recentActive = false;
  /** In probe state: one append is out, wait for its answer (or a heartbeat response). */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: LogIndex, inflights: Inflights, isLearner: boolean) {
    this.match = 0 as LogIndex;
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
  }

  #reset(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0 as LogIndex;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.#reset("probe");
      this.next = Math.max(this.match + 1, pending + 1) as LogIndex;
    } else {
      this.#reset("probe");
      this.next = (this.match + 1) as LogIndex;
    }
  }

  becomeReplicate(): void {
    this.#reset("replicate");
    this.next = (this.match + 1) as LogIndex;
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.#reset("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append up to `index` was acknowledged; returns whether match advanced. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1) as LogIndex;
    return updated;
  }

  /** Records that entries up to `last` were sent (optimistically, in replicate state). */
  sentEntries(last: LogIndex, bytes: number, count: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = (last + 1) as LogIndex;
        this.inflights.add(last, bytes);
      }
    } else {
      assert(this.state === "probe", () => `sent entries in state ${this.state}`);
      this.probeSent = true;
    }
  }

  /**
   * The append at `rejected` was refused; `matchHint` is where the follower's log may match.
   * Returns false when the rejection is stale (already superseded), else lowers next.
   */
  maybeDecrTo(rejected: LogIndex, matchHint: LogIndex): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = (this.match + 1) as LogIndex;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1) as LogIndex;
    this.probeSent = false;
    return true;
  }

  /** Whether sending more appends to this follower must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    };
  }
}

/** The configuration (voters and learners, disjoint) and every member's progress. */
export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly #inflightMessagesMax: number;
  readonly #inflightBytesMax: number;

  constructor(inflightMessagesMax: number, inflightBytesMax: number) {
    this.#inflightMessagesMax = inflightMessagesMax;
    this.#inflightBytesMax = inflightBytesMax;
  }

  confState(): ConfState {
    const sorted = (ids: Set<NodeId>): NodeId[] =>
      [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { voters: sorted(this.voters), learners: sorted(this.learners) };
  }

  /** Replaces the configuration; every member restarts from `next`. */
  reset(confState: ConfState, next: LogIndex): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    for (const id of confState.voters) this.setMember(id, false, next);
    for (const id of confState.learners) this.setMember(id, true, next);
  }

  /** Adds or re-roles a member, keeping its progress when it already has one. */
  setMember(id: NodeId, isLearner: boolean, next: LogIndex): void {
    (isLearner ? this.voters : this.learners).delete(id);
    (isLearner ? this.learners : this.voters).add(id);
    const existing = this.progress.get(id);
    if (existing !== undefined) {
      existing.isLearner = isLearner;
      return;
    }
    const inflights = new Inflights(this.#inflightMessagesMax, this.#inflightBytesMax);
    const progress = new Progress(next, inflights, isLearner);
    // A new member counts as active so check quorum does not depose the leader at once.
    progress.recentActive = true;
    this.progress.set(id, progress);
  }

  remove(id: NodeId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
  }

  /** Whether a majority of voters (the leader `self` included) was recently active. */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive === true) active += 1;
    }
    return active >= Math.floor(this.voters.size / 2) + 1;
  }
}
