/**
 * The client-side recipes of etcd's concurrency package, run inside the server for the Lock
 * and Election services (etcd-api.md §8): session leases, owner ranges and waiting for the
 * deletion of every earlier key. Each step is one backend KV call or watch.
 */
import { type LeaseId, PfsError, leaseId, limits, toGrpcStatus } from "../../common/index.js";
import type { CallContext, EtcdBackend } from "../backend.js";
import { type KeyValue, type RangeResponse, rangeRequest } from "../mvcc/index.js";
import { watchCreateRequest } from "../watch/index.js";
import { KeyWatch } from "./key-watch.js";

const encoder = new TextEncoder();

/** The range end that turns `prefix` into a prefix range (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let index = prefix.length - 1; index >= 0; index--) {
    const byte = prefix[index] ?? 0xff;
    if (byte < 0xff) {
      const end = prefix.slice(0, index + 1);
      end[index] = byte + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/** `a` followed by `b`. */
export function concatBytes(a: Uint8Array, b: Uint8Array | string): Uint8Array {
  const tail = typeof b === "string" ? encoder.encode(b) : b;
  const joined = new Uint8Array(a.length + tail.length);
  joined.set(a);
  joined.set(tail, a.length);
  return joined;
}

/** `<prefix><lease in lower-case hex>`, as the Go client formats a session key (%x). */
export function sessionKey(prefix: Uint8Array, lease: LeaseId): Uint8Array {
  return concatBytes(prefix, lease.toString(16));
}

/** The session lease: the one given, or a new one of etcd's default session TTL. */
export async function sessionLease(
  backend: EtcdBackend,
  context: CallContext,
  lease: LeaseId,
): Promise<LeaseId> {
  if (lease !== 0n) return lease;
  const ttl = BigInt(limits.etcdConcurrencySessionTtlSeconds);
  return (await backend.leaseGrant(context, leaseId(0n), ttl)).id;
}

/** The key under `prefix` with the lowest (or highest) create revision, filtered. */
export function ownerRange(
  prefix: Uint8Array,
  order: "ASCEND" | "DESCEND",
  maxCreateRevision = 0,
): ReturnType<typeof rangeRequest> {
  return rangeRequest({
    key: prefix, rangeEnd: prefixRangeEnd(prefix), sortTarget: "CREATE", sortOrder: order,
    limit: 1, maxCreateRevision,
  });
}

/** Waits until a DELETE event for `key` at or after `fromRevision`. */
async function waitDelete(
  backend: EtcdBackend,
  context: CallContext,
  key: Uint8Array,
  fromRevision: number,
  signal: AbortSignal,
): Promise<void> {
  const watch = new KeyWatch(backend, context,
    watchCreateRequest({ key, startRevision: fromRevision }));
  try {
    for (;;) {
      const response = await watch.next(signal);
      if (response.events.some((event) => event.type === "DELETE")) return;
    }
  } finally {
    watch.close();
  }
}

/**
 * Waits until no key under `prefix` has a create revision <= `maxCreateRevision`; resolves
 * with the last Range's response (its header is the caller's answer).
 */
export async function waitDeletes(
  backend: EtcdBackend,
  context: CallContext,
  prefix: Uint8Array,
  maxCreateRevision: number,
  signal: AbortSignal,
): Promise<RangeResponse> {
  for (;;) {
    const response = await backend.range(context, ownerRange(prefix, "DESCEND", maxCreateRevision));
    const last: KeyValue | undefined = response.kvs[0];
    if (last === undefined) return response;
    await waitDelete(backend, context, last.key, response.header.revision, signal);
  }
}

/** etcd answers every failure of these services with Unknown and the inner error's text. */
export function asConcurrencyError(error: unknown): PfsError {
  const own = ["ELECTION_NO_LEADER", "ELECTION_NOT_LEADER", "ELECTION_MISSING_LEADER_KEY"];
  if (error instanceof PfsError && own.includes(error.code)) return error;
  return new PfsError("CONCURRENCY_FAILED", toGrpcStatus(error).message);
}
