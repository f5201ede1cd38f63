/**
 * Lease TTL rules of etcd-api.md §7: the maximum (9e9 s, an error above it) and the minimum
 * that short TTLs are raised to (ceil(1.5 × election timeout), 2 s at etcd's defaults).
 */
import { EtcdError, type Result, assert, assertSafeInteger, err, ok } from "../../common/index.js";
import { limits } from "../../common/index.js";

/**
 * The smallest granted TTL in whole seconds for an election timeout of `electionTimeoutMs`:
 * ceil(1.5 × election timeout), as etcd's lessor (a lease must outlive a leader election).
 */
export function leaseTtlSecondsMin(electionTimeoutMs: number): number {
  assertSafeInteger(electionTimeoutMs, "election timeout ms", 1);
  const seconds = Math.ceil((3 * electionTimeoutMs) / 2 / 1000);
  assert(seconds >= 1, () => `minimum lease TTL ${seconds} s for ${electionTimeoutMs} ms`);
  return seconds;
}

/**
 * The TTL a grant of `requestedSeconds` gets: TOO_LARGE above `etcdLeaseTtlSecondsMax`,
 * otherwise at least `minimumSeconds` (negative and zero TTLs are raised too, as etcd does).
 */
export function grantedTtlSeconds(
  requestedSeconds: bigint,
  minimumSeconds: number,
): Result<number, EtcdError> {
  assertSafeInteger(minimumSeconds, "minimum lease TTL", 1, limits.etcdLeaseTtlSecondsMax);
  if (requestedSeconds > BigInt(limits.etcdLeaseTtlSecondsMax)) {
    return err(new EtcdError("ETCD_LEASE_TTL_TOO_LARGE"));
  }
  const raised = requestedSeconds < BigInt(minimumSeconds) ? minimumSeconds : requestedSeconds;
  return ok(Number(raised));
}
