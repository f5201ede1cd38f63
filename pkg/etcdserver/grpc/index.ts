/** pkg/etcdserver/grpc: etcd's v3 gRPC services over an EtcdBackend, and their endpoints. */
export { type ClientListener, type ListenerTls, clientListeners } from "./client-listeners.js";
export { type EtcdGrpcServerOptions, EtcdGrpcServer, addEtcdServices } from "./etcd-grpc-server.js";
export { GrpcCounters, type MethodLabel, grpcCodeName } from "./grpc-counters.js";
export { type MetricsHttpOptions, MetricsHttp, memberHealthy } from "./metrics-http.js";
export { type SnapshotChunk, paddedSnapshot, snapshotChunks } from "./snapshot-chunks.js";
export { type ServiceKit, headerFill, currentHeader, serviceError } from "./service-kit.js";
export { proposalBytes, requestBytesOf, sizedService, varintBytes } from "./request-size.js";
export { isReadOnlyTxn } from "./kv-service.js";
export { prefixRangeEnd, sessionKey } from "./concurrency-recipes.js";
export { type EtcdDaemonOptions, EtcdDaemon } from "./etcd-daemon.js";
export {
  AuthorityRewriter,
  literalHeader,
  authorityIsLastPseudoHeader,
  rewriteHeaderBlock,
} from "./authority-rewriter.js";
