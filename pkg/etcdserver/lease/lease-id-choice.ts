/**
 * Choosing the ID of a lease granted with ID 0. The proposer picks it before proposing, so
 * that applying the grant is deterministic on every member (etcd picks it in the server too,
 * before the Raft proposal, from its request ID generator).
 */
import { type LeaseId, type Prng, assert, leaseId } from "../../common/index.js";
import { limits } from "../../common/index.js";

const int64Max = (1n << 63n) - 1n;

/**
 * A uniformly random lease ID in [1, 2^63 - 1] for which `exists` is false. Draws at most
 * `limits.etcdLeaseIdDrawsMax` times; with 2^63 IDs and far fewer live leases a collision is
 * already vanishingly rare, so running out of draws is an assertion (a broken `exists` or PRNG).
 */
export function chooseLeaseId(prng: Prng, exists: (id: LeaseId) => boolean): LeaseId {
  for (let draw = 0; draw < limits.etcdLeaseIdDrawsMax; draw += 1) {
    const candidate = prng.nextUint64() & int64Max;
    if (candidate === 0n) continue;
    const id = leaseId(candidate);
    if (!exists(id)) {
      assert(id > 0n, () => `chosen lease id ${id} is not positive`);
      return id;
    }
  }
  assert(false, () => `no free lease id in ${limits.etcdLeaseIdDrawsMax} draws`);
}
