/** pkg/proto: the .proto contracts (etcd v3, Raft peer, pfs) and their loaders. */
export {
  etcdProtoRoot,
  etcdProtoFiles,
  etcdProtoLoaderOptions,
  etcdServiceNames,
  loadEtcdProtos,
} from "./etcd-protos.js";
export {
  healthProtoFile,
  healthServiceName,
  loadHealthPackageDefinition,
} from "./health-proto.js";
export * from "./pfs-proto.js";
export * from "./pfs-shard-proto.js";
export * from "./pps-proto.js";
