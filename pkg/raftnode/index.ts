/** pkg/raftnode: the only Raft I/O — WAL, snapshot store, peer transport, driver loop. */
export {
  type OutboundMessage, type Transport, type TransportHandler,
} from "./transport.js";
export { MemoryNetwork, MemoryTransport } from "./transport-memory.js";
export { GrpcTransport, type GrpcTransportOptions, type TransportTls } from "./transport-grpc.js";
