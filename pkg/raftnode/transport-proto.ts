/**
 * The wire codec of the Raft peer service (pkg/proto/raftpeer.proto): loads the proto once
 * with the house options (STYLE rule 10) and converts its frames to and from typed values.
 * uint64 fields arrive as decimal strings and leave here as asserted safe integers: a chunk
 * offset is below raftSnapshotBytesMax, far under 2^53.
 */
import { fileURLToPath } from "node:url";
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { assert, formatHexId, nodeId, type NodeId } from "../common/index.js";

/** The proto, read from the source tree (tsc does not copy .proto files into dist/). */
const protoPath = fileURLToPath(new URL("../../../pkg/proto/raftpeer.proto", import.meta.url));

/** Metadata header naming the cluster; a receiver refuses any other cluster. */
export const clusterIdHeader = "pfs-cluster-id";
/** Metadata header naming the sending member. */
export const senderIdHeader = "pfs-sender-id";

/** The loaded RaftPeer service: method paths and (de)serializers for client and server. */
export function raftPeerService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const service = definition["pfs.raftpeer.RaftPeer"];
  assert(service !== undefined && "Stream" in service && "Snapshot" in service,
    "raftpeer.proto has no RaftPeer service with Stream and Snapshot");
  return service;
}

/** A decoded MessageFrame: encoded Raft messages in send order. */
export function decodeFrame(value: unknown): Uint8Array[] | undefined {
  if (typeof value !== "object" || value === null || !("messages" in value)) return undefined;
  const messages: unknown = value.messages;
  if (!Array.isArray(messages)) return undefined;
  const result: Uint8Array[] = [];
  for (const message of messages as unknown[]) {
    if (!(message instanceof Uint8Array)) return undefined;
    result.push(message);
  }
  return result;
}

/** One chunk of a streamed snapshot message. */
export interface SnapshotChunk {
  readonly offset: number;
  /** Set on the first chunk (offset 0) only; 0 elsewhere. */
  readonly totalBytes: number;
  /** Set on the first chunk only; empty elsewhere. */
  readonly sha256: Uint8Array;
  readonly data: Uint8Array;
}

/** The wire form of a chunk, uint64s as decimal strings. */
export function encodeChunk(chunk: SnapshotChunk): Record<string, unknown> {
  return {
    offset: String(chunk.offset),
    total_bytes: String(chunk.totalBytes),
    sha256: chunk.sha256,
    data: chunk.data,
  };
}

/** A decoded SnapshotChunk, or undefined when a field is malformed. */
export function decodeChunk(value: unknown): SnapshotChunk | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const fields = value as Record<string, unknown>;
  const offset = safeUint(fields["offset"]);
  const totalBytes = safeUint(fields["total_bytes"]);
  const sha256 = fields["sha256"];
  const data = fields["data"];
  if (offset === undefined || totalBytes === undefined) return undefined;
  if (!(sha256 instanceof Uint8Array) || !(data instanceof Uint8Array)) return undefined;
  return { offset, totalBytes, sha256, data };
}

function safeUint(value: unknown): number | undefined {
  if (typeof value !== "string" || !/^[0-9]{1,16}$/.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

/** The value of a member or cluster id header: 16 lower-case hex digits. */
export function formatIdHeader(id: bigint): string {
  return formatHexId(id);
}

/** Parses an id header; undefined unless it is 1 to 16 hex digits. */
export function parseIdHeader(value: unknown): NodeId | undefined {
  if (typeof value !== "string" || !/^[0-9a-f]{1,16}$/.test(value)) return undefined;
  return nodeId(BigInt(`0x${value}`));
}
