// Applies a wire KV request to our MvccStore the way the KV service will: the request goes
// through proto serialization (so it has exactly the server-side decoded shape), the codec, the
// store, the response codec and back through proto serialization, so that it compares
// field-for-field with what a grpc-js client decodes from etcd.
import type { MethodDefinition, ServiceClientConstructor } from "@grpc/grpc-js";
import { PfsError } from "../../../pkg/common/index.js";
import {
  type MvccStore,
  decodeCompactionRequest,
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  encodeCompactionResponse,
  encodeDeleteRangeResponse,
  encodePutResponse,
  encodeRangeResponse,
  encodeTxnResponse,
} from "../../../pkg/etcdserver/index.js";
import type { WireOp } from "./kv-wire-generator.js";

/** A unary outcome: the decoded response, or the gRPC status code and message. */
export type WireOutcome =
  | { readonly ok: true; readonly response: unknown }
  | { readonly ok: false; readonly code: number; readonly message: string };

function method(kv: ServiceClientConstructor, name: string): MethodDefinition<object, object> {
  const definition = kv.service[name];
  if (definition === undefined) throw new Error(`no KV method ${name}`);
  return definition as MethodDefinition<object, object>;
}

function failure(error: PfsError): WireOutcome {
  return { ok: false, code: error.status, message: error.message };
}

function applyDecoded(store: MvccStore, op: WireOp, wire: unknown): object | PfsError {
  const unwrap = <T>(result: { ok: true; value: T } | { ok: false; error: PfsError }): T | PfsError =>
    result.ok ? result.value : result.error;
  switch (op.method) {
    case "Range": {
      const request = unwrap(decodeRangeRequest(wire));
      if (request instanceof PfsError) return request;
      const response = unwrap(store.range(request));
      return response instanceof PfsError ? response : encodeRangeResponse(response);
    }
    case "Put": {
      const request = unwrap(decodePutRequest(wire));
      if (request instanceof PfsError) return request;
      const applied = unwrap(store.put(request));
      return applied instanceof PfsError ? applied : encodePutResponse(applied.response);
    }
    case "DeleteRange": {
      const request = unwrap(decodeDeleteRangeRequest(wire));
      if (request instanceof PfsError) return request;
      const applied = unwrap(store.deleteRange(request));
      return applied instanceof PfsError ? applied : encodeDeleteRangeResponse(applied.response);
    }
    case "Txn": {
      const request = unwrap(decodeTxnRequest(wire));
      if (request instanceof PfsError) return request;
      const applied = unwrap(store.txn(request));
      return applied instanceof PfsError ? applied : encodeTxnResponse(applied.response);
    }
    case "Compact": {
      const request = unwrap(decodeCompactionRequest(wire));
      if (request instanceof PfsError) return request;
      const response = unwrap(store.compact(request));
      return response instanceof PfsError ? response : encodeCompactionResponse(response);
    }
  }
}

/** Applies `op` to `store` through both codecs; returns what a client would decode. */
export function applyWire(kv: ServiceClientConstructor, store: MvccStore, op: WireOp): WireOutcome {
  const definition = method(kv, op.method);
  const wire = definition.requestDeserialize(definition.requestSerialize(op.request));
  const result = applyDecoded(store, op, wire);
  if (result instanceof PfsError) return failure(result);
  const response = definition.responseDeserialize(definition.responseSerialize(result));
  return { ok: true, response };
}

/** Blanks the fields only a real server fills (cluster_id, member_id, raft_term). */
export function maskHeader(response: unknown): unknown {
  if (typeof response !== "object" || response === null) return response;
  const header = (response as { header?: unknown }).header;
  if (typeof header !== "object" || header === null) return response;
  return { ...response, header: { ...header, cluster_id: "0", member_id: "0", raft_term: "0" } };
}

/** JSON for failure messages, with byte strings shown as latin1 text. */
export function show(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item !== null && typeof item === "object" && (item as { type?: unknown }).type === "Buffer") {
      return `b'${Buffer.from((item as { data: number[] }).data).toString("latin1")}'`;
    }
    return item;
  });
}
