/**
 * The MVCC key-value state machine behind the etcd KV service: pure, deterministic and in
 * memory (no I/O, no time). The Raft apply loop calls one method per committed request; the
 * same sequence of calls gives the same state and responses on every member.
 *
 * Semantics follow etcd 3.4 (etcd-api.md §4-5): a fresh store is at revision 1; each Put,
 * each DeleteRange that deletes something and each Txn with an effective write adds exactly
 * one revision; the writes of one request share it and take sub-revisions in op order.
 * Costs: n keys, h versions per key, k keys in a range: Range O(log n + k log h) (every key
 * of the range is visited, as etcd does, because `count` needs them all); a write O(log n)
 * plus one index-chunk insert for a new key; Compact O(n · h); snapshot and hash O(n · h).
 */
import {
  EtcdError,
  type LeaseId,
  type PfsError,
  type Result,
  assert,
  err,
  ok,
  revision,
} from "../../common/index.js";
import { EventLog, eventOf } from "./event-log.js";
import type { KeyHistory } from "./key-history.js";
import { KeyIndex } from "./key-index.js";
import { compareBytes } from "./key-range.js";
import type { KeyValue, RevisionEvents } from "./key-value.js";
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from "./kv-requests.js";
import type {
  Applied,
  CompactionResponse,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from "./kv-responses.js";
import type { LeaseLookup } from "./lease-lookup.js";
import { kvsAt, rangeRead, readRevision } from "./range-read.js";
import {
  checkDeleteRangeRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from "./request-checks.js";
import {
  type StoreState,
  captureStoreState,
  decodeStoreState,
  encodeStoreState,
  type StoreStateEncoder,
  storeStateEncoder,
  hashState,
} from "./store-state.js";
import { applyTxn, checkTxnState } from "./txn-apply.js";
import { WriteBatch } from "./write-batch.js";

/** The state-changing primitives a txn applies through (implemented by MvccStore). */
export interface StoreWriter {
  readonly index: KeyIndex;
  readonly compactRevision: number;
  applyPut(batch: WriteBatch, request: PutRequest): PutResponse;
  applyDeleteRange(batch: WriteBatch, request: DeleteRangeRequest): DeleteRangeResponse;
}

/** etcd's MVCC store. Not thread-shared: one apply loop owns it. */
export class MvccStore implements StoreWriter {
  readonly index: KeyIndex;
  readonly #log = new EventLog();
  readonly #leases: LeaseLookup;
  /** lease → its live keys (latin1 key → key). Invariant: mirrors every latest version. */
  readonly #leaseKeys = new Map<bigint, Map<string, Uint8Array>>();
  #currentRevision: number;
  #compactRevision: number;

  /** A fresh store at revision 1, or (from `restore`) a restored one. */
  constructor(leases: LeaseLookup, state?: StoreState) {
    this.#leases = leases;
    this.index = state?.index ?? new KeyIndex();
    this.#currentRevision = state?.currentRevision ?? 1;
    // etcd's compactMainRev: -1 until the first compaction (so Compact(0) succeeds once).
    this.#compactRevision = state?.compactRevision ?? -1;
    assert(this.#currentRevision >= 1, () => `current revision ${this.#currentRevision} < 1`);
    if (state !== undefined) this.#rebuildLog();
    for (const history of this.index.all()) this.#attach(history.key, 0n, history.latest()?.lease);
  }

  /** The current revision: that of the last effective write, 1 on a fresh store. */
  get revision(): number {
    return this.#currentRevision;
  }

  /** The last compaction revision, -1 before any (etcd's compactMainRev). */
  get compactRevision(): number {
    return this.#compactRevision;
  }

  /**
   * A binary, versioned, checksummed snapshot of the whole state (history and compaction
   * revision included); `MvccStore.restore` of it gives a store that answers identically.
   */
  snapshot(): Uint8Array {
    return encodeStoreState(this.state());
  }

  /**
   * The encoding of the store as it is now (captured before this returns: the store may move
   * on), to be written later, in slices, into a buffer the caller owns; the bytes are those of
   * `snapshot()` at the call.
   */
  snapshotEncoder(): StoreStateEncoder {
    return storeStateEncoder(captureStoreState(this.state()));
  }

  /** Restores a snapshot. Errors: corrupt or unknown bytes → DATA_CORRUPTED. */
  static restore(bytes: Uint8Array, leases: LeaseLookup): Result<MvccStore, PfsError> {
    const state = decodeStoreState(bytes);
    return state.ok ? ok(new MvccStore(leases, state.value)) : state;
  }

  /** The state a snapshot holds. Owned by the store: read only. */
  state(): StoreState {
    return {
      index: this.index,
      currentRevision: this.#currentRevision,
      compactRevision: this.#compactRevision,
    };
  }

  /**
   * Range: the keys of [key, rangeEnd) at `revision` (see RangeRequest). Errors: empty key →
   * ETCD_KEY_NOT_PROVIDED; above current → ETCD_FUTURE_REV; below compaction →
   * ETCD_COMPACTED. The header carries the current revision.
   */
  range(request: RangeRequest): Result<RangeResponse, EtcdError> {
    const check = checkRangeRequest(request);
    if (!check.ok) return check;
    return rangeRead(this.index, request, this.#currentRevision, this.#compactRevision);
  }

  /**
   * Put: creates or overwrites `key` at a new revision. Errors, in etcd's order: the static
   * checks (empty key, value/lease provided with ignore_*), then a missing lease →
   * ETCD_LEASE_NOT_FOUND, then ignore_* on a missing key → ETCD_KEY_NOT_FOUND.
   */
  put(request: PutRequest): Result<Applied<PutResponse>, EtcdError> {
    const check = checkPutRequest(request);
    if (!check.ok) return check;
    if (request.lease !== 0n && !this.#leases.leaseExists(request.lease)) {
      return err(new EtcdError("ETCD_LEASE_NOT_FOUND"));
    }
    if ((request.ignoreValue || request.ignoreLease) && this.#latest(request.key) === undefined) {
      return err(new EtcdError("ETCD_KEY_NOT_FOUND"));
    }
    const batch = new WriteBatch(this.#currentRevision);
    const response = this.applyPut(batch, request);
    return ok({ response, events: this.#end(batch) });
  }

  /**
   * DeleteRange: deletes the live keys of [key, rangeEnd) in key order at one new revision;
   * deleting nothing leaves the revision unchanged. Errors: empty key → ETCD_KEY_NOT_PROVIDED.
   */
  deleteRange(request: DeleteRangeRequest): Result<Applied<DeleteRangeResponse>, EtcdError> {
    const check = checkDeleteRangeRequest(request);
    if (!check.ok) return check;
    const batch = new WriteBatch(this.#currentRevision);
    const response = this.applyDeleteRange(batch, request);
    return ok({ response, events: this.#end(batch) });
  }

  /**
   * Txn: the compares (against the state before the txn) choose success or failure, whose
   * ops then run in order, each seeing the writes before it, all at one new revision (none
   * when nothing was written). Every check runs before anything applies; errors are those of
   * checkTxnRequest, then ETCD_KEY_NOT_FOUND / ETCD_LEASE_NOT_FOUND for the puts of the
   * branches taken, then ETCD_FUTURE_REV / ETCD_COMPACTED for their ranges.
   */
  txn(request: TxnRequest): Result<Applied<TxnResponse>, EtcdError> {
    const check = checkTxnRequest(request);
    if (!check.ok) return check;
    const stateCheck = checkTxnState(this, request, this.#currentRevision, this.#leases);
    if (!stateCheck.ok) return stateCheck;
    const batch = new WriteBatch(this.#currentRevision);
    const nested = applyTxn(this, batch, request);
    const response = { ...nested, header: { revision: revision(batch.readRevision) } };
    return ok({ response, events: this.#end(batch) });
  }

  /**
   * Compact: drops history below `revision`, keeping every key's version at it. Errors:
   * revision <= the last compaction → ETCD_COMPACTED; above current → ETCD_FUTURE_REV.
   * The revision does not change.
   */
  compact(request: CompactionRequest): Result<CompactionResponse, EtcdError> {
    const at = request.revision;
    if (at <= this.#compactRevision) return err(new EtcdError("ETCD_COMPACTED"));
    if (at > this.#currentRevision) return err(new EtcdError("ETCD_FUTURE_REV"));
    this.#compactRevision = at;
    this.index.retain((history) => !history.compact(at));
    this.#log.compact(at);
    return ok({ header: { revision: revision(this.#currentRevision) } });
  }

  /**
   * Deletes `keys` (a lease revoke or expiry) in sorted key order at one new revision; keys
   * already absent are skipped, and when none is live the revision is unchanged.
   */
  deleteKeys(keys: readonly Uint8Array[]): Applied<{ revision: number; deleted: number }> {
    const sorted = [...keys].sort(compareBytes);
    const batch = new WriteBatch(this.#currentRevision);
    let deleted = 0;
    for (const key of sorted) {
      const history = this.index.get(key);
      if (history?.latest() === undefined) continue;
      this.#record(batch, history, null);
      deleted += 1;
    }
    const events = this.#end(batch);
    return { response: { revision: this.#currentRevision, deleted }, events };
  }

  /** The live keys attached to `lease`, in key order. O(k log k) for its k keys. */
  keysAttachedTo(lease: LeaseId): Uint8Array[] {
    return [...(this.#leaseKeys.get(lease)?.values() ?? [])].sort(compareBytes);
  }

  /** Moves `key` from lease `before` to lease `after` in the lease index (0n = none). */
  #attach(key: Uint8Array, before: bigint, after: bigint | undefined): void {
    if (before === (after ?? 0n)) return;
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
    if (before !== 0n) {
      const keys = this.#leaseKeys.get(before);
      assert(keys?.delete(name) === true, () => `key not attached to its lease ${before}`);
      if (keys.size === 0) this.#leaseKeys.delete(before);
    }
    if (after === undefined || after === 0n) return;
    const keys = this.#leaseKeys.get(after) ?? new Map<string, Uint8Array>();
    keys.set(name, key);
    this.#leaseKeys.set(after, keys);
  }

  /**
   * The writes of up to `revisionsMax` revisions from `fromRevision` on, grouped by revision,
   * for watch replay. Errors: `fromRevision` below the compaction revision → ETCD_COMPACTED.
   */
  events(
    fromRevision: number,
    revisionsMax: number,
    withPrevKv: boolean,
  ): Result<RevisionEvents[], EtcdError> {
    if (fromRevision < this.#compactRevision) return err(new EtcdError("ETCD_COMPACTED"));
    return ok(this.#log.revisions(fromRevision, revisionsMax, withPrevKv, this.#compactRevision));
  }

  /**
   * HashKV: a CRC-32 of every retained version at or below `revision` (<= 0: current), with
   * the compaction revision. Errors as Range's revision.
   */
  hashKv(
    requested: number,
  ): Result<{ hash: number; revision: number; compactRevision: number }, EtcdError> {
    const at = readRevision(requested, this.#currentRevision, this.#compactRevision);
    if (!at.ok) return at;
    const hash = hashState(this.state(), at.value);
    return ok({ hash, revision: at.value, compactRevision: this.#compactRevision });
  }

  /** Applies a put inside `batch`; the caller has run every check. */
  applyPut(batch: WriteBatch, request: PutRequest): PutResponse {
    const history = this.index.getOrCreate(request.key);
    const previous = history.latest();
    const main = batch.writeRevision;
    let { value, lease } = request;
    if (request.ignoreValue || request.ignoreLease) {
      assert(previous !== undefined, "ignore_value/ignore_lease put on a missing key");
      if (request.ignoreValue) value = previous.value;
      if (request.ignoreLease) lease = previous.lease;
    }
    const kv: KeyValue = {
      key: history.key,
      createRevision: previous?.createRevision ?? revision(main),
      modRevision: revision(main),
      version: (previous?.version ?? 0) + 1,
      value: Uint8Array.from(value),
      lease,
    };
    this.#record(batch, history, kv);
    const header = { revision: revision(main) };
    return request.prevKv && previous !== undefined ? { header, prevKv: previous } : { header };
  }

  /** Applies a delete-range inside `batch`; the caller has run every check. */
  applyDeleteRange(batch: WriteBatch, request: DeleteRangeRequest): DeleteRangeResponse {
    const kvs = kvsAt(this.index, request.key, request.rangeEnd, batch.readRevision);
    for (const kv of kvs) {
      const history = this.index.get(kv.key);
      assert(history !== undefined, "a live key has no history");
      this.#record(batch, history, null);
    }
    return {
      header: { revision: revision(batch.readRevision) },
      deleted: kvs.length,
      prevKvs: request.prevKv ? kvs : [],
    };
  }

  #latest(key: Uint8Array): KeyValue | undefined {
    return this.index.get(key)?.latest();
  }

  #record(batch: WriteBatch, history: KeyHistory, kv: KeyValue | null): void {
    const entry = { main: batch.writeRevision, sub: batch.changes, kv };
    const before = history.latest()?.lease ?? 0n;
    history.append(entry);
    this.#attach(history.key, before, kv?.lease);
    const logEntry = { history, entry };
    this.#log.append(logEntry);
    batch.changes += 1;
    batch.events.push(eventOf(logEntry, true, this.#compactRevision));
  }

  /** Ends a write: the revision advances by one when it changed anything. */
  #end(batch: WriteBatch): WriteBatch["events"] {
    assert(batch.beginRevision === this.#currentRevision, "interleaved writes");
    if (batch.changes > 0) this.#currentRevision = batch.writeRevision;
    return batch.events;
  }

  #rebuildLog(): void {
    const entries = this.index.all().flatMap((history) =>
      history.entries.filter((entry) => entry.main >= this.#compactRevision)
        .map((entry) => ({ history, entry })));
    entries.sort((a, b) => a.entry.main - b.entry.main || a.entry.sub - b.entry.sub);
    for (const entry of entries) this.#log.append(entry);
  }
}
