/**
 * The binary snapshot of the replicated auth state (tokens are member-local and not in it).
 * Format v1, big-endian (byte-codec): magic "PFSAUTH1" (8 bytes), format version u32, enabled
 * u8, revision u64; user count u32, then per user in name order: name, noPassword u8, password
 * hash, role count u32 and the role names; role count u32, then per role in name order: name,
 * permission count u32 and per permission: type u8 (authpb numbers), key, rangeEnd. Names and
 * hashes are u32 length + UTF-8; keys are u32 length + bytes. A CRC-32 (u32) of everything
 * before it ends it.
 */
import {
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
  PfsError,
  type Result,
  assert,
  err,
  ok,
  openCrc32,
  sealCrc32,
} from "../../common/index.js";
import type { Permission } from "../backend.js";
import { permissionTypes, readPermissionType } from "./auth-request-codec.js";
import {
  type AuthState,
  type RoleRecord,
  type UserRecord,
  compareNames,
} from "./auth-records.js";

const magic = Buffer.from("PFSAUTH1", "latin1");
const formatVersion = 1;
const headerBytes = magic.length + 4 + 1 + 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readName(reader: ByteReader, what: string): string {
  const bytes = reader.bytes();
  try {
    return decoder.decode(bytes);
  } catch {
    throw new MalformedPayloadError(`${what} of ${bytes.length} bytes is not UTF-8`);
  }
}

function writeUser(writer: ByteWriter, user: UserRecord): void {
  writer.bytes(encoder.encode(user.name)).uint8(user.noPassword ? 1 : 0);
  writer.bytes(encoder.encode(user.passwordHash)).uint32(user.roles.length);
  for (const role of user.roles) writer.bytes(encoder.encode(role));
}

function writeRole(writer: ByteWriter, role: RoleRecord): void {
  writer.bytes(encoder.encode(role.name)).uint32(role.permissions.length);
  for (const permission of role.permissions) {
    writer.uint8(permissionTypes.indexOf(permission.permType));
    writer.bytes(permission.key).bytes(permission.rangeEnd);
  }
}

/** Encodes `state`; its users and roles must be sorted by name. The caller owns the result. */
export function encodeAuthSnapshot(state: AuthState): Uint8Array {
  assert(Number.isSafeInteger(state.revision) && state.revision >= 1, () =>
    `auth revision ${state.revision}`);
  const writer = new ByteWriter(256);
  writer.raw(magic).uint32(formatVersion).uint8(state.enabled ? 1 : 0);
  writer.uint64Number(state.revision).uint32(state.users.length);
  for (const user of state.users) writeUser(writer, user);
  writer.uint32(state.roles.length);
  for (const role of state.roles) writeRole(writer, role);
  const body = writer.finish();
  return sealCrc32(body);
}

/** Throws unless `names` are non-empty and strictly ascending (sorted, no duplicates). */
function checkAscending(names: readonly string[], what: string): void {
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i] ?? "";
    if (name.length === 0) throw new MalformedPayloadError(`empty ${what} name`);
    const previous = names[i - 1];
    if (previous !== undefined && compareNames(previous, name) >= 0) {
      throw new MalformedPayloadError(`${what} ${JSON.stringify(name)} out of order`);
    }
  }
}

function readUser(reader: ByteReader): UserRecord {
  const name = readName(reader, "user name");
  const noPasswordByte = reader.uint8();
  if (noPasswordByte > 1) throw new MalformedPayloadError(`user ${name} noPassword ${noPasswordByte}`);
  const passwordHash = readName(reader, "password hash");
  const roleCount = reader.uint32();
  const roles: string[] = [];
  for (let i = 0; i < roleCount; i += 1) roles.push(readName(reader, "role name"));
  checkAscending(roles, `user ${name} role`);
  return { name, noPassword: noPasswordByte === 1, passwordHash, roles };
}

function readRole(reader: ByteReader): RoleRecord {
  const name = readName(reader, "role name");
  const count = reader.uint32();
  const permissions: Permission[] = [];
  for (let i = 0; i < count; i += 1) {
    const permType = readPermissionType(reader);
    permissions.push({ permType, key: reader.bytes(), rangeEnd: reader.bytes() });
  }
  for (let i = 1; i < permissions.length; i += 1) {
    const [before, after] = [permissions[i - 1], permissions[i]];
    if (before !== undefined && after !== undefined && Buffer.compare(before.key, after.key) > 0) {
      throw new MalformedPayloadError(`role ${name} permissions out of order`);
    }
  }
  return { name, permissions };
}

function readState(reader: ByteReader): AuthState {
  if (!magic.equals(reader.raw(magic.length))) throw new MalformedPayloadError("bad magic");
  const version = reader.uint32();
  if (version !== formatVersion) throw new MalformedPayloadError(`unknown format version ${version}`);
  const enabledByte = reader.uint8();
  if (enabledByte > 1) throw new MalformedPayloadError(`enabled ${enabledByte}`);
  const revision = reader.uint64Number();
  if (revision < 1) throw new MalformedPayloadError(`auth revision ${revision}`);
  const users: UserRecord[] = [];
  const userCount = reader.uint32();
  for (let i = 0; i < userCount; i += 1) users.push(readUser(reader));
  checkAscending(users.map((user) => user.name), "user");
  const roles: RoleRecord[] = [];
  const roleCount = reader.uint32();
  for (let i = 0; i < roleCount; i += 1) roles.push(readRole(reader));
  checkAscending(roles.map((role) => role.name), "role");
  reader.end();
  return { enabled: enabledByte === 1, revision, users, roles };
}

/**
 * Decodes a snapshot. Errors: short, checksum mismatch, unknown magic or version, truncated,
 * trailing bytes, invalid UTF-8, empty, unordered or duplicate names, bad flags or permission
 * types → DATA_CORRUPTED. Never throws on bad bytes.
 */
export function decodeAuthSnapshot(bytes: Uint8Array): Result<AuthState, PfsError> {
  const body = openCrc32(bytes, "auth snapshot", headerBytes);
  if (!body.ok) return body;
  try {
    return ok(readState(new ByteReader(body.value)));
  } catch (error) {
    if (!(error instanceof MalformedPayloadError)) throw error;
    return err(new PfsError("DATA_CORRUPTED", `auth snapshot malformed: ${error.message}`));
  }
}
