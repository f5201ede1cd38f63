/** pkg/etcdserver: the etcd v3 services' state machines and wire codecs. */
export * from "./mvcc/index.js";
export {
  decodeRangeRequest,
  decodePutRequest,
  decodeDeleteRangeRequest,
  decodeTxnRequest,
  decodeCompactionRequest,
} from "./kv-codec.js";
export {
  type HeaderFill,
  encodeHeader,
  encodeKeyValue,
  encodeEvent,
  encodeRangeResponse,
  encodePutResponse,
  encodeDeleteRangeResponse,
  encodeTxnResponse,
  encodeCompactionResponse,
} from "./kv-response-codec.js";
export { WireFieldError, int64Wire } from "./wire-fields.js";
export * from "./watch/index.js";
export * from "./lease/index.js";
export type {
  CallContext, Member, MemberStatus, AlarmAction, AlarmType, AlarmMember, PermissionType,
  Permission, AuthBackend, EtcdBackend,
} from "./backend.js";
export * from "./server/index.js";
export * from "./grpc/index.js";
export * from "./metrics/index.js";
export * from "./auth/index.js";
