/**
 * The KV service's wire codec: proto-loader request objects (etcd3's loader options) to the
 * MVCC store's typed requests, and typed responses back to proto objects. Enum values are
 * accepted as etcd's names (SORT targets, NOT_EQUAL), etcd3's UpperCamelCase names
 * (NotEqual) or numbers. int64 request fields are clamped into the safe range (see
 * clampedInt64Field); lease IDs stay bigints. Unknown enum numbers are refused with
 * INVALID_ARGUMENT, where etcd would apply some default.
 */
import { type LeaseId, PfsError, type Result, err, leaseId, ok } from "../common/index.js";
import type {
  Compare,
  CompactionRequest,
  CompareResult,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from "./mvcc/index.js";
import {
  type WireMessage,
  WireFieldError,
  boolField,
  bytesField,
  clampedInt64Field,
  enumField,
  int64Field,
  messageOf,
  messages,
} from "./wire-fields.js";

const sortOrders: readonly SortOrder[] = ["NONE", "ASCEND", "DESCEND"];
const sortTargets: readonly SortTarget[] = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
const compareResults: readonly CompareResult[] = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"];
const compareTargets = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const;

function leaseField(message: WireMessage, field: string): LeaseId {
  return leaseId(int64Field(message, field));
}

function rangeFrom(m: WireMessage): RangeRequest {
  return {
    key: bytesField(m, "key"),
    rangeEnd: bytesField(m, "range_end"),
    limit: clampedInt64Field(m, "limit"),
    revision: clampedInt64Field(m, "revision"),
    sortOrder: enumField(m, "sort_order", sortOrders),
    sortTarget: enumField(m, "sort_target", sortTargets),
    keysOnly: boolField(m, "keys_only"),
    countOnly: boolField(m, "count_only"),
    serializable: boolField(m, "serializable"),
    minModRevision: clampedInt64Field(m, "min_mod_revision"),
    maxModRevision: clampedInt64Field(m, "max_mod_revision"),
    minCreateRevision: clampedInt64Field(m, "min_create_revision"),
    maxCreateRevision: clampedInt64Field(m, "max_create_revision"),
  };
}

function putFrom(m: WireMessage): PutRequest {
  return {
    key: bytesField(m, "key"),
    value: bytesField(m, "value"),
    lease: leaseField(m, "lease"),
    prevKv: boolField(m, "prev_kv"),
    ignoreValue: boolField(m, "ignore_value"),
    ignoreLease: boolField(m, "ignore_lease"),
  };
}

function deleteRangeFrom(m: WireMessage): DeleteRangeRequest {
  return {
    key: bytesField(m, "key"),
    rangeEnd: bytesField(m, "range_end"),
    prevKv: boolField(m, "prev_kv"),
  };
}

/** The name of the oneof member that is set: the `oneofs` virtual field, or the first set. */
function oneofMember(m: WireMessage, oneof: string, members: readonly string[]): string | null {
  const named = m[oneof];
  if (typeof named === "string" && members.includes(named)) return named;
  return members.find((member) => m[member] !== undefined && m[member] !== null) ?? null;
}

function compareFrom(m: WireMessage): Compare {
  const base = {
    key: bytesField(m, "key"),
    rangeEnd: bytesField(m, "range_end"),
    result: enumField(m, "result", compareResults),
  };
  const target = enumField(m, "target", compareTargets);
  const member = oneofMember(
    m, "target_union", ["version", "create_revision", "mod_revision", "value", "lease"],
  );
  switch (target) {
    case "VERSION":
      return { ...base, target, operand: member === "version" ? clampedInt64Field(m, member) : 0 };
    case "CREATE":
    case "MOD": {
      const field = target === "CREATE" ? "create_revision" : "mod_revision";
      return { ...base, target, operand: member === field ? clampedInt64Field(m, field) : 0 };
    }
    case "VALUE":
      return {
        ...base, target, operand: member === "value" ? bytesField(m, "value") : new Uint8Array(0),
      };
    case "LEASE":
      return { ...base, target, operand: member === "lease" ? leaseField(m, "lease") : leaseId(0n) };
  }
}

const requestMembers = ["request_range", "request_put", "request_delete_range", "request_txn"];

/** Nesting is bounded by the request size (etcd has no other bound); decoding recurses. */
function requestOpFrom(m: WireMessage): RequestOp {
  const member = oneofMember(m, "request", requestMembers);
  if (member === null) return { type: "empty" };
  const inner = messageOf(m[member], member);
  switch (member) {
    case "request_range":
      return { type: "range", request: rangeFrom(inner) };
    case "request_put":
      return { type: "put", request: putFrom(inner) };
    case "request_delete_range":
      return { type: "deleteRange", request: deleteRangeFrom(inner) };
    default:
      return { type: "txn", request: txnFrom(inner) };
  }
}

function txnFrom(m: WireMessage): TxnRequest {
  return {
    compare: messages(m, "compare").map(compareFrom),
    success: messages(m, "success").map(requestOpFrom),
    failure: messages(m, "failure").map(requestOpFrom),
  };
}

function compactionFrom(m: WireMessage): CompactionRequest {
  return { revision: clampedInt64Field(m, "revision"), physical: boolField(m, "physical") };
}

function decoder<T>(from: (m: WireMessage) => T): (wire: unknown) => Result<T, PfsError> {
  return (wire) => {
    try {
      return ok(from(messageOf(wire, "request")));
    } catch (error: unknown) {
      if (error instanceof WireFieldError || error instanceof RangeError) {
        return err(new PfsError("INVALID_ARGUMENT", `malformed request: ${error.message}`));
      }
      throw error;
    }
  };
}

/** etcdserverpb.RangeRequest → RangeRequest. Errors: a malformed field → INVALID_ARGUMENT. */
export const decodeRangeRequest = decoder(rangeFrom);
/** etcdserverpb.PutRequest → PutRequest. Errors as decodeRangeRequest. */
export const decodePutRequest = decoder(putFrom);
/** etcdserverpb.DeleteRangeRequest → DeleteRangeRequest. Errors as decodeRangeRequest. */
export const decodeDeleteRangeRequest = decoder(deleteRangeFrom);
/** etcdserverpb.TxnRequest → TxnRequest. Errors as decodeRangeRequest. */
export const decodeTxnRequest = decoder(txnFrom);
/** etcdserverpb.CompactionRequest → CompactionRequest. Errors as decodeRangeRequest. */
export const decodeCompactionRequest = decoder(compactionFrom);

