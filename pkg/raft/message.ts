/**
 * The messages Raft peers exchange: a discriminated union on `type`. Every variant carries
 * `from`, `to` and `term`; the core fills them, the transport ships them opaquely (encoded by
 * codec.ts) and the receiving driver passes them to `RawNode.step`. Shapes follow etcd-io/raft's
 * raftpb.Message, split per type so that each carries only its meaningful fields.
 */
import type { LogIndex, NodeId, Term } from "../common/index.js";
import type { Entry, Snapshot } from "./types.js";

/**
 * The fields every message has. `term` is the sender's term (pre-vote: the proposed term),
 * except for the forwarded requests (propose, readIndex, transferLeader), which carry term 0
 * and are not term-checked by the receiver (as etcd's local messages).
 */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/**
 * Leader → follower: append `entries` after the entry at `index` whose term is `logTerm`
 * (the consistency check), and learn that the leader's commit index is `commit`.
 */
export interface AppendEntriesMessage extends MessageBase {
  readonly type: "appendEntries";
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
}

/**
 * Follower → leader. Accepted: the follower's log matches the leader's up to `index`.
 * Rejected: the entry at `index` did not match; `rejectHint` is an index at or below which the
 * follower's log may match, `logTerm` the follower's term there (fast back-off, thesis §5.3).
 */
export interface AppendEntriesResponseMessage extends MessageBase {
  readonly type: "appendEntriesResponse";
  readonly index: LogIndex;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  readonly logTerm: Term;
}

/**
 * Candidate → voter. `index`/`logTerm` describe the candidate's last entry. `preVote` asks
 * whether the voter would vote in term `term` without anyone changing term (thesis §9.6).
 * `transfer` marks a campaign forced by leader transfer: it overrides leader stickiness.
 */
export interface RequestVoteMessage extends MessageBase {
  readonly type: "requestVote";
  readonly preVote: boolean;
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly transfer: boolean;
}

/** Voter → candidate: the (pre-)vote is granted unless `reject`. */
export interface RequestVoteResponseMessage extends MessageBase {
  readonly type: "requestVoteResponse";
  readonly preVote: boolean;
  readonly reject: boolean;
}

/**
 * Leader → follower: keeps the follower's election timer reset and tells it `commit`, which is
 * never above what the follower is known to hold. `context` is a ReadIndex round's id (or empty).
 */
export interface HeartbeatMessage extends MessageBase {
  readonly type: "heartbeat";
  readonly commit: LogIndex;
  readonly context: Uint8Array;
}

/** Follower → leader: acknowledges a heartbeat, echoing its `context`. */
export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: "heartbeatResponse";
  readonly context: Uint8Array;
}

/** Leader → follower: replace your log with this snapshot (the entries it needs are gone). */
export interface InstallSnapshotMessage extends MessageBase {
  readonly type: "installSnapshot";
  readonly snapshot: Snapshot;
}

/** Leader → transferee: start an election now, skipping pre-vote (leader transfer). */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: "timeoutNow";
}

/** Follower → leader: a forwarded ReadIndex request identified by `context`. */
export interface ReadIndexMessage extends MessageBase {
  readonly type: "readIndex";
  readonly context: Uint8Array;
}

/** Leader → follower: the read `context` may be served once the follower applied `index`. */
export interface ReadIndexResponseMessage extends MessageBase {
  readonly type: "readIndexResponse";
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

/**
 * Follower → leader: forwarded proposals (etcd MsgProp). `entries` carry type and data only;
 * their `term` and `index` are 0 and assigned by the leader.
 */
export interface ProposeMessage extends MessageBase {
  readonly type: "propose";
  readonly entries: readonly Entry[];
}

/** Follower → leader: a forwarded request to hand leadership to `transferee`. */
export interface TransferLeaderMessage extends MessageBase {
  readonly type: "transferLeader";
  readonly transferee: NodeId;
}

/** Any Raft message. Switch on `type` and close the switch with `assertNever`. */
export type Message =
  | AppendEntriesMessage
  | AppendEntriesResponseMessage
  | RequestVoteMessage
  | RequestVoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | InstallSnapshotMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage
  | ProposeMessage
  | TransferLeaderMessage;

/** The `type` tags of `Message`, in their stable wire order (codec.ts encodes the position). */
export const messageTypes = [
  "appendEntries",
  "appendEntriesResponse",
  "requestVote",
  "requestVoteResponse",
  "heartbeat",
  "heartbeatResponse",
  "installSnapshot",
  "timeoutNow",
  "readIndex",
  "readIndexResponse",
  "propose",
  "transferLeader",
] as const satisfies readonly Message["type"][];

/** The tag of a message variant. */
export type MessageType = Message["type"];
