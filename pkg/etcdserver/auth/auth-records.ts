/**
 * The replicated auth state: users and roles as etcd's authpb.User and authpb.Role hold them.
 * Names order bytewise by their UTF-8 bytes, as etcd's bolt buckets and `sort.Strings` order
 * them.
 */
import type { Permission } from "../backend.js";

/** authpb.User. */
export interface UserRecord {
  readonly name: string;
  /** A `hashPassword` hash; "" for a user added with no password. */
  passwordHash: string;
  /** Options.NoPassword: the user cannot authenticate (a TLS common-name user). */
  readonly noPassword: boolean;
  /** Granted role names, sorted bytewise, no duplicates. May name "root" without that role. */
  roles: string[];
}

/** authpb.Role. */
export interface RoleRecord {
  readonly name: string;
  /**
   * In etcd's order: sorted by key bytewise, stable, so permissions with one key keep the
   * order they were granted in. One [key, rangeEnd) may appear twice (etcd's grant only
   * updates the first permission with that key).
   */
  permissions: Permission[];
}

/** The whole replicated auth state. */
export interface AuthState {
  readonly enabled: boolean;
  /** etcd's auth revision: 1 for a fresh store, +1 per change. */
  readonly revision: number;
  /** Sorted by name. */
  readonly users: readonly UserRecord[];
  /** Sorted by name. */
  readonly roles: readonly RoleRecord[];
}

const encoder = new TextEncoder();

/** Bytewise order of the UTF-8 encodings of `a` and `b` (etcd's name order). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b));
}
