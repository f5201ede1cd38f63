/**
 * pkg/pfs/api: the pfs API layer that runs inside pfsd — the pfs.API handlers over the
 * metadata store and the router, the internal pfs.Shard service and its client (RemoteShard),
 * the node that wires them on --pfs-address, and the data directory lock.
 */
export {
  PfsNode, type PfsNodeOptions, type ExtraService, pfsNodeStartMsMax,
} from "./pfs-node.js";
export {
  type PfsTls, type PfsTlsFlags, loadPfsTls, pfsPeerCredentials, pfsServerCredentials,
} from "./pfs-tls.js";
export { DataDirLock, lockFileName } from "./data-dir-lock.js";
export { RemoteShard } from "./remote-shard.js";
export { ShardRouter, type ShardRouterOptions, type ShardRouting } from "./shard-router.js";
export { pfsApiHandlers, type PfsApiOptions } from "./api-service.js";
export { shardServiceHandlers, type LocalShardLookup } from "./shard-service.js";
export * as apiLimits from "./limits.js";
