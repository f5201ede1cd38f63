/**
 * The lease manager of etcd-api.md §7, pure and deterministic: no timers and no `Date`; time
 * comes in as `nowMs`. Split as etcd's lessor:
 *
 * - Replicated state (grant, revoke, attach, detach, snapshot): applied identically on every
 *   member from committed Raft entries; results never depend on `nowMs` or the role.
 * - Leader-local expiry (`LeaseExpiryClock`): only while `promote()`d. The leader renews,
 *   reports `expired()` leases and proposes their revoke through Raft; the revoke's apply
 *   deletes the keys. A follower keeps no clock: its `timeToLive` reports the granted TTL as
 *   remaining, so the service forwards TimeToLive and LeaseKeepAlive to the leader (as etcd
 *   followers do) and answers locally only when it leads.
 *
 * Keys are byte strings; the manager holds its own copies of the key index (lease → keys and
 * key → lease), which the apply loop keeps in step with the MVCC store via attach/detach.
 */
import {
  EtcdError,
  type LeaseId,
  PfsError,
  type Result,
  assert,
  err,
  leaseId,
  ok,
} from "../../common/index.js";
import { type LeaseLookup, compareBytes } from "../mvcc/index.js";
import { LeaseExpiryClock } from "./lease-expiry-clock.js";
import type { LeaseRecord } from "./lease-record.js";
import { decodeLeaseSnapshot, encodeLeaseSnapshot } from "./lease-snapshot.js";
import { grantedTtlSeconds } from "./lease-ttl.js";

/** The answer to a grant: the final ID and TTL. */
export interface LeaseGrant {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
}

/**
 * The answer to TimeToLive. A missing lease gives `ttlSeconds` -1, `grantedTtlSeconds` 0 and
 * no keys (success, as etcd). `keys` is in bytewise order, empty unless asked for.
 */
export interface LeaseTimeToLive {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  readonly keys: readonly Uint8Array[];
}

/** Configuration; `ttlSecondsMin` comes from `leaseTtlSecondsMin(electionTimeoutMs)`. */
export interface LeaseManagerOptions {
  readonly ttlSecondsMin: number;
}

const latin1 = (key: Uint8Array): string => Buffer.from(key).toString("latin1");

/** The lease state machine. Single-threaded; owned by the apply loop. */
export class LeaseManager implements LeaseLookup {
  readonly #ttlSecondsMin: number;
  /** id → live lease. Invariant: a key is in at most one lease's `keys`. */
  readonly #leases = new Map<bigint, LeaseRecord>();
  /** latin1 key → its lease. Invariant: the exact inverse of every lease's `keys`. */
  readonly #keyLeases = new Map<string, LeaseId>();
  readonly #clock = new LeaseExpiryClock();

  constructor(options: LeaseManagerOptions) {
    assert(options.ttlSecondsMin >= 1, () => `lease ttl minimum ${options.ttlSecondsMin} < 1`);
    this.#ttlSecondsMin = options.ttlSecondsMin;
  }

  /** Number of live leases. */
  get size(): number {
    return this.#leases.size;
  }

  /** True while this member leads and keeps the expiry clock. */
  get leading(): boolean {
    return this.#clock.leading;
  }

  /** LeaseLookup for the MVCC store: whether the lease is live (granted, not yet revoked). */
  leaseExists(id: LeaseId): boolean {
    return this.#leases.has(id);
  }

  /**
   * Applies a grant. `id` must be non-zero: the proposer replaced 0 with `chooseLeaseId`.
   * The TTL is raised to the minimum. Errors: TTL > 9e9 → ETCD_LEASE_TTL_TOO_LARGE (checked
   * first, as etcd's server does before proposing); `id` live → ETCD_LEASE_EXIST. `nowMs`
   * starts the expiry clock on the leader and is ignored on a follower.
   */
  grant(id: LeaseId, ttlSeconds: bigint, nowMs: number): Result<LeaseGrant, EtcdError> {
    assert(id !== 0n, "lease grant with id 0: the proposer must choose the id");
    const ttl = grantedTtlSeconds(ttlSeconds, this.#ttlSecondsMin);
    if (!ttl.ok) return ttl;
    if (this.#leases.has(id)) return err(new EtcdError("ETCD_LEASE_EXIST"));
    this.#leases.set(id, { id, ttlSeconds: ttl.value, keys: new Map() });
    if (this.#clock.leading) this.#clock.start(id, ttl.value, nowMs);
    return ok({ id, ttlSeconds: ttl.value });
  }

  /**
   * Applies a revoke (a client's or an expiry's): forgets the lease and returns its attached
   * keys in bytewise order, for `MvccStore.deleteKeys` to delete at one revision (none: no new
   * revision). Errors: a missing lease → ETCD_LEASE_NOT_FOUND.
   */
  revoke(id: LeaseId): Result<Uint8Array[], EtcdError> {
    const record = this.#leases.get(id);
    if (record === undefined) return err(new EtcdError("ETCD_LEASE_NOT_FOUND"));
    const keys = [...record.keys.values()].sort(compareBytes);
    for (const name of record.keys.keys()) this.#keyLeases.delete(name);
    this.#leases.delete(id);
    this.#clock.stop(id);
    assert(!this.#leases.has(id), () => `lease ${id} survived its revoke`);
    return ok(keys);
  }

  /**
   * Attaches `key` to live lease `id` (a put with that lease), moving it off any other lease.
   * The put was checked first (a put naming a missing lease fails with LEASE_NOT_FOUND), so
   * a missing lease here is an assertion.
   */
  attach(key: Uint8Array, id: LeaseId): void {
    const record = this.#leases.get(id);
    assert(record !== undefined, () => `attach to missing lease ${id}`);
    assert(key.length > 0, "attach of an empty key");
    this.detach(key);
    const name = latin1(key);
    record.keys.set(name, Uint8Array.prototype.slice.call(key));
    this.#keyLeases.set(name, id);
  }

  /** Detaches `key` from its lease, if any (a put without a lease, or a delete). */
  detach(key: Uint8Array): void {
    const name = latin1(key);
    const id = this.#keyLeases.get(name);
    if (id === undefined) return;
    const record = this.#leases.get(id);
    assert(record?.keys.delete(name) === true, () => `key index names lease ${id} wrongly`);
    this.#keyLeases.delete(name);
  }

  /** The lease `key` is attached to, or 0n. */
  leaseOf(key: Uint8Array): LeaseId {
    return this.#keyLeases.get(latin1(key)) ?? leaseId(0n);
  }

  /**
   * TimeToLive at `nowMs`. On the leader: remaining whole seconds until expiry, rounded down,
   * 0 once expired and awaiting revoke. On a follower: the granted TTL (see the file comment).
   * `withKeys` adds the attached keys in bytewise order.
   */
  timeToLive(id: LeaseId, withKeys: boolean, nowMs: number): LeaseTimeToLive {
    const record = this.#leases.get(id);
    if (record === undefined) return { id, ttlSeconds: -1, grantedTtlSeconds: 0, keys: [] };
    const expiryMs = this.#clock.expiryMs(id);
    const remaining = expiryMs === undefined
      ? record.ttlSeconds
      : Math.max(0, Math.floor((expiryMs - nowMs) / 1000));
    const keys = withKeys ? [...record.keys.values()].sort(compareBytes) : [];
    return { id, ttlSeconds: remaining, grantedTtlSeconds: record.ttlSeconds, keys };
  }

  /**
   * Every live lease ID, earliest expiry first on the leader (ties by ascending ID); by
   * ascending ID on a follower, which keeps no expiry times.
   */
  leases(): LeaseId[] {
    const expiry = (id: bigint): number => this.#clock.expiryMs(leaseId(id)) ?? 0;
    const ids = [...this.#leases.keys()];
    ids.sort((a, b) => expiry(a) - expiry(b) || (a < b ? -1 : a > b ? 1 : 0));
    return ids.map((id) => leaseId(id));
  }

  /**
   * Leader only (a follower forwards keepalives; calling it there is an assertion): renews
   * `id` to its full TTL from `nowMs` and returns the granted TTL, or 0 for a missing lease or
   * one already expired and awaiting its revoke (a keepalive replies TTL 0, not an error).
   * etcd replies to a keepalive of an expired lease only after its revoke applied: on 0 with
   * `leaseExists(id)` still true, the service waits for the revoke before replying.
   */
  renew(id: LeaseId, nowMs: number): number {
    assert(this.#clock.leading, () => `lease ${id} renewed on a follower`);
    const record = this.#leases.get(id);
    if (record === undefined || this.#clock.isExpired(id, nowMs)) return 0;
    this.#clock.start(id, record.ttlSeconds, nowMs);
    return record.ttlSeconds;
  }

  /**
   * Leader only (empty on a follower): up to `max` (<= etcdLeaseRevokeBatchMax) leases whose
   * expiry is at or before `nowMs`, earliest first, for the leader to propose revokes. A
   * returned lease is reported again only after etcdLeaseRevokeRetryMs, if still live.
   */
  expired(nowMs: number, max: number): LeaseId[] {
    return this.#clock.expired(nowMs, max);
  }

  /**
   * Becomes leader at `nowMs`: every lease gets its full TTL plus `extendMs` (pass the
   * election timeout), so a leader change never expires a lease early.
   */
  promote(nowMs: number, extendMs: number): void {
    const ttls = new Map<bigint, number>();
    for (const [id, record] of this.#leases) ttls.set(id, record.ttlSeconds);
    this.#clock.promote(ttls, nowMs, extendMs);
  }

  /** Becomes follower: drops the expiry clock. */
  demote(): void {
    this.#clock.demote();
  }

  /** The replicated state as a binary, versioned, checksummed snapshot (no expiry times). */
  snapshot(): Uint8Array {
    return encodeLeaseSnapshot(this.#leases.values());
  }

  /**
   * A follower-state manager from `snapshot()` bytes (call `promote` if this member leads).
   * Errors: corrupt bytes, or a key attached to two leases → DATA_CORRUPTED.
   */
  static restore(bytes: Uint8Array, options: LeaseManagerOptions): Result<LeaseManager, PfsError> {
    const records = decodeLeaseSnapshot(bytes);
    if (!records.ok) return records;
    const manager = new LeaseManager(options);
    for (const record of records.value) {
      manager.#leases.set(record.id, record);
      for (const name of record.keys.keys()) {
        if (manager.#keyLeases.has(name)) {
          return err(new PfsError("DATA_CORRUPTED", `lease snapshot key in two leases`));
        }
        manager.#keyLeases.set(name, record.id);
      }
    }
    return ok(manager);
  }
}
