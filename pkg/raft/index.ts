/**
 * pkg/raft: the pure Raft core. Drive a `RawNode` by the contract on `Ready`; keep its log in a
 * `Storage` (`MemoryStorage` in memory); ship `Message`s with `encodeMessage`/`decodeMessage`.
 */
export {
  EntryType,
  type Entry,
  type HardState,
  type ConfState,
  ConfChangeType,
  type ConfChange,
  type SnapshotMetadata,
  type Snapshot,
  StorageError,
  type Storage,
} from "./types.js";
export {
  type Message,
  type MessageType,
  type AppendEntriesMessage,
  type AppendEntriesResponseMessage,
  type RequestVoteMessage,
  type RequestVoteResponseMessage,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type InstallSnapshotMessage,
  type TimeoutNowMessage,
  type ReadIndexMessage,
  type ReadIndexResponseMessage,
  type ProposeMessage,
  type TransferLeaderMessage,
  messageTypes,
} from "./message.js";
export { type Ready, type Role, type SoftState, type ReadState } from "./ready.js";
export { encodeMessage, decodeMessage, encodeConfChange, decodeConfChange } from "./codec.js";
export { type RaftConfig, type ResolvedRaftConfig, validateConfig } from "./config.js";
export { type ProposalError, type RequestError, type StepError } from "./raft-error.js";
export { type Status, type ProgressStatus, type ProgressState } from "./status.js";
export { RawNode } from "./raw-node.js";
export { MemoryStorage } from "./memory-storage.js";
