// Shared helpers for the MVCC unit tests: byte strings, a store with a fixed set of leases, and
// unwrapping of Results that the test expects to succeed.
import type { ExecutionContext } from "ava";
import { EtcdError, type LeaseId, type Result, leaseId } from "../../../pkg/common/index.js";
import { type KeyValue, MvccStore } from "../../../pkg/etcdserver/index.js";

/** A byte string from latin1 text. */
export function b(text: string): Buffer {
  return Buffer.from(text, "latin1");
}

/** Lease 7 exists in `newStore()`; lease 8 does not. */
export const liveLease: LeaseId = leaseId(7n);
export const missingLease: LeaseId = leaseId(8n);

/** A fresh store where only `liveLease` (and any of `extraLeases`) exists. */
export function newStore(extraLeases: readonly bigint[] = []): MvccStore {
  const leases = new Set<bigint>([liveLease, ...extraLeases]);
  return new MvccStore({ leaseExists: (id) => leases.has(id) });
}

/** The value of an ok Result; fails the test (and throws) otherwise. */
export function must<T>(t: ExecutionContext, result: Result<T, unknown>): T {
  if (!result.ok) {
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    t.fail(`unexpected error: ${reason}`);
    throw new Error(reason);
  }
  return result.value;
}

/** Asserts `result` failed with etcd error `code`, carrying etcd's exact text and status. */
export function mustFail(
  t: ExecutionContext,
  result: Result<unknown, unknown>,
  code: EtcdError["code"],
  message: string,
  status: number,
): void {
  if (result.ok) {
    t.fail(`expected ${code}, got success`);
    return;
  }
  t.true(result.error instanceof EtcdError, "an EtcdError");
  const error = result.error as EtcdError;
  t.is(error.code, code);
  t.is(error.message, message);
  t.is(error.status, status);
}

/** key → value text, for compact assertions on kvs. */
export function keysOf(kvs: readonly KeyValue[]): string[] {
  return kvs.map((kv) => Buffer.from(kv.key).toString("latin1"));
}
