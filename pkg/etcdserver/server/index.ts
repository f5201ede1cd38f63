/** pkg/etcdserver/server: the replicated etcd member behind the gRPC services. */
export { startEtcdMember, type EtcdMemberOptions } from "./etcd-member.js";
export type { EtcdMember } from "./member-core.js";
export {
  EtcdStateMachine, type ApplyResult, type ApplyValue, type EtcdStateMachineOptions,
  type StateMachineHooks, decodeSnapshot,
} from "./state-machine.js";
export { type EtcdRequest, encodeEtcdRequest, decodeEtcdRequest } from "./request-codec.js";
export { computeMemberId, computeClusterId, peerAddress } from "./member-id.js";
export { ProposalGate } from "./proposal-gate.js";
export { initialClusterMembers } from "./member-bootstrap.js";
