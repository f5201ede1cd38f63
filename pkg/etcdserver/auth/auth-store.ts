/**
 * The auth state machine of the etcd Auth API (etcd-api.md §10), after etcd 3.4's
 * auth/store.go and etcdserver/apply_auth.go: users, roles, permissions, the enabled flag and
 * the auth revision are replicated (changed only by `apply` of a committed `AuthRequest`, and
 * in the snapshot); simple tokens are member-local (assigned by `apply` of an authenticate, not
 * in the snapshot). Deterministic: the same requests in the same order give the same state on
 * every member. The only slow call is `checkPassword` (one scrypt, about 40 ms).
 *
 * Checks follow etcd: while auth is disabled every check passes; an empty user (a call with no
 * token) is ETCD_USER_EMPTY; an unknown user is denied; a user holding the role "root" may do
 * everything.
 */
import { EtcdError, PfsError, type Result, assertNever, err, ok } from "../../common/index.js";
import type { Permission, PermissionType } from "../backend.js";
import type { DeleteRangeRequest, PutRequest, TxnRequest } from "../mvcc/index.js";
import type { AuthRequest } from "./auth-request.js";
import {
  type AuthState,
  type RoleRecord,
  type UserRecord,
  compareNames,
} from "./auth-records.js";
import { decodeAuthSnapshot, encodeAuthSnapshot } from "./auth-snapshot.js";
import { verifyPassword } from "./password-hash.js";
import { type KeyInterval, intervalsCover, permissionInterval } from "./permission-cover.js";
import { SimpleTokenTable } from "./simple-token.js";
import { txnKeyChecks } from "./txn-key-checks.js";

/** The user and the role that may do everything. */
export const rootName = "root";

/** What a user may do, merged over its roles (etcd's unifiedRangePermissions). */
interface MergedPermissions {
  readonly read: readonly KeyInterval[];
  readonly write: readonly KeyInterval[];
}

type Applied = Result<void, EtcdError>;
const done: Applied = ok(undefined);

function fail(code: ConstructorParameters<typeof EtcdError>[0]): Applied {
  return err(new EtcdError(code));
}

function insertSorted(names: string[], name: string): void {
  names.push(name);
  names.sort(compareNames);
}

/** The auth store. Not shared between members: each applies the same requests. */
export class AuthStore {
  #enabled = false;
  /** etcd's auth revision: 1 when fresh, +1 per change (enable excepted, as etcd). */
  #revision = 1;
  readonly #users = new Map<string, UserRecord>();
  readonly #roles = new Map<string, RoleRecord>();
  readonly #tokens = new SimpleTokenTable();
  /** Merged permissions per user, rebuilt lazily; cleared by every change. */
  #merged = new Map<string, MergedPermissions>();

  /** Whether auth is on. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The auth revision (etcd's AuthStore.Revision). */
  get revision(): number {
    return this.#revision;
  }

  /** The number of live simple tokens on this member. */
  get tokenCount(): number {
    return this.#tokens.size;
  }

  /**
   * Applies one committed request with etcd's rules and errors; a failed request changes
   * nothing. `nowMs` is this member's clock, used only for token expiry.
   */
  apply(request: AuthRequest, nowMs: number): Applied {
    switch (request.type) {
      case "enable": return this.#enable();
      case "disable": return this.#disable();
      case "authenticate": return this.#authenticate(request.name, request.token, nowMs);
      case "userAdd":
        return this.#userAdd(request.name, request.passwordHash, request.noPassword);
      case "userDelete": return this.#userDelete(request.name);
      case "userChangePassword":
        return this.#userChangePassword(request.name, request.passwordHash);
      case "userGrantRole": return this.#userGrantRole(request.user, request.role);
      case "userRevokeRole": return this.#userRevokeRole(request.name, request.role);
      case "roleAdd": return this.#roleAdd(request.name);
      case "roleDelete": return this.#roleDelete(request.role);
      case "roleGrantPermission":
        return this.#roleGrantPermission(request.name, request.permission);
      case "roleRevokePermission":
        return this.#roleRevokePermission(request.role, request.key, request.rangeEnd);
      default:
        return assertNever(request);
    }
  }

  #changed(): Applied {
    this.#revision += 1;
    this.#merged = new Map();
    return done;
  }

  #enable(): Applied {
    if (this.#enabled) return done; // etcd: "already enabled; ignored".
    const root = this.#users.get(rootName);
    if (root === undefined) return fail("ETCD_ROOT_USER_NOT_EXIST");
    if (!root.roles.includes(rootName)) return fail("ETCD_ROOT_ROLE_NOT_EXIST");
    this.#enabled = true; // etcd keeps the revision here.
    this.#merged = new Map();
    return done;
  }

  #disable(): Applied {
    if (!this.#enabled) return done;
    this.#enabled = false;
    this.#tokens.clear();
    return this.#changed();
  }

  #authenticate(name: string, token: string, nowMs: number): Applied {
    if (!this.#enabled) return fail("ETCD_AUTH_NOT_ENABLED");
    const user = this.#users.get(name);
    if (user === undefined || user.noPassword) return fail("ETCD_AUTH_FAILED");
    this.#tokens.expire(nowMs);
    this.#tokens.assign(token, name, nowMs);
    return done;
  }

  #userAdd(name: string, passwordHash: string, noPassword: boolean): Applied {
    if (name.length === 0) return fail("ETCD_USER_EMPTY");
    if (this.#users.has(name)) return fail("ETCD_USER_ALREADY_EXIST");
    const hash = noPassword ? "" : passwordHash;
    this.#users.set(name, { name, passwordHash: hash, noPassword, roles: [] });
    return this.#changed();
  }

  #userDelete(name: string): Applied {
    if (this.#enabled && name === rootName) return fail("ETCD_INVALID_AUTH_MGMT");
    if (!this.#users.delete(name)) return fail("ETCD_USER_NOT_FOUND");
    this.#tokens.dropUser(name);
    return this.#changed();
  }

  #userChangePassword(name: string, passwordHash: string): Applied {
    const user = this.#users.get(name);
    if (user === undefined) return fail("ETCD_USER_NOT_FOUND");
    user.passwordHash = passwordHash; // etcd keeps the options: a no-password user stays so.
    this.#tokens.dropUser(name);
    return this.#changed();
  }

  #userGrantRole(userName: string, role: string): Applied {
    const user = this.#users.get(userName);
    if (user === undefined) return fail("ETCD_USER_NOT_FOUND");
    // The role root need not exist: granting it is how etcd makes a root user.
    if (role !== rootName && !this.#roles.has(role)) return fail("ETCD_ROLE_NOT_FOUND");
    if (user.roles.includes(role)) return done; // etcd: ignored, no revision change.
    insertSorted(user.roles, role);
    return this.#changed();
  }

  #userRevokeRole(name: string, role: string): Applied {
    if (this.#enabled && name === rootName && role === rootName) {
      return fail("ETCD_INVALID_AUTH_MGMT");
    }
    const user = this.#users.get(name);
    if (user === undefined) return fail("ETCD_USER_NOT_FOUND");
    const kept = user.roles.filter((held) => held !== role);
    if (kept.length === user.roles.length) return fail("ETCD_ROLE_NOT_GRANTED");
    user.roles = kept;
    return this.#changed();
  }

  #roleAdd(name: string): Applied {
    if (name.length === 0) return fail("ETCD_ROLE_EMPTY");
    if (this.#roles.has(name)) return fail("ETCD_ROLE_ALREADY_EXIST");
    this.#roles.set(name, { name, permissions: [] });
    return this.#changed();
  }

  #roleDelete(name: string): Applied {
    if (this.#enabled && name === rootName) return fail("ETCD_INVALID_AUTH_MGMT");
    if (!this.#roles.delete(name)) return fail("ETCD_ROLE_NOT_FOUND");
    for (const user of this.#users.values()) {
      user.roles = user.roles.filter((held) => held !== name);
    }
    return this.#changed();
  }

  #roleGrantPermission(name: string, permission: Permission): Applied {
    const role = this.#roles.get(name);
    if (role === undefined) return fail("ETCD_ROLE_NOT_FOUND");
    const granted: Permission = {
      permType: permission.permType,
      key: Uint8Array.from(permission.key),
      rangeEnd: Uint8Array.from(permission.rangeEnd),
    };
    // As etcd: only the first permission with the same key is a candidate for an update.
    const at = role.permissions.findIndex((held) => Buffer.compare(held.key, granted.key) >= 0);
    const first = at === -1 ? undefined : role.permissions[at];
    if (first !== undefined && Buffer.compare(first.key, granted.key) === 0 &&
      Buffer.compare(first.rangeEnd, granted.rangeEnd) === 0) {
      role.permissions[at] = { ...first, permType: granted.permType };
    } else {
      role.permissions.push(granted);
      role.permissions.sort((a, b) => Buffer.compare(a.key, b.key)); // Stable, as etcd's.
    }
    return this.#changed();
  }

  #roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): Applied {
    const role = this.#roles.get(name);
    if (role === undefined) return fail("ETCD_ROLE_NOT_FOUND");
    const kept = role.permissions.filter((held) =>
      Buffer.compare(held.key, key) !== 0 || Buffer.compare(held.rangeEnd, rangeEnd) !== 0);
    if (kept.length === role.permissions.length) return fail("ETCD_PERMISSION_NOT_GRANTED");
    role.permissions = kept;
    return this.#changed();
  }

  /**
   * Checks a password for Authenticate, in etcd's order: auth disabled →
   * ETCD_AUTH_NOT_ENABLED; unknown user → ETCD_AUTH_FAILED; a no-password user →
   * AUTH_NO_PASSWORD_USER (etcd's unmapped error, Unknown on the wire); wrong password →
   * ETCD_AUTH_FAILED. Runs one scrypt (about 40 ms).
   */
  checkPassword(name: string, password: string): Result<void, PfsError> {
    if (!this.#enabled) return fail("ETCD_AUTH_NOT_ENABLED");
    const user = this.#users.get(name);
    if (user === undefined) return fail("ETCD_AUTH_FAILED");
    if (user.noPassword) return err(new PfsError("AUTH_NO_PASSWORD_USER"));
    if (!verifyPassword(password, user.passwordHash)) return fail("ETCD_AUTH_FAILED");
    return done;
  }

  /**
   * The user of a simple token, refreshing its TTL. Unknown, expired or malformed →
   * ETCD_INVALID_AUTH_TOKEN. The member first waits until it has applied the token's index
   * (`simpleTokenIndex`), as etcd does.
   */
  userOfToken(token: string, nowMs: number): Result<string, EtcdError> {
    const user = this.#tokens.use(token, nowMs);
    if (user === undefined) return err(new EtcdError("ETCD_INVALID_AUTH_TOKEN"));
    return ok(user);
  }

  /** Forgets expired tokens (the member may call this now and then); returns how many. */
  expireTokens(nowMs: number): number {
    return this.#tokens.expire(nowMs);
  }

  #mergedOf(user: UserRecord): MergedPermissions {
    const cached = this.#merged.get(user.name);
    if (cached !== undefined) return cached;
    const read: KeyInterval[] = [];
    const write: KeyInterval[] = [];
    for (const roleName of user.roles) {
      for (const permission of this.#roles.get(roleName)?.permissions ?? []) {
        const interval = permissionInterval(permission.key, permission.rangeEnd);
        if (permission.permType !== "WRITE") read.push(interval);
        if (permission.permType !== "READ") write.push(interval);
      }
    }
    const merged = { read, write };
    this.#merged.set(user.name, merged);
    return merged;
  }

  /** The user record when checks apply to it; an error, or "allowed" when they do not. */
  #subject(user: string): UserRecord | "allowed" | EtcdError {
    if (!this.#enabled) return "allowed";
    if (user.length === 0) return new EtcdError("ETCD_USER_EMPTY");
    const record = this.#users.get(user);
    if (record === undefined) return new EtcdError("ETCD_PERMISSION_DENIED");
    return record.roles.includes(rootName) ? "allowed" : record;
  }

  /**
   * Whether `user` may READ or WRITE every key of (`key`, `rangeEnd`), with etcd's range
   * rules (empty rangeEnd = the key alone, "\0" = no upper bound; see permission-cover.ts).
   * Errors: ETCD_USER_EMPTY for "", ETCD_PERMISSION_DENIED otherwise.
   */
  checkRange(
    user: string,
    key: Uint8Array,
    rangeEnd: Uint8Array,
    permType: Exclude<PermissionType, "READWRITE">,
  ): Result<void, EtcdError> {
    const subject = this.#subject(user);
    if (subject === "allowed") return done;
    if (subject instanceof EtcdError) return err(subject);
    const merged = this.#mergedOf(subject);
    const intervals = permType === "READ" ? merged.read : merged.write;
    return intervalsCover(intervals, key, rangeEnd) ? done : fail("ETCD_PERMISSION_DENIED");
  }

  /** A Put: WRITE on the key, and READ on it when `prevKv` (etcd's authApplierV3.Put). */
  checkPut(user: string, request: PutRequest): Result<void, EtcdError> {
    const write = this.checkRange(user, request.key, new Uint8Array(0), "WRITE");
    if (!write.ok || !request.prevKv) return write;
    return this.checkRange(user, request.key, new Uint8Array(0), "READ");
  }

  /** A DeleteRange: WRITE on the range, and READ on it when `prevKv`. */
  checkDeleteRange(user: string, request: DeleteRangeRequest): Result<void, EtcdError> {
    const write = this.checkRange(user, request.key, request.rangeEnd, "WRITE");
    if (!write.ok || !request.prevKv) return write;
    return this.checkRange(user, request.key, request.rangeEnd, "READ");
  }

  /**
   * A Txn: READ for every compare and every range, WRITE for every put and delete (READ too
   * with prev_kv), in nested txns too. (etcd 3.4 skips nested txns and a put's prev_kv; we
   * check them, as etcd-api.md §10 asks for every op.) The first refusal is returned.
   */
  checkTxn(user: string, txn: TxnRequest): Result<void, EtcdError> {
    for (const check of txnKeyChecks(txn)) {
      const checked = this.checkRange(user, check.key, check.rangeEnd, check.permType);
      if (!checked.ok) return checked;
    }
    return done;
  }

  /**
   * etcd's IsAdminPermitted, for every auth-management call and for user/role lists: passes
   * while auth is disabled; "" → ETCD_USER_EMPTY; unknown user → ETCD_USER_NOT_FOUND; a user
   * without the role root → ETCD_PERMISSION_DENIED.
   */
  isAdmin(user: string): Result<void, EtcdError> {
    if (!this.#enabled) return done;
    if (user.length === 0) return fail("ETCD_USER_EMPTY");
    const record = this.#users.get(user);
    if (record === undefined) return fail("ETCD_USER_NOT_FOUND");
    return record.roles.includes(rootName) ? done : fail("ETCD_PERMISSION_DENIED");
  }

  /** True when `user` exists and holds `role` (etcd's HasRole). */
  hasRole(user: string, role: string): boolean {
    return this.#users.get(user)?.roles.includes(role) ?? false;
  }

  /** UserGet as etcd allows it: an admin, or the user asking about itself. */
  checkUserGet(caller: string, name: string): Result<void, EtcdError> {
    const admin = this.isAdmin(caller);
    return !admin.ok && name !== caller ? admin : done;
  }

  /** RoleGet as etcd allows it: an admin, or a user holding the role. */
  checkRoleGet(caller: string, role: string): Result<void, EtcdError> {
    const admin = this.isAdmin(caller);
    return !admin.ok && !this.hasRole(caller, role) ? admin : done;
  }

  /** The roles of a user, sorted. Unknown → ETCD_USER_NOT_FOUND. */
  userGet(name: string): Result<readonly string[], EtcdError> {
    const user = this.#users.get(name);
    if (user === undefined) return err(new EtcdError("ETCD_USER_NOT_FOUND"));
    return ok([...user.roles]);
  }

  /** Every user name, sorted bytewise. */
  userList(): readonly string[] {
    return [...this.#users.keys()].sort(compareNames);
  }

  /** The permissions of a role in etcd's order. Unknown → ETCD_ROLE_NOT_FOUND. */
  roleGet(role: string): Result<readonly Permission[], EtcdError> {
    const record = this.#roles.get(role);
    if (record === undefined) return err(new EtcdError("ETCD_ROLE_NOT_FOUND"));
    return ok(record.permissions.map((permission) => ({ ...permission })));
  }

  /** Every role name, sorted bytewise. */
  roleList(): readonly string[] {
    return [...this.#roles.keys()].sort(compareNames);
  }

  /** The replicated state as plain records, sorted by name (for snapshots and tests). */
  state(): AuthState {
    const users = this.userList().map((name) => this.#users.get(name))
      .filter((user): user is UserRecord => user !== undefined)
      .map((user) => ({ ...user, roles: [...user.roles] }));
    const roles = this.roleList().map((name) => this.#roles.get(name))
      .filter((role): role is RoleRecord => role !== undefined)
      .map((role) => ({ name: role.name, permissions: [...role.permissions] }));
    return { enabled: this.#enabled, revision: this.#revision, users, roles };
  }

  /** The checksummed snapshot of the replicated state (no tokens). */
  snapshot(): Uint8Array {
    return encodeAuthSnapshot(this.state());
  }

  /** A store holding a snapshot's state, with no tokens. Bad bytes → DATA_CORRUPTED. */
  static restore(bytes: Uint8Array): Result<AuthStore, PfsError> {
    const decoded = decodeAuthSnapshot(bytes);
    if (!decoded.ok) return decoded;
    const store = new AuthStore();
    store.#enabled = decoded.value.enabled;
    store.#revision = decoded.value.revision;
    for (const user of decoded.value.users) store.#users.set(user.name, user);
    for (const role of decoded.value.roles) store.#roles.set(role.name, role);
    return ok(store);
  }
}
