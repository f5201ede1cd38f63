/**
 * The typed responses of the etcd KV service. Headers carry only `revision` (etcd-api.md §4);
 * the service layer adds cluster_id, member_id and raft_term to the top-level header.
 */
import type { Revision } from "../../common/index.js";
import type { KeyValue, MvccEvent } from "./key-value.js";

/** The store's part of etcdserverpb.ResponseHeader. */
export interface ResponseHeader {
  readonly revision: Revision;
}

/** etcdserverpb.RangeResponse. `count` is taken before the min/max filters and the limit. */
export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

/** etcdserverpb.PutResponse. */
export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prevKv?: KeyValue;
}

/** etcdserverpb.DeleteRangeResponse; `prevKvs` is empty unless prev_kv was asked for. */
export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

/** etcdserverpb.ResponseOp: one per op of the branch that ran, in op order. */
export type ResponseOp =
  | { readonly type: "range"; readonly response: RangeResponse }
  | { readonly type: "put"; readonly response: PutResponse }
  | { readonly type: "deleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "txn"; readonly response: TxnResponse };

/**
 * etcdserverpb.TxnResponse. A nested txn's header has revision 0: etcd 3.4 never fills it.
 */
export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

/** etcdserverpb.CompactionResponse. */
export interface CompactionResponse {
  readonly header: ResponseHeader;
}

/** A write's response together with the events it produced, for the watch hub. */
export interface Applied<R> {
  readonly response: R;
  /** In (revision, sub-revision) order, prevKv filled; empty when nothing changed. */
  readonly events: readonly MvccEvent[];
}
