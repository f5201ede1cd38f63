/**
 * The pfs API contract (pkg/proto/pfs.proto, package `pfs`, service `pfs.API`) and its typed
 * loader. The file is loaded with etcd's proto-loader options (keepCase, int64 as decimal
 * strings, enums as names, defaults filled, oneofs named), so one server serves both, and the
 * types below are the messages in exactly that decoded form: int64/uint64 fields are strings
 * (STYLE rule 10: convert them in one codec), enums are their names, an absent sub-message is
 * null.
 *
 * Invariant: `pfsMethods` lists every RPC of the service with its streaming kind, and
 * `loadPfsService` refuses (assertion) a .proto that differs from it, so the handler and
 * message types cannot drift from the file.
 */
import { fileURLToPath } from "node:url";
import {
  type GrpcObject, type ServiceClientConstructor, type ServiceDefinition,
  type handleClientStreamingCall, type handleServerStreamingCall,
  type handleUnaryCall, loadPackageDefinition,
} from "@grpc/grpc-js";
import { type PackageDefinition, loadSync } from "@grpc/proto-loader";
import { assert } from "../common/index.js";
import { etcdProtoLoaderOptions } from "./etcd-protos.js";

/** The .proto file, read from the source tree at run time (tsc does not copy it). */
export const pfsProtoFile: string = fileURLToPath(
  new URL("../../../pkg/proto/pfs.proto", import.meta.url),
);

/** The fully qualified service name, part of every wire path (/pfs.API/StartCommit). */
export const pfsServiceName = "pfs.API";

// ---- Messages, as decoded --------------------------------------------------------------------

/** int64/uint64 on the wire: a decimal string. */
export type WireInt64 = string;

export type WireCommitState = "COMMIT_STATE_UNKNOWN" | "OPEN" | "FINISHING" | "FINISHED" | "FAILED";
export type WireFileType = "FILE_TYPE_UNKNOWN" | "FILE" | "DIR";
export type WirePutFileFormat = "RAW" | "TAR";

export interface RepoInfoMessage {
  name: string;
  description: string;
  created_ms: WireInt64;
}

export interface BranchInfoMessage {
  repo: string;
  name: string;
  head: string;
  open: string;
}

export interface CommitInfoMessage {
  repo: string;
  id: string;
  branch: string;
  parent: string;
  state: WireCommitState;
  description: string;
  started_ms: WireInt64;
  finished_ms: WireInt64;
  size_bytes: WireInt64;
  error: string;
  provenance: string[];
}

export interface ChunkRefMessage {
  id: string;
  size: WireInt64;
}

export interface FileInfoMessage {
  path: string;
  type: WireFileType;
  size_bytes: WireInt64;
  hash: string;
  chunks: ChunkRefMessage[];
  commit: string;
}

export interface CommitRefMessage {
  repo: string;
  commit: string;
}

export interface FileRefMessage {
  commit: CommitRefMessage | null;
  path: string;
}

export interface CreateRepoRequest { name: string; description: string }
export interface InspectRepoRequest { name: string }
export type ListRepoRequest = Record<string, never>;
export interface ListRepoResponse { repos: RepoInfoMessage[] }
export interface DeleteRepoRequest { name: string }
export interface DeleteRepoResponse {
  repo: RepoInfoMessage | null;
  branches_deleted: number;
  commits_deleted: number;
}

export interface StartCommitRequest {
  repo: string;
  branch: string;
  parent: string;
  description: string;
  provenance: string[];
}
export interface FinishCommitRequest { commit: CommitRefMessage | null; error: string }
export interface InspectCommitRequest { commit: CommitRefMessage | null }
export interface ListCommitRequest { repo: string; branch: string; limit: number }
export interface ListCommitResponse { commits: CommitInfoMessage[] }
export interface SubscribeCommitRequest { repo: string; branch: string; new_only: boolean }
export interface WaitCommitRequest { commit: CommitRefMessage | null }
export interface DeleteCommitRequest { commit: CommitRefMessage | null }

export interface CreateBranchRequest {
  repo: string;
  branch: string;
  head: CommitRefMessage | null;
}
export interface InspectBranchRequest { repo: string; branch: string }
export interface ListBranchRequest { repo: string }
export interface ListBranchResponse { branches: BranchInfoMessage[] }
export interface DeleteBranchRequest { repo: string; branch: string }

export interface PutFileHeaderMessage {
  commit: CommitRefMessage | null;
  path: string;
  append: boolean;
  format: WirePutFileFormat;
}
/** One message of a PutFile stream: the header first, then data; `part` names the one set. */
export type PutFileRequest =
  | { part: "header"; header: PutFileHeaderMessage; data?: null }
  | { part: "data"; data: Buffer; header?: null };
export interface PutFileResponse {
  commit: string;
  files_written: number;
  bytes_written: WireInt64;
}
export interface GetFileRequest {
  file: FileRefMessage | null;
  offset: WireInt64;
  length: WireInt64;
}
export interface GetFileResponse { data: Buffer }
export interface InspectFileRequest { file: FileRefMessage | null }
export interface ListFileRequest { file: FileRefMessage | null }
export interface ListFileResponse { files: FileInfoMessage[] }
export interface GlobFileRequest { commit: CommitRefMessage | null; pattern: string }
export interface DiffFileRequest {
  new_file: FileRefMessage | null;
  old_file: FileRefMessage | null;
  shallow: boolean;
}
export interface FileDiffMessage {
  new_file: FileInfoMessage | null;
  old_file: FileInfoMessage | null;
}
export interface DiffFileResponse { diffs: FileDiffMessage[] }
export interface DeleteFileRequest { file: FileRefMessage | null; recursive: boolean }
export interface DeleteFileResponse { commit: string; files_deleted: number }
export interface CopyFileRequest {
  src: FileRefMessage | null;
  dst: FileRefMessage | null;
  append: boolean;
}
export interface CopyFileResponse { commit: string; files_written: number }
export type CollectGarbageRequest = Record<string, never>;
export interface CollectGarbageResponse { chunks_freed: WireInt64; bytes_freed: WireInt64 }
export type ClusterStatusRequest = Record<string, never>;
export interface NodeStatusMessage {
  id: string;
  address: string;
  raft_role: "" | "leader" | "follower" | "learner";
  online: boolean;
  faulty: boolean;
  shards_mastered: number[];
  shards_held: number[];
}
export interface ReplicaStatusMessage {
  node: string;
  lag: number;
  finished: number;
  online: boolean;
}
export interface ShardStatusMessage {
  shard: number;
  master: string;
  replicas: string[];
  lag: number;
  under_replicated: boolean;
  r: number;
  replica_status: ReplicaStatusMessage[];
}
export interface ClusterStatusResponse {
  nodes: NodeStatusMessage[];
  shards: ShardStatusMessage[];
}
export interface RemoveNodeRequest { id: string; force: boolean }
export interface RemoveNodeResponse {
  id: string;
  was_online: boolean;
  already_retired: boolean;
  node_key_deleted: boolean;
  health_record_deleted: boolean;
  member_removed: boolean;
  member_id: string;
}

// ---- Methods ---------------------------------------------------------------------------------

/** How an RPC streams. */
export type PfsCallKind = "unary" | "server-stream" | "client-stream";

/** Every RPC of pfs.API with its streaming kind (checked against the file when loading). */
export const pfsMethods = {
  CreateRepo: "unary",
  InspectRepo: "unary",
  ListRepo: "unary",
  DeleteRepo: "unary",
  StartCommit: "unary",
  FinishCommit: "unary",
  InspectCommit: "unary",
  ListCommit: "unary",
  SubscribeCommit: "server-stream",
  WaitCommit: "unary",
  DeleteCommit: "unary",
  CreateBranch: "unary",
  InspectBranch: "unary",
  ListBranch: "unary",
  DeleteBranch: "unary",
  PutFile: "client-stream",
  GetFile: "server-stream",
  InspectFile: "unary",
  ListFile: "unary",
  GlobFile: "unary",
  DiffFile: "unary",
  DeleteFile: "unary",
  CopyFile: "unary",
  CollectGarbage: "unary",
  ClusterStatus: "unary",
  RemoveNode: "unary",
} as const satisfies Record<string, PfsCallKind>;

export type PfsMethodName = keyof typeof pfsMethods;

/** The request and response message of each RPC. */
export interface PfsMessages {
  CreateRepo: [CreateRepoRequest, RepoInfoMessage];
  InspectRepo: [InspectRepoRequest, RepoInfoMessage];
  ListRepo: [ListRepoRequest, ListRepoResponse];
  DeleteRepo: [DeleteRepoRequest, DeleteRepoResponse];
  StartCommit: [StartCommitRequest, CommitInfoMessage];
  FinishCommit: [FinishCommitRequest, CommitInfoMessage];
  InspectCommit: [InspectCommitRequest, CommitInfoMessage];
  ListCommit: [ListCommitRequest, ListCommitResponse];
  SubscribeCommit: [SubscribeCommitRequest, CommitInfoMessage];
  WaitCommit: [WaitCommitRequest, CommitInfoMessage];
  DeleteCommit: [DeleteCommitRequest, CommitInfoMessage];
  CreateBranch: [CreateBranchRequest, BranchInfoMessage];
  InspectBranch: [InspectBranchRequest, BranchInfoMessage];
  ListBranch: [ListBranchRequest, ListBranchResponse];
  DeleteBranch: [DeleteBranchRequest, BranchInfoMessage];
  PutFile: [PutFileRequest, PutFileResponse];
  GetFile: [GetFileRequest, GetFileResponse];
  InspectFile: [InspectFileRequest, FileInfoMessage];
  ListFile: [ListFileRequest, ListFileResponse];
  GlobFile: [GlobFileRequest, ListFileResponse];
  DiffFile: [DiffFileRequest, DiffFileResponse];
  DeleteFile: [DeleteFileRequest, DeleteFileResponse];
  CopyFile: [CopyFileRequest, CopyFileResponse];
  CollectGarbage: [CollectGarbageRequest, CollectGarbageResponse];
  ClusterStatus: [ClusterStatusRequest, ClusterStatusResponse];
  RemoveNode: [RemoveNodeRequest, RemoveNodeResponse];
}

/** The grpc-js handler type of an RPC of streaming kind `K` (pfs.API's and pfs.Shard's). */
export type PfsCallHandler<K extends PfsCallKind, Request, Response> =
  K extends "server-stream" ? handleServerStreamingCall<Request, Response>
    : K extends "client-stream" ? handleClientStreamingCall<Request, Response>
      : handleUnaryCall<Request, Response>;

/** The grpc-js handler type of one RPC, from its kind and messages. */
export type PfsHandler<M extends PfsMethodName> =
  PfsCallHandler<(typeof pfsMethods)[M], PfsMessages[M][0], PfsMessages[M][1]>;

/** What a server implementing pfs.API passes to `server.addService`. */
export type PfsServiceHandlers = { [M in PfsMethodName]: PfsHandler<M> };

// ---- Loading ---------------------------------------------------------------------------------

/** The loaded contract: the package definition, the service and a generic client class. */
export interface PfsProto {
  readonly packageDefinition: PackageDefinition;
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

function kindOf(requestStream: boolean, responseStream: boolean): PfsCallKind | "bidi" {
  if (requestStream && responseStream) return "bidi";
  if (requestStream) return "client-stream";
  return responseStream ? "server-stream" : "unary";
}

/** Loads pfs.proto as a proto-loader package definition (etcd's loader options). */
export function loadPfsPackageDefinition(): PackageDefinition {
  return loadSync(pfsProtoFile, etcdProtoLoaderOptions);
}

/**
 * Loads pfs.API and checks it against `pfsMethods` (same RPCs, same streaming kinds, wire
 * paths /pfs.API/<name>).
 */
export function loadPfsService(): PfsProto {
  const packageDefinition = loadPfsPackageDefinition();
  return { packageDefinition, ...checkedService(packageDefinition, pfsServiceName, pfsMethods) };
}

/**
 * The service `serviceName` ("pfs.<Name>") of a loaded package, asserted to match its method
 * table: the same RPCs, the same streaming kinds, wire paths /<serviceName>/<rpc>. Shared by
 * the loaders of pfs.API and pfs.Shard.
 */
export function checkedService(packageDefinition: PackageDefinition, serviceName: string,
  methods: Readonly<Record<string, PfsCallKind>>):
  { service: ServiceDefinition; Client: ServiceClientConstructor } {
  const root: GrpcObject = loadPackageDefinition(packageDefinition);
  const [packageName = "", name = ""] = serviceName.split(".");
  const servicePackage = root[packageName];
  assert(servicePackage !== undefined && typeof servicePackage === "object" &&
    name in servicePackage, () => `the .proto defines no ${serviceName}`);
  const Client = (servicePackage as GrpcObject)[name] as ServiceClientConstructor;
  const service = Client.service;
  const loaded = Object.keys(service).sort();
  const expected = Object.keys(methods).sort();
  assert(loaded.join() === expected.join(), () =>
    `${serviceName} has RPCs [${loaded.join(", ")}]; its method table lists [${expected.join(", ")}]`);
  for (const [rpc, kind] of Object.entries(methods)) {
    const method = service[rpc];
    assert(method !== undefined, () => `${serviceName} lacks ${rpc}`);
    const actual = kindOf(method.requestStream, method.responseStream);
    assert(actual === kind, () => `${serviceName} ${rpc} is ${actual}; its table says ${kind}`);
    assert(method.path === `/${serviceName}/${rpc}`, () => `${serviceName} ${rpc} at ${method.path}`);
  }
  return { service, Client };
}
