/**
 * The contract between the etcd gRPC services (pkg/etcdserver/grpc) and the replicated etcd
 * member (pkg/etcdserver/server). The services decode protos into these domain shapes, call
 * the backend, and encode the answers; the backend owns Raft, the state machine, reads, leases,
 * watches, membership and auth. Every rejection is an `EtcdError` (or `PfsError`) whose code
 * maps to etcd's gRPC status and exact message (pkg/common/errors.ts).
 */
import type { LeaseId, NodeId } from "../common/index.js";
import type { LeaseTimeToLive } from "./lease/index.js";
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "./mvcc/index.js";
import type { WatchCreateRequest, WatchStream } from "./watch/index.js";

/** Who is calling: the `token` metadata of the call, when there is one (etcd-api.md §3). */
export interface CallContext {
  readonly token?: string | undefined;
  /** The common name of a verified client certificate (etcd uses it as the user). */
  readonly certCommonName?: string | undefined;
}

/** etcdserverpb.Member. */
export interface Member {
  readonly id: NodeId;
  /** Empty until the member has started and published its name (shown as "unstarted"). */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** etcdserverpb.StatusResponse, less its header. */
export interface MemberStatus {
  readonly version: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  /** 0n when no leader is known. */
  readonly leader: NodeId;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  readonly errors: readonly string[];
  /** The store revision, for the header. */
  readonly revision: number;
}

/** etcdserverpb.AlarmRequest.AlarmAction and AlarmType. */
export type AlarmAction = "GET" | "ACTIVATE" | "DEACTIVATE";
export type AlarmType = "NONE" | "NOSPACE" | "CORRUPT";
export interface AlarmMember {
  readonly memberId: NodeId;
  readonly alarm: AlarmType;
}

/** authpb.Permission. */
export type PermissionType = "READ" | "WRITE" | "READWRITE";
export interface Permission {
  readonly permType: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

/** The auth operations of etcdserverpb.Auth; each rejects with etcd's exact errors. */
export interface AuthBackend {
  authEnable(context: CallContext): Promise<void>;
  authDisable(context: CallContext): Promise<void>;
  /** Resolves to the token; rejects ETCD_AUTH_NOT_ENABLED / ETCD_AUTH_FAILED. */
  authenticate(name: string, password: string): Promise<string>;
  userAdd(context: CallContext, name: string, password: string, noPassword: boolean):
    Promise<void>;
  userGet(context: CallContext, name: string): Promise<readonly string[]>;
  userList(context: CallContext): Promise<readonly string[]>;
  userDelete(context: CallContext, name: string): Promise<void>;
  userChangePassword(context: CallContext, name: string, password: string): Promise<void>;
  userGrantRole(context: CallContext, user: string, role: string): Promise<void>;
  userRevokeRole(context: CallContext, name: string, role: string): Promise<void>;
  roleAdd(context: CallContext, name: string): Promise<void>;
  roleGet(context: CallContext, role: string): Promise<readonly Permission[]>;
  roleList(context: CallContext): Promise<readonly string[]>;
  roleDelete(context: CallContext, role: string): Promise<void>;
  roleGrantPermission(context: CallContext, name: string, permission: Permission):
    Promise<void>;
  roleRevokePermission(context: CallContext, role: string, key: Uint8Array,
    rangeEnd: Uint8Array): Promise<void>;
}

/** What the etcd gRPC services need from a member. */
export interface EtcdBackend extends AuthBackend {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  /** This member's current Raft term, for response headers. */
  raftTerm(): number;
  /** The current (applied) store revision, for headers the store does not fill. */
  revision(): number;
  /** True when this member knows a leader (the `hasleader` metadata check). */
  hasLeader(): boolean;
  /** True when this member is a learner (serves only Status and serializable Range). */
  isLearner(): boolean;

  /** Linearizable unless `request.serializable`; rejects with the mvcc or auth errors. */
  range(context: CallContext, request: RangeRequest): Promise<RangeResponse>;
  put(context: CallContext, request: PutRequest): Promise<PutResponse>;
  deleteRange(context: CallContext, request: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(context: CallContext, request: TxnRequest): Promise<TxnResponse>;
  compact(context: CallContext, request: CompactionRequest): Promise<CompactionResponse>;

  /** `id` 0n lets the backend choose. */
  leaseGrant(context: CallContext, id: LeaseId, ttlSeconds: bigint):
    Promise<{ readonly id: LeaseId; readonly ttlSeconds: number }>;
  leaseRevoke(context: CallContext, id: LeaseId): Promise<void>;
  /** Renews on the leader (forwarding from followers); 0 = missing or expired (not an error). */
  leaseKeepAlive(id: LeaseId): Promise<number>;
  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLive>;
  leaseLeases(): Promise<readonly LeaseId[]>;

  /**
   * A watch stream for one gRPC Watch call. The service creates watchers through
   * `watchCreate` (which checks READ permission: a refusal is returned as the cancel reason),
   * takes responses with `stream.take()` when `onReady` fires, and closes the stream when the
   * call ends.
   */
  watchOpen(onReady: () => void): WatchStream;
  /** Undefined when allowed, else the cancel reason ("etcdserver: permission denied"). */
  watchCreate(context: CallContext, stream: WatchStream, request: WatchCreateRequest):
    string | undefined;
  watchClose(stream: WatchStream): void;
  /** Called with no arguments when this member loses its leader (for `hasleader` streams). */
  onLeaderLost(listener: () => void): () => void;

  memberList(): Promise<readonly Member[]>;
  memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<Member>;
  memberRemove(id: NodeId): Promise<void>;
  memberUpdate(id: NodeId, peerUrls: readonly string[]): Promise<void>;
  memberPromote(id: NodeId): Promise<void>;

  status(): Promise<MemberStatus>;
  /** `revision` 0 = current. */
  /** While auth is on, hashKv, hash, snapshot and defragment need an admin (as etcd). */
  hashKv(context: CallContext, revision: number):
    Promise<{ readonly hash: number; readonly compactRevision: number; readonly revision: number }>;
  hash(context: CallContext): Promise<number>;
  /** The whole state, self-describing; the service chunks it and appends the SHA-256. */
  snapshot(context: CallContext): Promise<Uint8Array>;
  alarm(action: AlarmAction, memberId: NodeId, alarm: AlarmType): Promise<readonly AlarmMember[]>;
  defragment(context: CallContext): Promise<void>;
  /** Rejects ETCD_NOT_LEADER on a follower, ETCD_BAD_LEADER_TRANSFEREE for a bad target. */
  moveLeader(target: NodeId): Promise<void>;
}
