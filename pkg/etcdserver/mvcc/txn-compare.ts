/**
 * Txn compares (etcdserver/apply.go applyCompare and compareKV). A compare holds when every
 * key in its range passes; a missing key (or an empty range) compares as all zeros, except
 * that a VALUE compare on no key is always false.
 */
import type { KeyValue } from "./key-value.js";
import { compareBytes } from "./key-range.js";
import type { Compare } from "./kv-requests.js";

function sign(difference: number | bigint): number {
  if (difference > 0) return 1;
  if (difference < 0) return -1;
  return 0;
}

/** The ordering of the key's field against the operand: -1, 0 or 1. */
function compareField(compare: Compare, kv: KeyValue | undefined): number {
  switch (compare.target) {
    case "VERSION":
      return sign((kv?.version ?? 0) - compare.operand);
    case "CREATE":
      return sign((kv?.createRevision ?? 0) - compare.operand);
    case "MOD":
      return sign((kv?.modRevision ?? 0) - compare.operand);
    case "VALUE":
      return sign(compareBytes(kv?.value ?? new Uint8Array(0), compare.operand));
    case "LEASE":
      return sign((kv?.lease ?? 0n) - compare.operand);
  }
}

function resultHolds(compare: Compare, ordering: number): boolean {
  switch (compare.result) {
    case "EQUAL":
      return ordering === 0;
    case "NOT_EQUAL":
      return ordering !== 0;
    case "GREATER":
      return ordering > 0;
    case "LESS":
      return ordering < 0;
  }
}

/** Whether `compare` holds over `kvs`, the live keys of its range, in key order. */
export function compareHolds(compare: Compare, kvs: readonly KeyValue[]): boolean {
  if (kvs.length === 0) {
    return compare.target !== "VALUE" && resultHolds(compare, compareField(compare, undefined));
  }
  return kvs.every((kv) => resultHolds(compare, compareField(compare, kv)));
}
