/**
 * The data types of the pure Raft core: log entries, persistent state, snapshots,
 * configuration, and the read-only Storage interface the core reads its stable log through.
 * Messages and Ready live in their own files. Shapes follow etcd-io/raft's raftpb.
 *
 * These shapes are a contract shared with pkg/raftnode (WAL, snapshot files, transport) and
 * the simulator: extend them, do not change existing fields without updating those users.
 */
import type { LogIndex, NodeId, Result, Term } from "../common/index.js";

/** The kinds of log entry. Numbers are stable: they are written to the WAL. */
export enum EntryType {
  /** Application data; an empty `data` is the no-op a new leader appends. */
  Normal = 0,
  /** A single-server membership change: `data` is an encoded `ConfChange`. */
  ConfChange = 1,
}

/** One log entry. Immutable once created; `data` is owned by the entry and never mutated. */
export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * The state Raft must persist before it sends any message that depends on it: the current
 * term, the vote cast in it (0n = none) and the commit index known durable.
 */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
}

/** The membership of the cluster: voters and learners, disjoint sets. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** The kinds of single-server membership change. Numbers are stable (encoded). */
export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearner = 2,
}

/**
 * A membership change proposed with `proposeConfChange`. Adding an existing learner as a node
 * promotes it. `context` is opaque to Raft (etcd puts the member's attributes there).
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
}

/** Describes the state a snapshot captures: everything up to and including `index`. */
export interface SnapshotMetadata {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
}

/** A snapshot: metadata plus the state machine's serialized state (opaque to Raft). */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** Why a Storage read could not be served; the core handles each (etcd-io/raft storage.go). */
export enum StorageError {
  /** The requested index is below the first index: it was compacted into a snapshot. */
  Compacted = "compacted",
  /** The requested index is above the last index. */
  Unavailable = "unavailable",
  /** The snapshot is being created; try again later. */
  SnapshotTemporarilyUnavailable = "snapshot-temporarily-unavailable",
}

/**
 * The stable log as the core sees it: read-only (the driver writes it, after a Ready).
 * Ranges are half-open: `[lo, hi)`. Returned arrays and entries belong to the caller's view
 * but must not be mutated by either side. Synchronous, because the core is pure; the durable
 * implementation serves reads from memory and the WAL is only appended to.
 */
export interface Storage {
  /** The persisted HardState and ConfState, read once when the core starts. */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /**
   * Entries in [lo, hi), at most `maxBytes` of `data` in total but always at least one entry
   * when the range is non-empty. Errors: Compacted when lo < firstIndex(); Unavailable when
   * hi > lastIndex() + 1.
   */
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Result<readonly Entry[], StorageError>;
  /**
   * The term of the entry at `index`, for index in [firstIndex() - 1, lastIndex()]: the term
   * of firstIndex() - 1 is the snapshot's term. Errors: Compacted below, Unavailable above.
   */
  term(index: LogIndex): Result<Term, StorageError>;
  /** The index of the first entry still in the log: snapshot index + 1. */
  firstIndex(): LogIndex;
  /** The index of the last entry in the log (the snapshot index when the log is empty). */
  lastIndex(): LogIndex;
  /** The most recent snapshot. Error: SnapshotTemporarilyUnavailable. */
  snapshot(): Result<Snapshot, StorageError>;
}
