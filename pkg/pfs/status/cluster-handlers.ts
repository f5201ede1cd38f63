/**
 * What the pfs.API ClusterStatus and RemoveNode handlers call (api-service.ts delegates to
 * these): request checks, then the functions the node was given. A node started without them
 * (not wired for replication) refuses both with FAILED_PRECONDITION.
 */
import { PfsError } from "../../common/index.js";
import type { RemoveNodeRequest, RemoveNodeResponse } from "../../proto/index.js";
import { checkNodeName } from "../placement/index.js";
import type { ClusterStatus } from "./cluster-status.js";

/** The cluster operations a node serves; each absent one is refused. */
export interface ClusterOperations {
  /** Reads the cluster's status (status-store.ts `readClusterStatus`, bound to the node). */
  readonly clusterStatus?: (() => Promise<ClusterStatus>) | undefined;
  /** Retires a node (remove-node.ts `removeNode`, bound to the node). */
  readonly removeNode?: ((id: string, force: boolean) => Promise<RemoveNodeResponse>) | undefined;
}

function notServed(what: string): PfsError {
  return new PfsError("FAILED_PRECONDITION", `this pfs node does not serve ${what} ` +
    "(it runs without the replication layer)");
}

/** The ClusterStatus handler's body. */
export async function serveClusterStatus(operations: ClusterOperations): Promise<ClusterStatus> {
  if (operations.clusterStatus === undefined) throw notServed("cluster status");
  return operations.clusterStatus();
}

/** The RemoveNode handler's body: INVALID_ARGUMENT for an id that cannot name a node. */
export async function serveRemoveNode(operations: ClusterOperations, request: RemoveNodeRequest):
  Promise<RemoveNodeResponse> {
  checkNodeName(request.id);
  if (operations.removeNode === undefined) throw notServed("remove-node");
  return operations.removeNode(request.id, request.force);
}
