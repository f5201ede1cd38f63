/** pkg/etcdserver/mvcc: the deterministic MVCC key-value state machine of the etcd KV API. */
export type { KeyValue, EventType, MvccEvent, RevisionEvents } from "./key-value.js";
export {
  type SortOrder,
  type SortTarget,
  type RangeRequest,
  type PutRequest,
  type DeleteRangeRequest,
  type CompareResult,
  type Compare,
  type RequestOp,
  type TxnRequest,
  type CompactionRequest,
  rangeRequest,
  putRequest,
  deleteRangeRequest,
} from "./kv-requests.js";
export type {
  ResponseHeader,
  RangeResponse,
  PutResponse,
  DeleteRangeResponse,
  ResponseOp,
  TxnResponse,
  CompactionResponse,
  Applied,
} from "./kv-responses.js";
export type { LeaseLookup } from "./lease-lookup.js";
export { compareBytes } from "./key-range.js";
export {
  checkRangeRequest,
  checkPutRequest,
  checkDeleteRangeRequest,
  checkTxnRequest,
} from "./request-checks.js";
export { MvccStore } from "./mvcc-store.js";
export type { StoreStateEncoder } from "./store-state.js";
