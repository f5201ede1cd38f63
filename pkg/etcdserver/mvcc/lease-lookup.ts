/**
 * The store's view of the lease module: Put with a lease needs the lease to exist. Leases live
 * in another module; the store only asks.
 */
import type { LeaseId } from "../../common/index.js";

/** Answers whether a lease exists now. Must be deterministic given the applied log. */
export interface LeaseLookup {
  leaseExists(id: LeaseId): boolean;
}
