/** pkg/etcdserver/lease: the deterministic lease state machine of the etcd Lease API. */
export { chooseLeaseId } from "./lease-id-choice.js";
export { leaseTtlSecondsMin, grantedTtlSeconds } from "./lease-ttl.js";
export {
  type LeaseGrant,
  type LeaseTimeToLive,
  type LeaseManagerOptions,
  LeaseManager,
} from "./lease-manager.js";
