/**
 * `Ready`: everything the core asks its driver to do, in one batch, and the contract for
 * doing it (STYLE rule 3). pkg/raftnode asserts the order; the test harness follows it exactly.
 */
import type { LogIndex, NodeId } from "../common/index.js";
import type { Message } from "./message.js";
import type { Entry, HardState, Snapshot } from "./types.js";

/** The role a node plays in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state worth reporting when it changes; never persisted. `leader` 0n = unknown. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * A completed ReadIndex request: the read identified by `context` is linearizable once the
 * state machine has applied at least `index`.
 */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

/**
 * A batch of work from `RawNode.ready()`. The driver MUST, in this order:
 *
 * 1. **Persist** `snapshot` (if present: the stable log becomes the snapshot, e.g.
 *    `MemoryStorage.applySnapshot`), then `hardState` (if present), then append `entries` to
 *    the stable log, truncating any stored entries at or after `entries[0].index` (a
 *    follower's log may be overwritten). If `mustSync`, the write must be durable (fsync)
 *    before step 2. A crash part-way must not leave `hardState.commit` beyond the stable log.
 *    `earlyMessages` may be sent before or while persisting (see below).
 * 2. **Send** `messages` (only after step 1 is durable: they may vote, acknowledge entries or
 *    reveal a term that would be lost on a crash).
 * 3. **Apply**: restore the state machine from `snapshot` if present, then apply
 *    `committedEntries` in order (calling `RawNode.applyConfChange` for each ConfChange entry),
 *    and serve the reads in `readStates` once their index is applied.
 * 4. Call **`RawNode.advance()` exactly once**, before the next `ready()`. Advance tells the
 *    core that steps 1-3 are done: the entries are stable, the committed entries applied.
 *
 * **The leader's parallel append (thesis §10.2.1).** `earlyMessages` holds only a leader's
 * appendEntries, heartbeat and installSnapshot messages, and only when this Ready changes
 * neither term nor vote (so the term they carry is already durable). They may be sent before
 * the leader's own `entries` are persisted, letting followers write in parallel with the
 * leader. This is safe because the leader counts its own log toward commit only up to the
 * last index the driver has reported durable, which it learns in `advance()`: an entry is
 * committed only when a majority really holds it on disk, with or without the leader. The
 * `commit` such messages carry was computed under the same rule. Every other message (votes,
 * responses, forwarded requests) is in `messages` and waits for step 1.
 *
 * Ownership: the arrays and entries are the driver's to read; neither side mutates them.
 */
export interface Ready {
  /** The new soft state, when it changed since the previous Ready. */
  readonly softState?: SoftState;
  /** The hard state to persist, only when it changed since the previous Ready. */
  readonly hardState?: HardState;
  /** Entries to append to the stable log, contiguous and in index order; may be empty. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist (step 1) and apply (step 3). */
  readonly snapshot?: Snapshot;
  /** Entries known committed and not yet handed out, contiguous, to apply in order. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting (step 2). */
  readonly messages: readonly Message[];
  /** Leader replication messages that may be sent before persisting (see above). */
  readonly earlyMessages: readonly Message[];
  /** Completed ReadIndex requests, in the order they completed. */
  readonly readStates: readonly ReadState[];
  /** True when step 1 must be fsync'd: term, vote or entries changed (etcd MustSync). */
  readonly mustSync: boolean;
}
