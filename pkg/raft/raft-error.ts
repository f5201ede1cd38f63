/**
 * Expected failures of the core's local API, returned as `Result` errors (never thrown).
 * Each is an operating condition the caller handles, usually by retrying elsewhere or later.
 */

/** Why a proposal (data, conf change) was not accepted into the log. */
export type ProposalError =
  /** No leader is known (election in progress, or partitioned): retry later. */
  | "no-leader"
  /** The leader is handing leadership over; proposals are refused until it ends. */
  | "transfer-in-progress"
  /** The leader holds maxUncommittedBytes of uncommitted entries: back off. */
  | "uncommitted-limit"
  /** A membership change is already in flight, or the leader has not yet committed an entry
   * of its term (the single-server change rule): retry after it applies. */
  | "conf-change-pending"
  /** This node is not a member of the configuration it leads (it was removed). */
  | "not-member";

/** Why a ReadIndex request or leader transfer could not start. */
export type RequestError =
  /** No leader is known. */
  | "no-leader"
  /** The target is not a voter of the current configuration. */
  | "not-voter";

/**
 * Why `RawNode.step` refused a message from the network. (Messages from non-members or stale
 * terms are not errors: Raft ignores them, as it may ignore any message.)
 */
export type StepError =
  /** The message is addressed to another node. */
  "wrong-recipient";
