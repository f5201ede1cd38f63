/**
 * pkg/pfs/placement: which node holds which shard (DESIGN.md §4, one copy per shard for now):
 * node registration on leases, lazy placement by compare-and-swap, and the pure decision.
 */
export { chooseNode, placementRank } from "./choose-node.js";
export {
  type NodeRecord, NodeRegistration, checkNodeName, parseNodeRecord,
} from "./node-registry.js";
export { ShardPlacement, type ShardPlacementOptions } from "./shard-placement.js";
export { PrefixCache } from "./prefix-cache.js";
export * as placementLimits from "./limits.js";
