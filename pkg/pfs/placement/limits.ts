/**
 * The bounds of node registration and shard placement (STYLE rule 8), named with their unit
 * and why. Relations between them are asserted when the module loads.
 */
import { assert } from "../../common/index.js";

/**
 * TTL of a node's registration lease, in seconds. The etcd3 client renews it every third of
 * the TTL; a node that stops renewing disappears from `/pfs/nodes/` this long after.
 */
export const nodeLeaseTtlSeconds: number = 10;

/**
 * How long a placement decision waits for at least one live node, in milliseconds, before
 * the request fails with UNAVAILABLE (a node registers itself before it serves, so this is
 * only reached while the cluster has lost every node's lease).
 */
export const placementNoNodeWaitMs: number = 5_000;

/** Attempts of a lazy placement that loses its create-if-absent race before giving up. */
export const placementCasAttemptsMax: number = 8;

/** Longest node name, in characters (as long as a repo name: it is part of a key). */
export const nodeNameCharsMax: number = 63;

assert(nodeLeaseTtlSeconds >= 3, () => `node lease TTL ${nodeLeaseTtlSeconds} s < 3 s`);
assert(placementCasAttemptsMax >= 2, () => `placement attempts ${placementCasAttemptsMax} < 2`);
