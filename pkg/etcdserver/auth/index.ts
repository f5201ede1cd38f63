/** pkg/etcdserver/auth: the auth state machine of the etcd Auth API (etcd-api.md §10). */
export type { AuthRequest, AuthRequestType } from "./auth-request.js";
export { encodeAuthRequest, decodeAuthRequest } from "./auth-request-codec.js";
export type { AuthState, UserRecord, RoleRecord } from "./auth-records.js";
export { AuthStore, rootName } from "./auth-store.js";
export { hashPassword, verifyPassword } from "./password-hash.js";
export {
  newSimpleToken, newSimpleTokenPrefix, simpleToken, simpleTokenIndex,
} from "./simple-token.js";
export { type KeyInterval, intervalsCover, permissionInterval } from "./permission-cover.js";
export { type TxnKeyCheck, txnKeyChecks } from "./txn-key-checks.js";
