/**
 * pkg/pfs/placement: node registration on leases (DESIGN.md §4), the watched prefix cache the
 * routing layer reads, and the placement tie-break. The replica map itself is
 * pkg/pfs/replication's.
 */
export { placementRank } from "./choose-node.js";
export {
  type NodeRecord, NodeRegistration, checkNodeName, parseNodeRecord,
} from "./node-registry.js";
export { PrefixCache } from "./prefix-cache.js";
export * as placementLimits from "./limits.js";
