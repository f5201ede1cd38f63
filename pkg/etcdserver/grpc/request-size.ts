/**
 * Honest request sizes. grpc-js hands handlers decoded objects, so the byte length of a
 * request is recorded where it is decoded: each method's deserializer is wrapped to remember
 * the length of the buffer it decoded, keyed by the decoded object (a WeakMap, so nothing is
 * kept once the request is gone). Used for etcd's max-request-bytes check.
 */
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { limits } from "../../common/index.js";

const requestBytes = new WeakMap<object, number>();

/** The byte length `request` had on the wire; 0 when it was not decoded by a sized service. */
export function requestBytesOf(request: unknown): number {
  if (typeof request !== "object" || request === null) return 0;
  return requestBytes.get(request) ?? 0;
}

/** Bytes of `value` as a protobuf varint. */
export function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) bytes += 1;
  return bytes;
}

/**
 * The size etcd compares with max-request-bytes for a request of `wireBytes`: the request
 * wrapped in an InternalRaftRequest (request header, its tag and its length varint).
 */
export function proposalBytes(wireBytes: number): number {
  return wireBytes + varintBytes(wireBytes) + limits.etcdProposalHeaderBytes;
}

type AnyMethod = MethodDefinition<unknown, unknown>;

/**
 * `service` with every request deserializer wrapped to record the decoded request's byte
 * length. Responses and paths are unchanged.
 */
export function sizedService(service: object): ServiceDefinition {
  const sized: Record<string, AnyMethod> = {};
  for (const [name, method] of Object.entries(service as Record<string, AnyMethod>)) {
    const deserialize = method.requestDeserialize;
    sized[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        const decoded = deserialize(bytes);
        if (typeof decoded === "object" && decoded !== null) {
          requestBytes.set(decoded, bytes.length);
        }
        return decoded;
      },
    };
  }
  return sized;
}
