/**
 * The internal shard API (pkg/proto/pfs-shard.proto, service `pfs.Shard`) and its typed
 * loader, with the same proto-loader options as pfs.API (keepCase, 64-bit integers as
 * decimal strings, defaults filled, oneofs named). The message types are the decoded forms.
 *
 * Invariant: `pfsShardMethods` lists every rpc with its streaming kind; `loadPfsShardService`
 * asserts the file matches it.
 */
import { fileURLToPath } from "node:url";
import type { ServiceClientConstructor, ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { etcdProtoLoaderOptions } from "./etcd-protos.js";
import {
  type PfsCallHandler, type PfsCallKind, type WireInt64, checkedService,
} from "./pfs-proto.js";

/** The .proto file, read from the source tree at run time. */
export const pfsShardProtoFile: string = fileURLToPath(
  new URL("../../../pkg/proto/pfs-shard.proto", import.meta.url),
);

export const pfsShardServiceName = "pfs.Shard";

export interface ShardCommitMessage { repo: string; id: string }
export interface ShardChunkRefMessage { id: string; size: WireInt64 }
export interface ShardFileEntryMessage {
  path: string; size: WireInt64; hash: string; chunks: ShardChunkRefMessage[];
}
export type ShardEmpty = Record<string, never>;
export interface ShardDataMessage { data: Buffer }
export interface ShardPutFileHeaderMessage {
  shard: number; commit: ShardCommitMessage | null; parent: string; path: string; append: boolean;
}
export type ShardPutFileRequest =
  | { part: "header"; header: ShardPutFileHeaderMessage; data?: null }
  | { part: "data"; data: Buffer; header?: null };
export interface ShardPutEntryRequest {
  shard: number; commit: ShardCommitMessage | null; path: string;
  entry: ShardFileEntryMessage | null;
}
export interface ShardPathRequest { shard: number; commit: ShardCommitMessage | null; path: string }
export interface ShardDeleteFileRequest {
  shard: number; commit: ShardCommitMessage | null; path: string; parent: string;
  file_only: boolean;
}
export interface ShardDeleteFileResponse { files: WireInt64 }
export interface ShardCommitRequest {
  shard: number; commit: ShardCommitMessage | null; parent: string;
}
export interface ShardFinishResponse {
  files: WireInt64; size_bytes: WireInt64; fence_key: string; fence_revision: WireInt64;
}
export interface ShardRepoRequest { shard: number; repo: string }
export interface ShardGetFileRequest {
  shard: number; commit: ShardCommitMessage | null; path: string;
  ranged: boolean; start: WireInt64; bounded: boolean; end: WireInt64;
}
export interface ShardDirectoryChildMessage {
  path: string; kind: string; size: WireInt64; hash: string;
}
export interface ShardListDirectoryResponse { children: ShardDirectoryChildMessage[] }
export interface ShardGlobRequest {
  shard: number; commit: ShardCommitMessage | null; pattern: string;
}
export interface ShardEntriesResponse { entries: ShardFileEntryMessage[] }
export interface ShardDiffRequest {
  shard: number; commit: ShardCommitMessage | null; base: string; directory: string;
}
export interface ShardFileChangeMessage {
  path: string; change: string; old_size: WireInt64; new_size: WireInt64;
}
export interface ShardDiffResponse { changes: ShardFileChangeMessage[] }
export interface ShardChunkIdsRequest { shard: number; ids: string[] }
export interface ShardChunkIdsResponse { ids: string[] }
export interface ShardReadChunkRequest { shard: number; id: string }
export interface ShardChunkMessage { ref: ShardChunkRefMessage | null; bytes: Buffer }
export interface ShardPutChunksRequest { shard: number; chunks: ShardChunkMessage[] }
export interface ShardCollectGarbageRequest { shard: number }
export interface ShardCollectGarbageResponse { chunks_freed: WireInt64; bytes_freed: WireInt64 }
export interface ShardHasCommitResponse { present: boolean }
export type ShardInstallManifestRequest =
  | { part: "header"; header: ShardCommitRequest; data?: null }
  | { part: "data"; data: Buffer; header?: null };

/** Every rpc of pfs.Shard with its streaming kind. */
export const pfsShardMethods = {
  PutFile: "client-stream",
  PutEntry: "unary",
  DeleteFile: "unary",
  FinishCommit: "unary",
  AbortCommit: "unary",
  DeleteRepo: "unary",
  InspectFile: "unary",
  GetFile: "server-stream",
  ListDirectory: "unary",
  Glob: "unary",
  Walk: "server-stream",
  Diff: "unary",
  MissingChunks: "unary",
  ReadChunk: "unary",
  PutChunks: "unary",
  CollectGarbage: "unary",
  HasCommit: "unary",
  ReadManifest: "server-stream",
  InstallManifest: "client-stream",
} as const satisfies Record<string, PfsCallKind>;

export type PfsShardMethodName = keyof typeof pfsShardMethods;

export interface PfsShardMessages {
  PutFile: [ShardPutFileRequest, ShardFileEntryMessage];
  PutEntry: [ShardPutEntryRequest, ShardFileEntryMessage];
  DeleteFile: [ShardDeleteFileRequest, ShardDeleteFileResponse];
  FinishCommit: [ShardCommitRequest, ShardFinishResponse];
  AbortCommit: [ShardCommitRequest, ShardEmpty];
  DeleteRepo: [ShardRepoRequest, ShardEmpty];
  InspectFile: [ShardPathRequest, ShardFileEntryMessage];
  GetFile: [ShardGetFileRequest, ShardDataMessage];
  ListDirectory: [ShardPathRequest, ShardListDirectoryResponse];
  Glob: [ShardGlobRequest, ShardEntriesResponse];
  Walk: [ShardPathRequest, ShardFileEntryMessage];
  Diff: [ShardDiffRequest, ShardDiffResponse];
  MissingChunks: [ShardChunkIdsRequest, ShardChunkIdsResponse];
  ReadChunk: [ShardReadChunkRequest, ShardDataMessage];
  PutChunks: [ShardPutChunksRequest, ShardEmpty];
  CollectGarbage: [ShardCollectGarbageRequest, ShardCollectGarbageResponse];
  HasCommit: [ShardCommitRequest, ShardHasCommitResponse];
  ReadManifest: [ShardCommitRequest, ShardDataMessage];
  InstallManifest: [ShardInstallManifestRequest, ShardEmpty];
}

export type PfsShardHandler<M extends PfsShardMethodName> =
  PfsCallHandler<(typeof pfsShardMethods)[M], PfsShardMessages[M][0], PfsShardMessages[M][1]>;

export type PfsShardServiceHandlers = { [M in PfsShardMethodName]: PfsShardHandler<M> };

export interface PfsShardProto {
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

/** Loads pfs.Shard and checks it against `pfsShardMethods` (see `checkedService`). */
export function loadPfsShardService(): PfsShardProto {
  const definition = loadSync(pfsShardProtoFile, etcdProtoLoaderOptions);
  return checkedService(definition, pfsShardServiceName, pfsShardMethods);
}
