/**
 * etcdserverpb.KV (etcd-api.md §5): each handler decodes, runs etcd's static checks, applies
 * the max-request-bytes check to proposals, calls the backend and encodes the response with
 * the full header. Read-only txns are not proposals in etcd, so they skip the size check.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { PfsError, Result } from "../../common/index.js";
import {
  decodeCompactionRequest,
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
} from "../kv-codec.js";
import {
  encodeCompactionResponse,
  encodeDeleteRangeResponse,
  encodePutResponse,
  encodeRangeResponse,
  encodeTxnResponse,
} from "../kv-response-codec.js";
import {
  type RequestOp,
  type TxnRequest,
  checkDeleteRangeRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from "../mvcc/index.js";
import { boolField } from "../wire-fields.js";
import { type ServiceKit, checkProposalSize, headerFill, unaryCall } from "./service-kit.js";

/** The value of `result`, or its error thrown (the unary wrapper maps it). */
export function valueOf<T>(result: Result<T, PfsError>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/** Whether a txn only reads, in both branches and every nested txn (etcd's isTxnReadonly). */
export function isReadOnlyTxn(request: TxnRequest): boolean {
  const pending: RequestOp[] = [...request.success, ...request.failure];
  for (let op = pending.pop(); op !== undefined; op = pending.pop()) {
    if (op.type === "txn") pending.push(...op.request.success, ...op.request.failure);
    else if (op.type !== "range") return false;
  }
  return true;
}

const service = "etcdserverpb.KV";

/** The KV service implementation for grpc-js. */
export function kvService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  const label = (method: string): { service: string; method: string; type: "unary" } =>
    ({ service, method, type: "unary" });
  return {
    Range: unaryCall(kit, label("Range"), async (wire, context) => {
      const request = valueOf(decodeRangeRequest(wire));
      valueOf(checkRangeRequest(request));
      return encodeRangeResponse(await backend.range(context, request), headerFill(backend));
    }, { learnerAllowed: (wire) => boolField(wire, "serializable") }),
    Put: unaryCall(kit, label("Put"), async (wire, context) => {
      const request = valueOf(decodePutRequest(wire));
      valueOf(checkPutRequest(request));
      checkProposalSize(kit, wire);
      return encodePutResponse(await backend.put(context, request), headerFill(backend));
    }),
    DeleteRange: unaryCall(kit, label("DeleteRange"), async (wire, context) => {
      const request = valueOf(decodeDeleteRangeRequest(wire));
      valueOf(checkDeleteRangeRequest(request));
      checkProposalSize(kit, wire);
      const response = await backend.deleteRange(context, request);
      return encodeDeleteRangeResponse(response, headerFill(backend));
    }),
    Txn: unaryCall(kit, label("Txn"), async (wire, context) => {
      const request = valueOf(decodeTxnRequest(wire));
      valueOf(checkTxnRequest(request));
      if (!isReadOnlyTxn(request)) checkProposalSize(kit, wire);
      return encodeTxnResponse(await backend.txn(context, request), headerFill(backend));
    }),
    Compact: unaryCall(kit, label("Compact"), async (wire, context) => {
      const request = valueOf(decodeCompactionRequest(wire));
      checkProposalSize(kit, wire);
      const response = await backend.compact(context, request);
      return encodeCompactionResponse(response, headerFill(backend));
    }),
  };
}
