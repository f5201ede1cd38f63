/**
 * The bounds of node registration (STYLE rule 8), named with their unit
 * and why. Relations between them are asserted when the module loads.
 */
import { assert } from "../../common/index.js";

/**
 * TTL of a node's registration lease, in seconds. The etcd3 client renews it every third of
 * the TTL; a node that stops renewing disappears from `/pfs/nodes/` this long after.
 */
export const nodeLeaseTtlSeconds: number = 10;

/** Longest node name, in characters (as long as a repo name: it is part of a key). */
export const nodeNameCharsMax: number = 63;

assert(nodeLeaseTtlSeconds >= 3, () => `node lease TTL ${nodeLeaseTtlSeconds} s < 3 s`);
