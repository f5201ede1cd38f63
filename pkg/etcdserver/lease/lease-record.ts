/** The replicated state of one lease: the same on every member after the same applied log. */
import type { LeaseId } from "../../common/index.js";

/** A live lease. Invariant: `ttlSeconds` in [minimum TTL, etcdLeaseTtlSecondsMax]. */
export interface LeaseRecord {
  readonly id: LeaseId;
  /** The granted TTL in seconds (after raising to the minimum). */
  readonly ttlSeconds: number;
  /** Attached keys: latin1 key → key bytes. Owned by the manager. */
  readonly keys: Map<string, Uint8Array>;
}
