/**
 * The replicated auth operations (etcd's InternalRaftRequest auth fields), as the member
 * proposes them through Raft and `AuthStore.apply` applies them. Whatever is random or slow is
 * decided by the proposer before it proposes, so that applying is deterministic: the token of
 * an `authenticate` (see `newSimpleToken`) and the password hash of `userAdd` and
 * `userChangePassword` (see `hashPassword`). No request carries a plain password.
 */
import type { Permission } from "../backend.js";

export type AuthRequest =
  | { readonly type: "enable" }
  | { readonly type: "disable" }
  /**
   * Assigns `token` to `name`; the proposer checked the password already. To mint tokens as
   * etcd does, propose `newSimpleTokenPrefix(prng)` and, when applying the entry at index i,
   * pass `{ ...request, token: simpleToken(request.token, i) }`: the token then names the
   * index a member must have applied before it can know the token (`simpleTokenIndex`).
   */
  | { readonly type: "authenticate"; readonly name: string; readonly token: string }
  /** `passwordHash` is "" when `noPassword`. */
  | {
    readonly type: "userAdd";
    readonly name: string;
    readonly passwordHash: string;
    readonly noPassword: boolean;
  }
  | { readonly type: "userDelete"; readonly name: string }
  | { readonly type: "userChangePassword"; readonly name: string; readonly passwordHash: string }
  | { readonly type: "userGrantRole"; readonly user: string; readonly role: string }
  | { readonly type: "userRevokeRole"; readonly name: string; readonly role: string }
  | { readonly type: "roleAdd"; readonly name: string }
  | { readonly type: "roleDelete"; readonly role: string }
  | { readonly type: "roleGrantPermission"; readonly name: string; readonly permission: Permission }
  | {
    readonly type: "roleRevokePermission";
    readonly role: string;
    readonly key: Uint8Array;
    readonly rangeEnd: Uint8Array;
  };

/** The `type` tags of `AuthRequest`. */
export type AuthRequestType = AuthRequest["type"];
