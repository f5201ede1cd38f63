/**
 * The typed requests of the etcd KV service, as the MVCC store takes them (etcd-api.md §5).
 * They are domain objects, not proto objects: the codec (../kv-codec.ts) makes them from the
 * wire, where int64 fields are clamped into the safe-integer range; clamping keeps every
 * comparison with a real revision unchanged because real revisions are safe integers.
 */
import type { LeaseId } from "../../common/index.js";

/** RangeRequest.SortOrder. */
export type SortOrder = "NONE" | "ASCEND" | "DESCEND";
/** RangeRequest.SortTarget. */
export type SortTarget = "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";

/** etcdserverpb.RangeRequest. An empty `rangeEnd` means `key` alone; "\0" means no bound. */
export interface RangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  /** <= 0: no limit. */
  readonly limit: number;
  /** <= 0: the current revision. */
  readonly revision: number;
  readonly sortOrder: SortOrder;
  readonly sortTarget: SortTarget;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  /** Whether a stale local read is allowed; the service layer's concern, the store ignores it. */
  readonly serializable: boolean;
  /** Each filter is off when 0. */
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

/** etcdserverpb.PutRequest. `lease` 0n detaches. */
export interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease: LeaseId;
  readonly prevKv: boolean;
  readonly ignoreValue: boolean;
  readonly ignoreLease: boolean;
}

/** etcdserverpb.DeleteRangeRequest; `key`/`rangeEnd` as in RangeRequest. */
export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly prevKv: boolean;
}

/** Compare.CompareResult. */
export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

/**
 * etcdserverpb.Compare. The operand is the one that matches the target; the codec sets it to
 * 0 or empty when the wire oneof names another field, as etcd reads it.
 */
export type Compare = {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly result: CompareResult;
} & (
  | { readonly target: "VERSION" | "CREATE" | "MOD"; readonly operand: number }
  | { readonly target: "VALUE"; readonly operand: Uint8Array }
  | { readonly target: "LEASE"; readonly operand: LeaseId }
);

/** etcdserverpb.RequestOp; "empty" is a RequestOp with no request set (always refused). */
export type RequestOp =
  | { readonly type: "range"; readonly request: RangeRequest }
  | { readonly type: "put"; readonly request: PutRequest }
  | { readonly type: "deleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "txn"; readonly request: TxnRequest }
  | { readonly type: "empty" };

/** etcdserverpb.TxnRequest. */
export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

/** etcdserverpb.CompactionRequest. `physical` changes nothing in memory. */
export interface CompactionRequest {
  readonly revision: number;
  readonly physical: boolean;
}

const empty = new Uint8Array(0);

/** A RangeRequest with etcd's defaults for every field not given. */
export function rangeRequest(fields: Partial<RangeRequest> & { key: Uint8Array }): RangeRequest {
  return {
    rangeEnd: empty, limit: 0, revision: 0, sortOrder: "NONE", sortTarget: "KEY",
    keysOnly: false, countOnly: false, serializable: false, minModRevision: 0, maxModRevision: 0,
    minCreateRevision: 0, maxCreateRevision: 0, ...fields,
  };
}

/** A PutRequest with etcd's defaults for every field not given. */
export function putRequest(fields: Partial<PutRequest> & { key: Uint8Array }): PutRequest {
  return {
    value: empty, lease: 0n as LeaseId, prevKv: false, ignoreValue: false, ignoreLease: false,
    ...fields,
  };
}

/** A DeleteRangeRequest with etcd's defaults for every field not given. */
export function deleteRangeRequest(
  fields: Partial<DeleteRangeRequest> & { key: Uint8Array },
): DeleteRangeRequest {
  return { rangeEnd: empty, prevKv: false, ...fields };
}
