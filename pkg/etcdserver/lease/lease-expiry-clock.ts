/**
 * The leader-local half of the lease manager: when each lease expires. Only the leader keeps
 * this clock (etcd's lessor "primary"); it never enters the Raft log or a snapshot, so it may
 * differ between members without breaking determinism. Times are milliseconds on the caller's
 * clock, passed in as `nowMs`: this file reads no clock itself.
 */
import { type LeaseId, assert, assertSafeInteger, leaseId } from "../../common/index.js";
import { limits } from "../../common/index.js";

/** One lease's deadline. Invariant: `retryAtMs` is -1 or > `expiryMs` (a revoke is pending). */
interface Deadline {
  expiryMs: number;
  /** When `expired()` may report this lease again if its revoke has not applied by then. */
  retryAtMs: number;
}

/** Expiry times of the leases while this member leads; empty (and off) on a follower. */
export class LeaseExpiryClock {
  /** lease → deadline. Invariant: empty whenever `#leading` is false. */
  readonly #deadlines = new Map<bigint, Deadline>();
  #leading = false;

  get leading(): boolean {
    return this.#leading;
  }

  /** Starts a lease's clock at `nowMs + ttlSeconds` (a grant or renew while leading). */
  start(id: LeaseId, ttlSeconds: number, nowMs: number): void {
    assert(this.#leading, () => `lease ${id} clock started on a follower`);
    assertSafeInteger(nowMs, "now ms", 0);
    this.#deadlines.set(id, { expiryMs: nowMs + ttlSeconds * 1000, retryAtMs: -1 });
  }

  /** Forgets a lease (revoked). No-op on a follower or for an unknown lease. */
  stop(id: LeaseId): void {
    this.#deadlines.delete(id);
  }

  /** The expiry time of `id` in ms, or undefined on a follower or for an unknown lease. */
  expiryMs(id: LeaseId): number | undefined {
    return this.#deadlines.get(id)?.expiryMs;
  }

  /** True when `id` has a deadline at or before `nowMs` (expired, its revoke pending). */
  isExpired(id: LeaseId, nowMs: number): boolean {
    const deadline = this.#deadlines.get(id);
    return deadline !== undefined && deadline.expiryMs <= nowMs;
  }

  /**
   * Becomes leader: every lease in `leases` (id → granted TTL s) expires at `nowMs` + its TTL
   * + `extendMs`, so that a leader change never expires a lease early (etcd Promote).
   */
  promote(leases: ReadonlyMap<bigint, number>, nowMs: number, extendMs: number): void {
    assertSafeInteger(nowMs, "now ms", 0);
    assertSafeInteger(extendMs, "promote extension ms", 0);
    this.#leading = true;
    this.#deadlines.clear();
    for (const [id, ttlSeconds] of leases) {
      this.#deadlines.set(id, { expiryMs: nowMs + ttlSeconds * 1000 + extendMs, retryAtMs: -1 });
    }
  }

  /** Becomes follower: drops every deadline (followers keep no expiry clock). */
  demote(): void {
    this.#leading = false;
    this.#deadlines.clear();
  }

  /**
   * Up to `max` leases whose expiry is at or before `nowMs`, earliest expiry first (ties by
   * ID). A lease returned here is not returned again until `etcdLeaseRevokeRetryMs` later, so
   * the leader proposes one revoke per expiry and retries only if that proposal was lost.
   * Empty on a follower. O(n log n) over the n leases: the caller runs it every 500 ms.
   */
  expired(nowMs: number, max: number): LeaseId[] {
    assertSafeInteger(nowMs, "now ms", 0);
    assertSafeInteger(max, "expired batch max", 1, limits.etcdLeaseRevokeBatchMax);
    const due: [bigint, Deadline][] = [];
    for (const entry of this.#deadlines) {
      const deadline = entry[1];
      if (deadline.expiryMs > nowMs) continue;
      if (deadline.retryAtMs !== -1 && deadline.retryAtMs > nowMs) continue;
      due.push(entry);
    }
    due.sort(([a, x], [b, y]) => x.expiryMs - y.expiryMs || (a < b ? -1 : a > b ? 1 : 0));
    const batch = due.slice(0, max);
    for (const [, deadline] of batch) deadline.retryAtMs = nowMs + limits.etcdLeaseRevokeRetryMs;
    assert(batch.length <= max, () => `expired batch ${batch.length} > max ${max}`);
    return batch.map(([id]) => leaseId(id));
  }
}
