// Seeded random requests for the raw gRPC random differential: the KV requests of
// kv-wire-generator (put/delete/txn/range/compact) mixed with lease requests on a small pool of
// fixed lease IDs (grant, revoke, timetolive with keys, leases, one keepalive) and watch requests
// (create at random revisions and ranges with filters and prev_kv, cancel, progress). TTLs are
// long and a multiple of 600 s apart, so no lease expires during a run and the leases list,
// sorted by expiry, has one order on every server.
import type { Prng } from "../../../pkg/common/index.js";
import {
  KvWireGenerator, type RevisionView, grantedLeaseIds, missingLeaseId, prefixEnd,
} from "./kv-wire-generator.js";

/** One request of the random sequence. */
export type RandomOp =
  | { readonly kind: "unary"; readonly service: "KV" | "Lease"; readonly method: string;
    readonly request: Record<string, unknown> }
  | { readonly kind: "keepalive"; readonly id: string }
  | { readonly kind: "watch"; readonly stream: number; readonly request: Record<string, unknown> };

/** Watch streams per member: watch IDs are per stream, so two streams share IDs. */
export const watchStreamCount = 2;

/** Lease IDs the ops grant and revoke; the KV generator attaches the first two to its puts. */
export const leaseIdPool: readonly string[] = [...grantedLeaseIds, missingLeaseId].map(String);
const leaseTtlsSeconds = [600, 1_200, 1_800, 2_400, 3_000, 3_600].map(String);

const watchKeys = ["a", "a\x00", "ab", "b", "c", "e", "e\xff", "\xff"]
  .map((key) => Buffer.from(key, "latin1"));

/** What the ops need to know beyond the revisions: the watch IDs of each stream. */
export interface RandomOpsView extends RevisionView {
  /** Per stream, the IDs of watches created and not canceled. */
  readonly openWatchIds: readonly (readonly string[])[];
  /** Per stream, every ID a create got (canceled ones too, for cancels of gone watches). */
  readonly createdWatchIds: readonly (readonly string[])[];
}

/** Generates the random sequence from one seeded PRNG. */
export class RandomGrpcOps {
  readonly #prng: Prng;
  readonly #view: () => RandomOpsView;
  readonly #kv: KvWireGenerator;

  constructor(prng: Prng, view: () => RandomOpsView) {
    this.#prng = prng;
    this.#view = view;
    this.#kv = new KvWireGenerator(prng.fork(), view);
  }

  /** The next op: mostly KV, some lease, a few watch requests. */
  next(): RandomOp {
    const roll = this.#prng.nextFloat();
    if (roll < 0.83) {
      const op = this.#kv.next();
      return { kind: "unary", service: "KV", method: op.method, request: op.request };
    }
    if (roll < 0.95) return this.lease();
    return this.watch();
  }

  lease(): RandomOp {
    const roll = this.#prng.nextFloat();
    const id = this.#prng.pick(leaseIdPool);
    const unary = (method: string, request: Record<string, unknown>): RandomOp =>
      ({ kind: "unary", service: "Lease", method, request });
    if (roll < 0.3) return unary("LeaseGrant", { ID: id, TTL: this.#prng.pick(leaseTtlsSeconds) });
    if (roll < 0.5) return unary("LeaseRevoke", { ID: id });
    if (roll < 0.75) return unary("LeaseTimeToLive", { ID: id, keys: this.#prng.chance(0.7) });
    if (roll < 0.85) return unary("LeaseLeases", {});
    return { kind: "keepalive", id };
  }

  watch(): RandomOp {
    const roll = this.#prng.nextFloat();
    const stream = this.#prng.intBelow(watchStreamCount);
    const view = this.#view();
    const ids = (this.#prng.chance(0.7) ? view.openWatchIds : view.createdWatchIds)[stream] ?? [];
    if (roll < 0.15 && ids.length > 0) {
      const request = { cancel_request: { watch_id: this.#prng.pick(ids) } };
      return { kind: "watch", stream, request };
    }
    if (roll < 0.25) return { kind: "watch", stream, request: { progress_request: {} } };
    const create = this.watchCreate();
    // Some creates choose their ID: auto IDs must skip it, and a taken one is refused.
    if (this.#prng.chance(0.15)) create["watch_id"] = String(this.#prng.intBetween(1, 4));
    return { kind: "watch", stream, request: { create_request: create } };
  }

  /** A create at `start` (default: random) over a random key, prefix or range. */
  watchCreate(start: number = this.#startRevision()): Record<string, unknown> {
    const key = this.#prng.chance(0.05) ? Buffer.alloc(0) : this.#prng.pick(watchKeys);
    const roll = this.#prng.nextFloat();
    let rangeEnd: Buffer = Buffer.alloc(0);
    if (roll < 0.3) rangeEnd = prefixEnd(key.length === 0 ? Buffer.from([0]) : key);
    else if (roll < 0.45) rangeEnd = Buffer.from([0]);
    else if (roll < 0.65) rangeEnd = this.#prng.pick(watchKeys);
    const request: Record<string, unknown> = {
      key, start_revision: String(start), prev_kv: this.#prng.chance(0.5),
      filters: this.#prng.chance(0.25) ? [this.#prng.pick(["NOPUT", "NODELETE"])] : [],
    };
    if (rangeEnd.length > 0) request["range_end"] = rangeEnd;
    return request;
  }

  #startRevision(): number {
    const { revision, compactRevision } = this.#view();
    const roll = this.#prng.nextFloat();
    if (roll < 0.15) return 0;
    if (roll < 0.25) return revision + 1;
    if (roll < 0.35) return revision + this.#prng.intBetween(2, 6);
    if (roll < 0.45 && compactRevision > 1) return compactRevision - 1;
    return this.#prng.intBetween(Math.max(1, compactRevision), revision);
  }
}
