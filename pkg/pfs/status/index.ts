/**
 * pkg/pfs/status: `pfs cluster status` and `pfs cluster remove-node` (issue 6). The status is
 * computed purely from a snapshot of the coordination store (cluster-status.ts) read by
 * status-store.ts; remove-node.ts retires a node for good; cluster-handlers.ts is what the
 * pfs.API handlers call; status-format.ts prints for people; status-client.ts calls the RPCs.
 */
export * as statusLimits from "./limits.js";
export {
  type ClusterStatus, type ClusterSnapshot, type RaftMember, computeClusterStatus,
} from "./cluster-status.js";
export { type ClusterStatusOptions, readClusterStatus } from "./status-store.js";
export { type RemoveNodeOptions, removeNode, encodeRetiredRecord } from "./remove-node.js";
export {
  type ClusterOperations, serveClusterStatus, serveRemoveNode,
} from "./cluster-handlers.js";
export { formatClusterStatus, formatRemoveNode, formatShardList } from "./status-format.js";
export { type ClusterClientOptions, ClusterClient } from "./status-client.js";
