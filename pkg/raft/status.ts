/** A snapshot of a node's state for diagnostics, tests and the etcd Status RPC. */
import type { LogIndex, NodeId, Term } from "../common/index.js";
import type { Role } from "./ready.js";

/** How a leader replicates to one follower (etcd tracker.StateType). */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one follower's log. */
export interface ProgressStatus {
  /** Highest index known to match the leader's log. */
  readonly match: LogIndex;
  /** Next index to send. */
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  /** Whether the follower responded within the last election timeout. */
  readonly recentActive: boolean;
}

/** The node's state. `progress` is present only on the leader and includes the leader. */
export interface Status {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly lastIndex: LogIndex;
  /** 0n when unknown. */
  readonly lead: NodeId;
  readonly role: Role;
  /** A leader transfer target in progress (0n = none). */
  readonly leadTransferee: NodeId;
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}
