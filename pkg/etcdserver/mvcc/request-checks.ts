/**
 * The static request checks etcd runs before proposing a request (v3rpc/key.go), which need no
 * store state. They return the first failure in etcd's order; the store runs them again so
 * that it never applies a request that skipped them.
 */
import { EtcdError, type Result, err, limits, ok } from "../../common/index.js";
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "./kv-requests.js";
import { literalIntervalContains } from "./key-range.js";

type Check = Result<null, EtcdError>;
const passed: Check = ok(null);

/** Range: a non-empty key. */
export function checkRangeRequest(request: RangeRequest): Check {
  return request.key.length === 0 ? err(new EtcdError("ETCD_KEY_NOT_PROVIDED")) : passed;
}

/** DeleteRange: a non-empty key. */
export function checkDeleteRangeRequest(request: DeleteRangeRequest): Check {
  return request.key.length === 0 ? err(new EtcdError("ETCD_KEY_NOT_PROVIDED")) : passed;
}

/** Put: a non-empty key; no value with ignore_value; no lease with ignore_lease. */
export function checkPutRequest(request: PutRequest): Check {
  if (request.key.length === 0) return err(new EtcdError("ETCD_KEY_NOT_PROVIDED"));
  if (request.ignoreValue && request.value.length !== 0) {
    return err(new EtcdError("ETCD_VALUE_PROVIDED"));
  }
  if (request.ignoreLease && request.lease !== 0n) return err(new EtcdError("ETCD_LEASE_PROVIDED"));
  return passed;
}

/**
 * Txn: the op-count limit, non-empty compare keys, each op's own checks (an empty op is
 * "key not found"), then the duplicate-key rule on success and on failure. A nested txn's
 * op limit is what the enclosing txn leaves: etcdTxnOpsMax minus the enclosing op count.
 */
export function checkTxnRequest(request: TxnRequest): Check {
  const shape = checkTxnShape(request, limits.etcdTxnOpsMax);
  if (!shape.ok) return shape;
  for (const ops of [request.success, request.failure]) {
    if (collectWrites(ops) === null) return err(new EtcdError("ETCD_DUPLICATE_KEY"));
  }
  return passed;
}

function checkTxnShape(request: TxnRequest, opsMax: number): Check {
  const opCount = Math.max(request.compare.length, request.success.length, request.failure.length);
  if (opCount > opsMax) return err(new EtcdError("ETCD_TOO_MANY_OPS"));
  for (const compare of request.compare) {
    if (compare.key.length === 0) return err(new EtcdError("ETCD_KEY_NOT_PROVIDED"));
  }
  for (const op of [...request.success, ...request.failure]) {
    const check = checkRequestOp(op, opsMax - opCount);
    if (!check.ok) return check;
  }
  return passed;
}

function checkRequestOp(op: RequestOp, opsMax: number): Check {
  switch (op.type) {
    case "range":
      return checkRangeRequest(op.request);
    case "put":
      return checkPutRequest(op.request);
    case "deleteRange":
      return checkDeleteRangeRequest(op.request);
    case "txn":
      return checkTxnShape(op.request, opsMax);
    case "empty":
      return err(new EtcdError("ETCD_KEY_NOT_FOUND"));
  }
}

/** A delete interval as checkIntervals sees it: range_end taken literally. */
interface DeleteInterval {
  readonly start: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

interface Writes {
  readonly puts: Set<string>;
  readonly deletes: DeleteInterval[];
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

function deleted(deletes: readonly DeleteInterval[], key: string): boolean {
  const bytes = Buffer.from(key, "latin1");
  return deletes.some(({ start, rangeEnd }) => literalIntervalContains(start, rangeEnd, bytes));
}

/**
 * etcd 3.4 checkIntervals: the puts and deletes of an op list and of its nested txns, or null
 * when a put collides. This level's deletes are collected first; each nested txn's puts are
 * checked against the puts and deletes gathered so far (then/else of one nested txn may put
 * the same key), and its deletes join the set after it; this level's puts come last.
 */
function collectWrites(ops: readonly RequestOp[]): Writes | null {
  const deletes: DeleteInterval[] = [];
  for (const op of ops) {
    if (op.type === "deleteRange") {
      deletes.push({ start: op.request.key, rangeEnd: op.request.rangeEnd });
    }
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== "txn") continue;
    const then = collectWrites(op.request.success);
    const otherwise = collectWrites(op.request.failure);
    if (then === null || otherwise === null) return null;
    for (const key of then.puts) {
      if (puts.has(key) || deleted(deletes, key)) return null;
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      if ((puts.has(key) && !then.puts.has(key)) || deleted(deletes, key)) return null;
      puts.add(key);
    }
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (op.type !== "put") continue;
    const key = keyString(op.request.key);
    if (puts.has(key) || deleted(deletes, key)) return null;
    puts.add(key);
  }
  return { puts, deletes };
}
