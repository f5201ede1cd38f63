// Seeded random etcd KV requests as wire objects (the shape @grpc/proto-loader takes: snake_case,
// int64 as decimal strings, enums as names), for differential and model tests. The key space is
// small (10 keys, so ties in sorts stay within etcd's stable insertion-sort range of 12) and the
// values few, so compares, filters, sorts and duplicate-key rules all get exercised.
import type { Prng } from "../../../pkg/common/index.js";

/** A KV method and its request. */
export interface WireOp {
  readonly method: "Range" | "Put" | "DeleteRange" | "Txn" | "Compact";
  readonly request: Record<string, unknown>;
}

/** What the generator needs to know about the store to pick interesting revisions. */
export interface RevisionView {
  readonly revision: number;
  readonly compactRevision: number;
}

/** The lease IDs the test granted (existing) and one it never granted. */
export const grantedLeaseIds: readonly bigint[] = [0x1000n, 0x2000n];
export const missingLeaseId = 0x3000n;

const keyPool = ["a", "a\x00", "ab", "b", "ba", "c", "d", "e", "e\xff", "f"].map((key) =>
  Buffer.from(key, "latin1"));
const valuePool = ["", "x", "y", "zz", "\xff"].map((value) => Buffer.from(value, "latin1"));
const sortOrders = ["NONE", "ASCEND", "DESCEND"];
const sortTargets = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
const compareTargets = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"];
const compareResults = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"];

/** The prefix end of `key`: last byte below 0xff incremented, rest cut; all-0xff → "\0". */
export function prefixEnd(key: Uint8Array): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i -= 1) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * `message` with `range_end` set only when non-empty. etcd 3.4 decodes a range_end that is
 * present on the wire but empty as a non-nil empty slice, which means "no upper bound"
 * (observed); neither etcdctl nor etcd3 sends one, and a loader that fills defaults cannot see
 * it, so requests never carry one.
 */
function withRangeEnd(message: Record<string, unknown>, end: Buffer): Record<string, unknown> {
  return end.length === 0 ? message : { ...message, range_end: end };
}

type TxnWire = { success: Record<string, unknown>[]; failure: Record<string, unknown>[] };

/** Every RequestOp of a txn, nested ones included (preorder). */
function opsOf(txn: TxnWire): Record<string, unknown>[] {
  const ops: Record<string, unknown>[] = [];
  const pending: TxnWire[] = [txn];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const op of [...next.success, ...next.failure]) {
      ops.push(op);
      if (op["request_txn"] !== undefined) pending.push(op["request_txn"] as TxnWire);
    }
  }
  return ops;
}

function hasUnboundedDelete(txn: TxnWire): boolean {
  return opsOf(txn).some((op) => {
    const end = (op["request_delete_range"] as { range_end?: Buffer } | undefined)?.range_end;
    return end?.length === 1 && end[0] === 0;
  });
}

/**
 * etcd 3.4 crashes (panics in applyTxn) on an ignore_value/ignore_lease put whose key an
 * earlier "\0" delete range of the same txn removed: its duplicate-key check misses "\0"
 * ranges and its ignore check reads the state before the txn. Such txns are not sent; the unit
 * tests cover our answer (ETCD_KEY_NOT_FOUND).
 */
function clearIgnoreFlags(txn: TxnWire): void {
  for (const op of opsOf(txn)) {
    const put = op["request_put"] as Record<string, unknown> | undefined;
    if (put === undefined) continue;
    put["ignore_value"] = false;
    put["ignore_lease"] = false;
  }
}

/** Generates requests from one seeded PRNG. */
export class KvWireGenerator {
  readonly #prng: Prng;
  readonly #view: () => RevisionView;

  constructor(prng: Prng, view: () => RevisionView) {
    this.#prng = prng;
    this.#view = view;
  }

  #key(): Buffer {
    return this.#prng.chance(0.01) ? Buffer.alloc(0) : this.#prng.pick(keyPool);
  }

  #rangeEnd(key: Buffer): Buffer {
    const roll = this.#prng.nextFloat();
    if (roll < 0.4) return Buffer.alloc(0);
    if (roll < 0.55) return Buffer.from([0]);
    if (roll < 0.85) return this.#prng.pick(keyPool);
    return prefixEnd(key.length === 0 ? Buffer.from([0xff]) : key);
  }

  #revision(allowZero: boolean): string {
    const { revision, compactRevision } = this.#view();
    if (allowZero && this.#prng.chance(0.5)) return "0";
    if (this.#prng.chance(0.03)) return "-1";
    const low = Math.max(1, compactRevision - 1);
    return String(this.#prng.intBetween(low, revision + 2));
  }

  #filter(): string {
    return this.#prng.chance(0.8) ? "0" : this.#revision(false);
  }

  range(): Record<string, unknown> {
    const key = this.#key();
    return withRangeEnd({
      key,
      limit: String(this.#prng.pick([0, 0, 0, 1, 2, 3, -1])),
      revision: this.#prng.chance(0.6) ? "0" : this.#revision(true),
      sort_order: this.#prng.pick(sortOrders), sort_target: this.#prng.pick(sortTargets),
      keys_only: this.#prng.chance(0.15), count_only: this.#prng.chance(0.1),
      min_mod_revision: this.#filter(), max_mod_revision: this.#filter(),
      min_create_revision: this.#filter(), max_create_revision: this.#filter(),
    }, this.#rangeEnd(key));
  }

  #lease(): string {
    const roll = this.#prng.nextFloat();
    if (roll < 0.6) return "0";
    if (roll < 0.95) return this.#prng.pick(grantedLeaseIds).toString();
    return missingLeaseId.toString();
  }

  put(key: Buffer = this.#key()): Record<string, unknown> {
    const ignoreValue = this.#prng.chance(0.1);
    const ignoreLease = this.#prng.chance(0.1);
    const value = ignoreValue && this.#prng.chance(0.8) ? Buffer.alloc(0) : this.#prng.pick(valuePool);
    const lease = ignoreLease && this.#prng.chance(0.8) ? "0" : this.#lease();
    return {
      key, value, lease, prev_kv: this.#prng.chance(0.4),
      ignore_value: ignoreValue, ignore_lease: ignoreLease,
    };
  }

  deleteRange(): Record<string, unknown> {
    const key = this.#key();
    return withRangeEnd({ key, prev_kv: this.#prng.chance(0.5) }, this.#rangeEnd(key));
  }

  compare(): Record<string, unknown> {
    const key = this.#key();
    const target = this.#prng.pick(compareTargets);
    const compare = withRangeEnd(
      { key, target, result: this.#prng.pick(compareResults) },
      this.#prng.chance(0.7) ? Buffer.alloc(0) : this.#rangeEnd(key),
    );
    const operandTarget = this.#prng.chance(0.9) ? target : this.#prng.pick(compareTargets);
    const { revision } = this.#view();
    switch (operandTarget) {
      case "VERSION":
        compare["version"] = String(this.#prng.intBetween(0, 4));
        break;
      case "CREATE":
        compare["create_revision"] = String(this.#prng.intBetween(0, revision + 1));
        break;
      case "MOD":
        compare["mod_revision"] = String(this.#prng.intBetween(0, revision + 1));
        break;
      case "VALUE":
        compare["value"] = this.#prng.pick(valuePool);
        break;
      default:
        compare["lease"] = this.#prng.pick(["0", ...grantedLeaseIds.map(String)]);
    }
    return compare;
  }

  #requestOp(depth: number, putKeys: Set<string>): Record<string, unknown> {
    const roll = this.#prng.nextFloat();
    if (roll < 0.01) return {};
    if (roll < 0.3) return { request_range: this.range() };
    if (roll < 0.65) {
      let key = this.#key();
      // Mostly avoid the duplicate-key error so that most txns apply.
      for (let tries = 0; tries < 5 && putKeys.has(key.toString("latin1")); tries += 1) {
        if (this.#prng.chance(0.1)) break;
        key = this.#key();
      }
      putKeys.add(key.toString("latin1"));
      return { request_put: this.put(key) };
    }
    if (roll < 0.85 || depth >= 2) return { request_delete_range: this.deleteRange() };
    return { request_txn: this.txn(depth + 1) };
  }

  txn(depth = 0): Record<string, unknown> {
    const count = (): number => this.#prng.intBetween(0, 3);
    const compare = Array.from({ length: count() }, () => this.compare());
    const successKeys = new Set<string>();
    const failureKeys = new Set<string>();
    const success = Array.from({ length: count() }, () => this.#requestOp(depth, successKeys));
    const failure = Array.from({ length: count() }, () => this.#requestOp(depth, failureKeys));
    const txn = { compare, success, failure };
    if (depth === 0 && hasUnboundedDelete(txn)) clearIgnoreFlags(txn);
    return txn;
  }

  compact(): Record<string, unknown> {
    const { revision, compactRevision } = this.#view();
    const low = Math.max(0, compactRevision);
    const value = this.#prng.chance(0.85)
      ? this.#prng.intBetween(Math.min(low + 1, revision), revision)
      : this.#prng.intBetween(low - 1, revision + 1);
    return { revision: String(value), physical: this.#prng.chance(0.5) };
  }

  /** One random request: mostly writes and reads, a few compactions. */
  next(): WireOp {
    const roll = this.#prng.nextFloat();
    if (roll < 0.3) return { method: "Put", request: this.put() };
    if (roll < 0.45) return { method: "DeleteRange", request: this.deleteRange() };
    if (roll < 0.7) return { method: "Range", request: this.range() };
    if (roll < 0.97) return { method: "Txn", request: this.txn() };
    return { method: "Compact", request: this.compact() };
  }
}
