/**
 * Txn evaluation (etcdserver/apply.go Txn, applyTxn, compareToPath, checkRequests): the
 * branch of every txn, nested ones included, is chosen by its compares against the state
 * before the txn; the state-dependent checks of the chosen ops run before anything applies.
 * Nesting depth is bounded by the request size; the walks recurse once per level.
 */
import {
  AssertionError,
  EtcdError,
  type Result,
  assert,
  assertNever,
  err,
  ok,
} from "../../common/index.js";
import type { KeyIndex } from "./key-index.js";
import type { LeaseLookup } from "./lease-lookup.js";
import type { RequestOp, TxnRequest } from "./kv-requests.js";
import type { ResponseOp, TxnResponse } from "./kv-responses.js";
import type { StoreWriter } from "./mvcc-store.js";
import { kvsAt, rangeRead } from "./range-read.js";
import { compareHolds } from "./txn-compare.js";
import { keyRange, rangeContains } from "./key-range.js";
import type { WriteBatch } from "./write-batch.js";

type Check = Result<null, EtcdError>;

/** Whether every compare of `request` holds at revision `at`. */
function comparesHold(index: KeyIndex, request: TxnRequest, at: number): boolean {
  return request.compare.every((compare) =>
    compareHolds(compare, kvsAt(index, compare.key, compare.rangeEnd, at)));
}

/** The ops of the branches taken, nested txns flattened, in preorder. */
function takenOps(index: KeyIndex, request: TxnRequest, at: number, into: RequestOp[]): void {
  const ops = comparesHold(index, request, at) ? request.success : request.failure;
  for (const op of ops) {
    if (op.type === "txn") takenOps(index, op.request, at, into);
    else into.push(op);
  }
}

/** etcd isTxnReadonly: only Range ops at the top level of both branches. */
function isReadOnly(request: TxnRequest): boolean {
  return [...request.success, ...request.failure].every((op) => op.type === "range");
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

/**
 * Which keys are live as the chosen ops run in order: the state at `at` overlaid with the
 * ops' own puts and deletes. etcd checks ignore_* puts against the state before the txn only;
 * that differs from this only when a put follows a delete of its key, which the duplicate-key
 * rule forbids except after a "\0" delete range, where etcd 3.4 panics mid-apply (observed:
 * the server crashes). We refuse that txn with ETCD_KEY_NOT_FOUND instead.
 */
class LiveKeys {
  readonly #overlay = new Map<string, boolean>();
  readonly #index: KeyIndex;
  readonly #at: number;

  constructor(index: KeyIndex, at: number) {
    this.#index = index;
    this.#at = at;
  }

  isLive(key: Uint8Array): boolean {
    return this.#overlay.get(keyString(key)) ?? this.#index.get(key)?.kvAt(this.#at) !== undefined;
  }

  put(key: Uint8Array): void {
    this.#overlay.set(keyString(key), true);
  }

  deleteRange(key: Uint8Array, rangeEnd: Uint8Array): void {
    for (const kv of kvsAt(this.#index, key, rangeEnd, this.#at)) {
      this.#overlay.set(keyString(kv.key), false);
    }
    const range = keyRange(key, rangeEnd);
    for (const name of this.#overlay.keys()) {
      if (rangeContains(range, Buffer.from(name, "latin1"))) this.#overlay.set(name, false);
    }
  }
}

function checkPutState(op: RequestOp, live: LiveKeys, leases: LeaseLookup): Check {
  if (op.type === "deleteRange") live.deleteRange(op.request.key, op.request.rangeEnd);
  if (op.type !== "put") return ok(null);
  const put = op.request;
  if ((put.ignoreValue || put.ignoreLease) && !live.isLive(put.key)) {
    return err(new EtcdError("ETCD_KEY_NOT_FOUND"));
  }
  if (put.lease !== 0n && !leases.leaseExists(put.lease)) {
    return err(new EtcdError("ETCD_LEASE_NOT_FOUND"));
  }
  live.put(put.key);
  return ok(null);
}

/**
 * The state-dependent checks of a txn at revision `current`, in etcd's order: for a txn that
 * writes, each chosen put (ignore_* on a missing key, a missing lease); then each chosen
 * range's revision, taken literally: non-zero and above current → ETCD_FUTURE_REV, below the
 * compaction revision (negative included) → ETCD_COMPACTED.
 */
export function checkTxnState(
  store: StoreWriter,
  request: TxnRequest,
  current: number,
  leases: LeaseLookup,
): Check {
  const ops: RequestOp[] = [];
  takenOps(store.index, request, current, ops);
  if (!isReadOnly(request)) {
    const live = new LiveKeys(store.index, current);
    for (const op of ops) {
      const check = checkPutState(op, live, leases);
      if (!check.ok) return check;
    }
  }
  for (const op of ops) {
    if (op.type !== "range" || op.request.revision === 0) continue;
    if (op.request.revision > current) return err(new EtcdError("ETCD_FUTURE_REV"));
    if (op.request.revision < store.compactRevision) return err(new EtcdError("ETCD_COMPACTED"));
  }
  return ok(null);
}

function applyOp(store: StoreWriter, batch: WriteBatch, op: RequestOp): ResponseOp {
  switch (op.type) {
    case "range": {
      const read = rangeRead(store.index, op.request, batch.readRevision, store.compactRevision);
      assert(read.ok, "a checked txn range failed");
      return { type: "range", response: read.value };
    }
    case "put":
      return { type: "put", response: store.applyPut(batch, op.request) };
    case "deleteRange":
      return { type: "deleteRange", response: store.applyDeleteRange(batch, op.request) };
    case "txn":
      return { type: "txn", response: applyTxn(store, batch, op.request) };
    case "empty":
      throw new AssertionError("an empty op passed the txn checks");
    default:
      return assertNever(op, "request op");
  }
}

/**
 * Applies a checked txn inside `batch`. Compares read the state before the batch (its begin
 * revision), so nested txns decide against the state before the txn. The returned header has
 * revision 0: etcd fills only the outermost header, which the caller sets.
 */
export function applyTxn(store: StoreWriter, batch: WriteBatch, request: TxnRequest): TxnResponse {
  const succeeded = comparesHold(store.index, request, batch.beginRevision);
  const ops = succeeded ? request.success : request.failure;
  const responses = ops.map((op) => applyOp(store, batch, op));
  return { header: { revision: 0 as TxnResponse["header"]["revision"] }, succeeded, responses };
}
