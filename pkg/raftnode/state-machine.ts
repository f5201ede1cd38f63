/**
 * The replicated state machine seam (STYLE rule 4; hashicorp/raft's FSM): what the driver
 * applies committed entries to. `ChecksumListStateMachine` (state-machine-list.ts) is the
 * small one tests use; pkg/etcdserver provides the real one.
 */
import type { LogIndex } from "../common/index.js";

/** One committed application entry, as the state machine sees it. */
export interface AppliedEntry {
  readonly index: LogIndex;
  /** The proposal's payload: what `RaftNode.propose` was given (never empty). */
  readonly data: Uint8Array;
}

/**
 * A deterministic state machine. The driver calls it from one place, in log order, never
 * concurrently: `restore` when a snapshot is installed (or at start), then `apply` for each
 * committed application entry with an index above the last one applied.
 *
 * @typeParam Result the value `apply` produces for an entry; returned to the proposer by
 *   `RaftNode.propose` on the node that proposed it (and discarded on the others).
 */
export interface StateMachine<Result> {
  /**
   * Applies one entry and returns its result. Synchronous and deterministic: every replica
   * applying the same entries in the same order reaches the same state. An operating failure
   * of the request belongs in `Result` (etcd's failed txn compare), not in a throw; a throw
   * is a bug and stops the node.
   */
  apply(entry: AppliedEntry): Result;
  /**
   * Serializes the state as of the last applied entry. Must be cheap enough to call every
   * snapshotEntries applies (the driver persists the bytes).
   */
  snapshot(): Uint8Array;
  /**
   * Optional: the bytes `snapshot()` would return now, made over later turns of the event
   * loop (about `sliceBytes` of work a turn). The state must be captured before this returns:
   * the driver goes on applying entries while the promise is pending. A large state is then
   * snapshotted without stalling heartbeats, applies and clients.
   */
  snapshotInSlices?(sliceBytes: number): Promise<Uint8Array>;
  /** Replaces the whole state with one produced by `snapshot` (possibly on another node). */
  restore(data: Uint8Array): void;
}
