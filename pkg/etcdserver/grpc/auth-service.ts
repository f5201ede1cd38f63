/**
 * etcdserverpb.Auth (etcd-api.md §10): every method decodes its strings, calls the backend
 * (which applies etcd's rules and errors) and answers with a full header at the current
 * revision, as etcd's auth applier fills it.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { CallContext, Permission, PermissionType } from "../backend.js";
import {
  type WireMessage,
  WireFieldError,
  boolField,
  bytesField,
  enumField,
  optionalMessage,
} from "../wire-fields.js";
import { type ServiceKit, checkProposalSize, currentHeader, unaryCall } from "./service-kit.js";

const service = "etcdserverpb.Auth";
const permissionTypes: readonly PermissionType[] = ["READ", "WRITE", "READWRITE"];

function stringField(message: WireMessage, field: string): string {
  const value = message[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new WireFieldError(`${field} is not a string`);
  return value;
}

/** authpb.Permission. */
export function encodePermission(permission: Permission): object {
  return {
    permType: permission.permType,
    key: Buffer.from(permission.key),
    range_end: Buffer.from(permission.rangeEnd),
  };
}

function permissionOf(message: WireMessage): Permission {
  const perm = optionalMessage(message, "perm") ?? {};
  return {
    permType: enumField(perm, "permType", permissionTypes),
    key: bytesField(perm, "key"),
    rangeEnd: bytesField(perm, "range_end"),
  };
}

type AuthCall = (wire: WireMessage, context: CallContext) => Promise<object | undefined>;

/** The Auth service implementation for grpc-js. */
export function authService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend: b } = kit;
  const s = stringField;
  const calls: Record<string, AuthCall> = {
    AuthEnable: async (_, c) => { await b.authEnable(c); return undefined; },
    AuthDisable: async (_, c) => { await b.authDisable(c); return undefined; },
    Authenticate: async (w) => ({ token: await b.authenticate(s(w, "name"), s(w, "password")) }),
    UserAdd: async (w, c) => {
      const noPassword = boolField(optionalMessage(w, "options") ?? {}, "no_password");
      await b.userAdd(c, s(w, "name"), s(w, "password"), noPassword);
      return undefined;
    },
    UserGet: async (w, c) => ({ roles: [...await b.userGet(c, s(w, "name"))] }),
    UserList: async (_, c) => ({ users: [...await b.userList(c)] }),
    UserDelete: async (w, c) => { await b.userDelete(c, s(w, "name")); return undefined; },
    UserChangePassword: async (w, c) => {
      await b.userChangePassword(c, s(w, "name"), s(w, "password"));
      return undefined;
    },
    UserGrantRole: async (w, c) => {
      await b.userGrantRole(c, s(w, "user"), s(w, "role"));
      return undefined;
    },
    UserRevokeRole: async (w, c) => {
      await b.userRevokeRole(c, s(w, "name"), s(w, "role"));
      return undefined;
    },
    RoleAdd: async (w, c) => { await b.roleAdd(c, s(w, "name")); return undefined; },
    RoleGet: async (w, c) => ({ perm: (await b.roleGet(c, s(w, "role"))).map(encodePermission) }),
    RoleList: async (_, c) => ({ roles: [...await b.roleList(c)] }),
    RoleDelete: async (w, c) => { await b.roleDelete(c, s(w, "role")); return undefined; },
    RoleGrantPermission: async (w, c) => {
      await b.roleGrantPermission(c, s(w, "name"), permissionOf(w));
      return undefined;
    },
    RoleRevokePermission: async (w, c) => {
      await b.roleRevokePermission(
        c, s(w, "role"), bytesField(w, "key"), bytesField(w, "range_end"));
      return undefined;
    },
  };
  const implementation: UntypedServiceImplementation = {};
  for (const [method, call] of Object.entries(calls)) {
    implementation[method] = unaryCall(kit, { service, method, type: "unary" },
      async (wire, context) => {
        checkProposalSize(kit, wire);
        const fields = await call(wire, context);
        return { header: currentHeader(b), ...fields };
      });
  }
  return implementation;
}
