/**
 * The permission checks a Txn needs, flattened: READ for every compare and range, WRITE for
 * every put and delete, READ as well for a put or delete with prev_kv, through nested txns.
 * Every check of one request fails with the same error, so the order does not change the
 * outcome: a txn's compares come before its ops, and a nested txn's after its siblings.
 */
import type { PermissionType } from "../backend.js";
import type { RequestOp, TxnRequest } from "../mvcc/index.js";

/** One key range a txn touches and what it needs there. */
export interface TxnKeyCheck {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly permType: Exclude<PermissionType, "READWRITE">;
}

const noEnd = new Uint8Array(0);

function opChecks(op: RequestOp, checks: TxnKeyCheck[]): TxnRequest | undefined {
  switch (op.type) {
    case "range":
      checks.push({ key: op.request.key, rangeEnd: op.request.rangeEnd, permType: "READ" });
      return undefined;
    case "put":
      checks.push({ key: op.request.key, rangeEnd: noEnd, permType: "WRITE" });
      if (op.request.prevKv) checks.push({ key: op.request.key, rangeEnd: noEnd, permType: "READ" });
      return undefined;
    case "deleteRange": {
      const { key, rangeEnd, prevKv } = op.request;
      checks.push({ key, rangeEnd, permType: "WRITE" });
      if (prevKv) checks.push({ key, rangeEnd, permType: "READ" });
      return undefined;
    }
    case "txn":
      return op.request;
    case "empty":
      return undefined;
  }
}

/** Every check `txn` needs, in order (iterative: nesting depth is not bounded here). */
export function txnKeyChecks(txn: TxnRequest): TxnKeyCheck[] {
  const checks: TxnKeyCheck[] = [];
  // A stack of op lists still to visit; a nested txn's compares are checked when it is met.
  const pending: (readonly RequestOp[])[] = [];
  const enter = (nested: TxnRequest): void => {
    for (const compare of nested.compare) {
      checks.push({ key: compare.key, rangeEnd: compare.rangeEnd, permType: "READ" });
    }
    pending.push(nested.failure, nested.success); // success is popped first.
  };
  enter(txn);
  for (let ops = pending.pop(); ops !== undefined; ops = pending.pop()) {
    const nestedAt: TxnRequest[] = [];
    for (const op of ops) {
      const nested = opChecks(op, checks);
      if (nested !== undefined) nestedAt.push(nested);
    }
    for (const nested of nestedAt.reverse()) enter(nested);
  }
  return checks;
}
