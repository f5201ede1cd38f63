/**
 * The pipelines API contract (pkg/proto/pps.proto, package `pps`, service `pps.API`) and its
 * typed loader, like pfs-proto.ts: loaded with etcd's proto-loader options, so int64 fields
 * are decimal strings, uint32 fields numbers, enums their names, an absent message null.
 *
 * Invariant: `ppsMethods` lists every RPC of the service with its streaming kind, and
 * `loadPpsService` refuses (assertion) a .proto that differs from it.
 */
import { fileURLToPath } from "node:url";
import type { ServiceClientConstructor, ServiceDefinition } from "@grpc/grpc-js";
import { type PackageDefinition, loadSync } from "@grpc/proto-loader";
import { etcdProtoLoaderOptions } from "./etcd-protos.js";
import {
  type PfsCallHandler, type PfsCallKind, type WireInt64, checkedService,
} from "./pfs-proto.js";

/** The .proto file, read from the source tree at run time (tsc does not copy it). */
export const ppsProtoFile: string = fileURLToPath(
  new URL("../../../pkg/proto/pps.proto", import.meta.url),
);

/** The fully qualified service name, part of every wire path (/pps.API/CreatePipeline). */
export const ppsServiceName = "pps.API";

export type WireJobState =
  "JOB_STATE_UNKNOWN" | "CREATED" | "RUNNING" | "SUCCESS" | "FAILURE" | "KILLED";

export interface PipelineInfoMessage {
  name: string;
  spec_json: string;
  version: number;
  created_ms: WireInt64;
  updated_ms: WireInt64;
  reprocess: boolean;
  last_job_id: string;
  last_job_state: WireJobState;
}

export interface JobInfoMessage {
  id: string;
  pipeline: string;
  pipeline_version: number;
  state: WireJobState;
  input_commit: string;
  output_commit: string;
  datums_total: number;
  datums_processed: number;
  datums_skipped: number;
  datums_failed: number;
  created_ms: WireInt64;
  started_ms: WireInt64;
  finished_ms: WireInt64;
  error: string;
}

export interface CreatePipelineRequest { spec_text: string }
export interface UpdatePipelineRequest { spec_text: string; reprocess: boolean }
export interface InspectPipelineRequest { name: string }
export type ListPipelineRequest = Record<string, never>;
export interface ListPipelineResponse { pipelines: PipelineInfoMessage[] }
export interface DeletePipelineRequest { name: string }
export interface DeletePipelineResponse { name: string; jobs_deleted: number }
export interface ListJobRequest { pipeline: string }
export interface ListJobResponse { jobs: JobInfoMessage[] }
export interface InspectJobRequest { id: string }
export interface GetLogsRequest { pipeline: string; job: string }
export interface LogEntryMessage {
  job: string;
  datum: string;
  root: string;
  node: string;
  text: string;
}

/** Every RPC of pps.API with its streaming kind (checked against the file when loading). */
export const ppsMethods = {
  CreatePipeline: "unary",
  UpdatePipeline: "unary",
  InspectPipeline: "unary",
  ListPipeline: "unary",
  DeletePipeline: "unary",
  ListJob: "unary",
  InspectJob: "unary",
  GetLogs: "server-stream",
} as const satisfies Record<string, PfsCallKind>;

export type PpsMethodName = keyof typeof ppsMethods;

/** The request and response message of each RPC. */
export interface PpsMessages {
  CreatePipeline: [CreatePipelineRequest, PipelineInfoMessage];
  UpdatePipeline: [UpdatePipelineRequest, PipelineInfoMessage];
  InspectPipeline: [InspectPipelineRequest, PipelineInfoMessage];
  ListPipeline: [ListPipelineRequest, ListPipelineResponse];
  DeletePipeline: [DeletePipelineRequest, DeletePipelineResponse];
  ListJob: [ListJobRequest, ListJobResponse];
  InspectJob: [InspectJobRequest, JobInfoMessage];
  GetLogs: [GetLogsRequest, LogEntryMessage];
}

/** The grpc-js handler type of one RPC, from its kind and messages. */
export type PpsHandler<M extends PpsMethodName> =
  PfsCallHandler<(typeof ppsMethods)[M], PpsMessages[M][0], PpsMessages[M][1]>;

/** What a server implementing pps.API passes to `server.addService`. */
export type PpsServiceHandlers = { [M in PpsMethodName]: PpsHandler<M> };

/** The loaded contract: the package definition, the service and a generic client class. */
export interface PpsProto {
  readonly packageDefinition: PackageDefinition;
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

/** Loads pps.API and checks it against `ppsMethods`. */
export function loadPpsService(): PpsProto {
  const packageDefinition = loadSync(ppsProtoFile, etcdProtoLoaderOptions);
  return { packageDefinition, ...checkedService(packageDefinition, ppsServiceName, ppsMethods) };
}
