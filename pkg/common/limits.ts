/**
 * Every bound in pfs, named, with its unit last and a comment on why it has this value and
 * what it costs (STYLE rule 8, TIGER_STYLE "put a limit on everything"). Relations between
 * limits are asserted when this module loads, so an inconsistent edit fails at start-up.
 * Hitting a limit at run time is an operating error (`LimitError` or an etcd error), never an
 * assertion.
 */
import { assert } from "./assert.js";

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

// ---- Raft timing (etcd's defaults: 100 ms heartbeat, 1000 ms election timeout) --------------

/** One Raft tick. etcd's heartbeat interval; all Raft timeouts are whole ticks of this. */
export const raftTickMsDefault: number = 100;
/** Heartbeat every tick: followers hear from the leader well inside the election timeout. */
export const raftHeartbeatTicksDefault: number = 1;
/** Election timeout of 10 ticks = 1 s, as etcd. Randomized in [T, 2T) to avoid split votes. */
export const raftElectionTicksDefault: number = 10;
/** Lower bound on the flag: below 5 heartbeats a single lost message triggers an election. */
export const raftElectionTicksMin: number = 5;
/** Entries per AppendEntries message: batches amortize per-message cost without huge frames. */
export const raftEntriesPerMessageMax: number = 1024;
/** Bytes per AppendEntries message (etcd MaxSizePerMsg 1 MiB): bounds peer frame size. */
export const raftMessageBytesMax: number = 1 * mebibyte;
/** Append messages in flight to one follower (etcd 512): the pipelining window. */
export const raftInflightMessagesMax: number = 512;
/** Bytes of entries in flight to one follower: with the message window, bounds leader memory. */
export const raftInflightBytesMax: number = 32 * mebibyte;
/** Uncommitted bytes a leader accepts before refusing proposals: memory bound under stalls. */
export const raftUncommittedBytesMax: number = 64 * mebibyte;
/** Entries applied since the last snapshot before taking a new one (etcd snapshot-count). */
export const raftSnapshotEntriesDefault: number = 10_000;
/** Entries kept behind a snapshot so slow followers catch up from the log, not a snapshot. */
export const raftSnapshotCatchUpEntries: number = 5_000;
/** Chunk size of a streamed snapshot: small enough for the gRPC receive limit. */
export const raftSnapshotChunkBytes: number = 512 * kibibyte;
/** WAL segment size (etcd 64 MB): the unit of purging after a snapshot. */
export const walSegmentBytes: number = 64 * mebibyte;
/** Largest single WAL record: an entry batch, bounded by the request limit with headroom. */
export const walRecordBytesMax: number = 16 * mebibyte;
/** Snapshot files kept after a purge: the newest is used; older ones are fallbacks if it rots. */
export const snapshotFilesKept: number = 3;
/**
 * Bytes a snapshot is encoded and checksummed in before the event loop gets a turn: a
 * snapshot of a large state is made while the member keeps applying and serving, and each
 * slice holds the thread for about a millisecond.
 */
export const snapshotSliceBytes: number = 256 * 1024;
/** How often the event-loop monitor's timer is due (see loop-monitor.ts). */
export const loopMonitorIntervalMs: number = 100;
/**
 * A timer this late means the thread was busy that long: warn. A tenth of etcd's 1 s
 * request-too-slow warning, since every request on the member waited out the stall.
 */
export const loopStallWarnMs: number = 100;
/** Largest snapshot file read into memory: a Buffer must hold it (V8 caps typed arrays). */
export const snapshotFileBytesMax: number = 2 * 1024 * mebibyte;

// ---- Raft transport and driver (pkg/raftnode) ----------------------------------------------

/** Messages queued for one peer (etcd streamBufSize 4096); past it a send is dropped. */
export const raftPeerQueueMessagesMax: number = 4_096;
/** Bytes queued for one peer: bounds memory when a follower is slow; Raft retransmits. */
export const raftPeerQueueBytesMax: number = 64 * mebibyte;
/** Bytes of messages in one transport frame: batches without starving other streams. */
export const raftPeerFrameBytesMax: number = 4 * mebibyte;
/** gRPC message limit of the peer service: a full frame plus framing headroom. */
export const raftPeerGrpcMessageBytesMax: number = raftPeerFrameBytesMax + 64 * kibibyte;
/** First reconnect delay after a peer stream breaks (one tick: a restarted peer is quick). */
export const raftPeerReconnectMsMin: number = 100;
/** Longest reconnect delay: one election timeout, so a peer back up is heard before long. */
export const raftPeerReconnectMsMax: number = 1_000;
/** HTTP/2 ping interval on a peer connection: finds a peer gone silent (no RST) quickly. */
export const raftPeerKeepaliveMs: number = 2_000;
/** A ping unanswered this long breaks the connection; the link then reconnects with backoff. */
export const raftPeerKeepaliveTimeoutMs: number = 2_000;
/** Largest snapshot message a receiver reassembles in memory. */
export const raftSnapshotBytesMax: number = 1024 * mebibyte;
/** Deadline of one snapshot transfer; the leader retries after reportSnapshot(failure). */
export const raftSnapshotSendMsMax: number = 60_000;
/** Received messages buffered before the transport stops reading (push back, rule 14). */
export const raftInboxMessagesSoftMax: number = 4_096;
/** Received messages buffered before new ones are dropped (Raft retransmits them). */
export const raftInboxMessagesMax: number = 16_384;
/** A proposal or read not done by then fails (etcd: 5 s request timeout + 2 elections). */
export const raftRequestTimeoutMs: number = 7_000;
/** Read-index requests waiting for the leader before refusal with "too many requests". */
export const raftPendingReadsMax: number = 5_000;

// ---- etcd v3 API (etcd 3.4 defaults; see shared/etcd-api.md §12) -----------------------------

/** etcd max-request-bytes (1.5 MiB): a bigger request is refused with "request is too large". */
export const etcdRequestBytesMax: number = 1_572_864;
/** gRPC receive limit: max-request-bytes plus 512 KiB of framing, as etcd. */
export const grpcReceiveBytesMax: number = etcdRequestBytesMax + 512 * kibibyte;
/** Operations per txn branch or compare list (etcd max-txn-ops). */
export const etcdTxnOpsMax: number = 128;
/** Proposals waiting for Raft before refusal with "too many requests" (etcd 5,000). */
export const etcdPendingProposalsMax: number = 5_000;
/** Largest lease TTL etcd accepts (9e9 s). */
export const etcdLeaseTtlSecondsMax: number = 9_000_000_000;
/**
 * Expired leases one expiry check reports for revoke: etcd revokes at most 1,000 leases a
 * second and checks every 500 ms, so 500 per batch keeps one proposal burst bounded.
 */
export const etcdLeaseRevokeBatchMax: number = 500;
/** Wait before an expired lease whose revoke has not applied is reported again (etcd 3 s). */
export const etcdLeaseRevokeRetryMs: number = 3_000;
/** Draws for a free random lease ID: with 2^63 IDs even one collision is vanishingly rare. */
export const etcdLeaseIdDrawsMax: number = 64;
/** Responses buffered per watch stream before the stream stops reading (etcd 128). */
export const etcdWatchResponsesBufferedMax: number = 128;
/** Revisions per history-replay batch of a watch (etcd 1000). */
export const etcdWatchReplayRevisionsMax: number = 1_000;
/** Watch response size at which fragmenting splits it, when asked to (etcd 2 MiB). */
export const etcdWatchFragmentBytes: number = 2 * mebibyte;
/**
 * Responses a watch stream's outbox may hold: the event bound above plus the control responses
 * (created, cancel, progress) of requests read before the service saw the push-back.
 */
export const etcdWatchOutboxResponsesMax: number = 2 * etcdWatchResponsesBufferedMax;
/** History reads per catch-up pass of one stream: bounds one pass's work (etcd syncs 512). */
export const etcdWatchCatchUpReadsMax: number = 64;
/** Period of progress notifications to idle synced watchers (etcd 10 min). */
export const etcdWatchProgressNotifyMs: number = 10 * 60 * 1000;
/** Snapshot stream chunk (etcd 32 KiB). */
export const etcdSnapshotChunkBytes: number = 32 * kibibyte;
/** Backend quota (etcd quota-backend-bytes 2 GiB): past it, NOSPACE is raised. */
export const etcdQuotaBytesDefault: number = 2 * 1024 * mebibyte;
/** Auth token lifetime (etcd 300 s). */
export const etcdAuthTokenTtlSeconds: number = 300;

// ---- etcd gRPC services (pkg/etcdserver/grpc) ------------------------------------------------

/** etcd's grpcOverheadBytes: the gRPC receive limit is max-request-bytes plus this. */
export const grpcReceiveOverheadBytes: number = 512 * kibibyte;
/**
 * Bytes etcd adds around a request when it wraps it in an InternalRaftRequest (a 2-byte tag
 * and length of the request header, a 10-byte varint request ID, the request's own tag): the
 * size compared with max-request-bytes is the request's wire size plus this and its length
 * varint, so a request near the bound is refused exactly where etcd refuses it.
 */
export const etcdProposalHeaderBytes: number = 16;
/** TTL of the lease the Lock and Election services grant when a request names none (etcd 60). */
export const etcdConcurrencySessionTtlSeconds: number = 60;
/** Snapshot payloads are padded to a multiple of this (etcdctl 3.4 checks size % 512 == 32). */
export const etcdSnapshotPaddingBytes: number = 512;
/** Responses a watch service writes per turn before yielding to other I/O. */
export const etcdWatchSendBatchResponsesMax: number = 64;
/** How long a stopping member lets running unary RPCs finish before cancelling every call. */
export const grpcShutdownGraceMs: number = 2_000;
/** Deadline of the linearizable read behind GET /health (etcd: 1 s). */
export const etcdHealthReadMs: number = 1_000;
/** Keepalive requests of one stream in flight to the backend before it stops reading. */
export const etcdLeaseKeepAliveInflightMax: number = 64;

// ---- The file system -------------------------------------------------------------------------

/** Shards when the cluster is created; fixed for the cluster's life. */
export const pfsShardsDefault: number = 16;
/** Most shards a cluster may have: each costs an election and a watch per replica. */
export const pfsShardsMax: number = 1_024;
/** Replicas of each shard (R). */
export const pfsReplicasDefault: number = 3;
/** Most replicas per shard: finishing a commit waits on W of them. */
export const pfsReplicasMax: number = 7;
/** Time-to-live of a shard master's election lease, in seconds (short: failover is quick). */
export const pfsMasterLeaseTtlSecondsDefault: number = 3;
/** Smallest master lease: etcd raises any lease below 2 s to 2 s. */
export const pfsMasterLeaseTtlSecondsMin: number = 2;
/** How long a node may be offline before it is faulty and its replicas move (SX hb_deadtime). */
export const pfsDeadTimeSecondsDefault: number = 30;
/** Longest path of a file, in bytes of UTF-8. */
export const pfsPathBytesMax: number = 4_096;
/** Smallest content-defined chunk: bounds per-chunk overhead. */
export const pfsChunkBytesMin: number = 256 * kibibyte;
/** Average content-defined chunk (target of the rolling hash). */
export const pfsChunkBytesAverage: number = 1 * mebibyte;
/** Largest content-defined chunk: bounds memory per stream and per message. */
export const pfsChunkBytesMax: number = 4 * mebibyte;
/** gRPC message limit of the pfs API and shard replication: one chunk plus framing. */
export const pfsGrpcMessageBytesMax: number = 8 * mebibyte;
/** Default pfs API port (pachd's). */
export const pfsApiPortDefault: number = 30_650;

// ---- Processes -------------------------------------------------------------------------------

/** How long a process may drain after SIGTERM before it exits anyway (under Kubernetes' 30 s). */
export const shutdownDrainMsMax: number = 10_000;
/** Default deadline of a CLI call that does not move data. */
export const cliCallDeadlineMsDefault: number = 30_000;

// ---- Relations, checked when the module loads -----------------------------------------------

assert(
  raftHeartbeatTicksDefault < raftElectionTicksDefault,
  `heartbeat ${raftHeartbeatTicksDefault} ticks must be below election ${raftElectionTicksDefault}`,
);
assert(raftElectionTicksMin <= raftElectionTicksDefault, "election ticks default below minimum");
assert(
  raftMessageBytesMax < grpcReceiveBytesMax,
  `raft message ${raftMessageBytesMax} B must fit the gRPC receive limit ${grpcReceiveBytesMax} B`,
);
assert(raftSnapshotChunkBytes < grpcReceiveBytesMax, "snapshot chunk must fit a gRPC message");
assert(raftMessageBytesMax < raftPeerFrameBytesMax, "a raft message must fit a peer frame");
assert(raftSnapshotChunkBytes < raftPeerGrpcMessageBytesMax, "snapshot chunk above peer limit");
assert(raftPeerReconnectMsMin < raftPeerReconnectMsMax, "reconnect backoff bounds inverted");
assert(raftInboxMessagesSoftMax < raftInboxMessagesMax, "inbox push-back above its hard bound");

assert(etcdRequestBytesMax < walRecordBytesMax, "a WAL record must hold the largest request");
assert(walRecordBytesMax < walSegmentBytes, "a WAL record must fit in one segment");
assert(snapshotFilesKept >= 2, "keep an older snapshot to fall back on when the newest rots");
assert(raftSnapshotCatchUpEntries < raftSnapshotEntriesDefault, "catch-up tail above snapshot count");
assert(pfsChunkBytesMin < pfsChunkBytesAverage, "chunk minimum must be below the average");
assert(pfsChunkBytesAverage < pfsChunkBytesMax, "chunk average must be below the maximum");
assert(pfsChunkBytesMax < pfsGrpcMessageBytesMax, "a chunk must fit in one pfs gRPC message");
assert(pfsReplicasDefault <= pfsReplicasMax, "default replicas above maximum");
assert(pfsShardsDefault <= pfsShardsMax, "default shards above maximum");
assert(
  pfsMasterLeaseTtlSecondsMin <= pfsMasterLeaseTtlSecondsDefault,
  "master lease default below minimum",
);
// A master renews its lease every TTL/3; the dead time must outlast many lapsed leases.
assert(
  pfsDeadTimeSecondsDefault > 3 * pfsMasterLeaseTtlSecondsDefault,
  "dead time must be well above the master lease",
);

// ---- the replicated etcd member (pkg/etcdserver/server) ----
/** How often the leader looks for expired leases (etcd's lessor checks every 500 ms). */
export const etcdLeaseExpiryCheckMs: number = 500;
/** Nesting of txns inside a replicated request; a hostile payload deeper is refused. */
export const etcdTxnNestingDepthMax: number = 4_096;
/**
 * Proposals in flight before callers wait in the push-back queue (STYLE rule 14); well below
 * etcdPendingProposalsMax so a burst waits instead of being refused.
 */
export const etcdProposalsInFlightSoftMax: number = 1_024;
/** A keepalive of an expired lease waits this long for its revoke before answering 0. */
export const etcdLeaseRevokeWaitMs: number = 5_000;
/** How long a member waits at start for its peers' address records to arrive (a joiner). */
export const etcdMemberJoinWaitMs: number = 60_000;
/** Bytes counted per stored version besides its key and value (the quota's estimate). */
export const etcdVersionOverheadBytes: number = 64;
/** Items in a replicated member or alarm list decoded from a payload (hostile bytes guard). */
export const etcdReplicatedListItemsMax: number = 65_536;
assert(etcdProposalsInFlightSoftMax < etcdPendingProposalsMax, "push-back above refusal");
assert(etcdLeaseExpiryCheckMs < etcdLeaseRevokeRetryMs, "expiry check slower than its retry");
assert(
  etcdRequestBytesMax + grpcReceiveOverheadBytes === grpcReceiveBytesMax,
  "the gRPC receive limit is max-request-bytes plus etcd's overhead",
);
assert(etcdSnapshotChunkBytes % etcdSnapshotPaddingBytes === 0, "snapshot chunks hold whole pads");

// ---- etcd auth (pkg/etcdserver/auth) ---------------------------------------------------------

/** A simple token lives this long after its last use (etcd's simple-token TTL, 300 s). */
export const etcdAuthSimpleTokenTtlMs: number = 300_000;
/** Random letters before the "." of a simple token (etcd defaultSimpleTokenLength). */
export const etcdAuthSimpleTokenLetters: number = 16;
/** Random salt per password hash: 128 bits, so equal passwords never share a hash. */
export const etcdAuthPasswordSaltBytes: number = 16;
/** scrypt output per password hash: 256 bits. */
export const etcdAuthPasswordHashBytes: number = 32;
/**
 * scrypt CPU/memory cost N (16 MiB with r = 8): about 40 ms per hash on this machine, the
 * same order as etcd's bcrypt cost 10, so guessing stays expensive while Authenticate stays fast.
 */
export const etcdAuthScryptCost: number = 16_384;
