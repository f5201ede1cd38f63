/** pkg/raftnode: the only Raft I/O — WAL, snapshot store, peer transport, driver loop. */
export {
  type OutboundMessage, type Transport, type TransportHandler,
} from "./transport.js";
export { MemoryNetwork, MemoryTransport } from "./transport-memory.js";
export { GrpcTransport, type GrpcTransportOptions, type TransportTls } from "./transport-grpc.js";
export { type AppendFile, type FileIo, NodeFileIo } from "./file-io.js";
export { CrashedFileError, InjectedSyncError, MemoryFileIo } from "./file-io-memory.js";
export {
  RecordType, type SegmentHeader, type SnapshotMarker, type WalRecord, encodeRecord,
  recordFrameBytes,
} from "./record.js";
export { type PositionedRecord, type ScanResult, scanRecords } from "./record-reader.js";
export { type WalBatch, type WalOpened, type WalOptions, Wal } from "./wal.js";
export { ReplayError, WalReplay } from "./wal-replay.js";
export { parseSegmentFileName, segmentFileName } from "./wal-segment-name.js";
export { MemorySnapshotStore, type SnapshotStore } from "./snapshot-store.js";
export {
  FileSnapshotStore, type FileSnapshotStoreOptions, snapshotFileName,
} from "./snapshot-store-file.js";
export {
  decodeSnapshotFile, encodeSnapshotFile, encodeSnapshotFileInSlices,
} from "./snapshot-store-codec.js";
export {
  DiskStorage, type DiskStorageState, type SnapshotOutOfDate, emptyHardState, emptySnapshot,
  snapshotOutOfDate,
} from "./disk-storage.js";
export {
  type DiskStorageOptions, type OpenedDiskStorage, openDiskStorage,
} from "./disk-storage-open.js";
export { type AppliedEntry, type StateMachine } from "./state-machine.js";
export { ChecksumListStateMachine, type ListApplyResult } from "./state-machine-list.js";
export { type NodeStorage, type PersistUpdate, MemoryNodeStorage } from "./raft-node-storage.js";
export { DiskNodeStorage, type DiskNodeStorageOptions } from "./raft-node-disk-storage.js";
export { RaftNode, type RaftNodeOptions, type RaftNodeStatus } from "./raft-node.js";
export { ReadyPhases } from "./raft-node-phases.js";
export {
  type ProposalHeader, PendingProposals, decodeProposal, encodeProposal, proposalHeaderBytes,
} from "./proposal.js";
export { Inbox, type InboxBatch, type InboxProposal } from "./inbox.js";
export { PendingReads } from "./raft-node-reads.js";
