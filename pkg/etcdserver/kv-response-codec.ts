/**
 * Typed KV responses → proto-loader objects (keepCase; int64 as decimal strings). The
 * top-level header gets the caller's cluster ID, member ID and term; headers of sub-responses
 * inside a txn carry only their revision, as etcd sends them.
 */
import type {
  CompactionResponse,
  DeleteRangeResponse,
  KeyValue,
  MvccEvent,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  TxnResponse,
} from "./mvcc/index.js";
import { int64Wire } from "./wire-fields.js";

/** The header fields the service layer owns. */
export interface HeaderFill {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly raftTerm: bigint;
}

const noFill: HeaderFill = { clusterId: 0n, memberId: 0n, raftTerm: 0n };

/** etcdserverpb.ResponseHeader. */
export function encodeHeader(header: ResponseHeader, fill: HeaderFill = noFill): object {
  return {
    cluster_id: int64Wire(fill.clusterId),
    member_id: int64Wire(fill.memberId),
    revision: int64Wire(header.revision),
    raft_term: int64Wire(fill.raftTerm),
  };
}

/** mvccpb.KeyValue. */
export function encodeKeyValue(kv: KeyValue): object {
  return {
    key: Buffer.from(kv.key),
    create_revision: int64Wire(kv.createRevision),
    mod_revision: int64Wire(kv.modRevision),
    version: int64Wire(kv.version),
    value: Buffer.from(kv.value),
    lease: int64Wire(kv.lease),
  };
}

/** mvccpb.Event; prev_kv only when the event has one. */
export function encodeEvent(event: MvccEvent): object {
  const encoded = { type: event.type, kv: encodeKeyValue(event.kv) };
  if (event.prevKv === undefined) return encoded;
  return { ...encoded, prev_kv: encodeKeyValue(event.prevKv) };
}

/** etcdserverpb.RangeResponse. */
export function encodeRangeResponse(response: RangeResponse, fill?: HeaderFill): object {
  return {
    header: encodeHeader(response.header, fill),
    kvs: response.kvs.map(encodeKeyValue),
    more: response.more,
    count: int64Wire(response.count),
  };
}

/** etcdserverpb.PutResponse. */
export function encodePutResponse(response: PutResponse, fill?: HeaderFill): object {
  const header = encodeHeader(response.header, fill);
  if (response.prevKv === undefined) return { header };
  return { header, prev_kv: encodeKeyValue(response.prevKv) };
}

/** etcdserverpb.DeleteRangeResponse. */
export function encodeDeleteRangeResponse(
  response: DeleteRangeResponse,
  fill?: HeaderFill,
): object {
  return {
    header: encodeHeader(response.header, fill),
    deleted: int64Wire(response.deleted),
    prev_kvs: response.prevKvs.map(encodeKeyValue),
  };
}

function encodeResponseOp(op: ResponseOp): object {
  switch (op.type) {
    case "range":
      return { response_range: encodeRangeResponse(op.response) };
    case "put":
      return { response_put: encodePutResponse(op.response) };
    case "deleteRange":
      return { response_delete_range: encodeDeleteRangeResponse(op.response) };
    case "txn":
      return { response_txn: encodeTxnResponse(op.response) };
  }
}

/** etcdserverpb.TxnResponse; `fill` applies to the top-level header only. */
export function encodeTxnResponse(response: TxnResponse, fill?: HeaderFill): object {
  return {
    header: encodeHeader(response.header, fill),
    succeeded: response.succeeded,
    responses: response.responses.map(encodeResponseOp),
  };
}

/** etcdserverpb.CompactionResponse. */
export function encodeCompactionResponse(response: CompactionResponse, fill?: HeaderFill): object {
  return { header: encodeHeader(response.header, fill) };
}
