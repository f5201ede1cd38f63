/**
 * The binary form of an `AuthRequest`, for a Raft entry. Format v1, big-endian (byte-codec):
 * magic "PFSAUTQ1" (8 bytes), then a tag u8 (the index of the type in `requestTypes`), then
 * the fields of that type in declaration order: strings as u32 length + UTF-8 bytes, byte
 * strings as u32 length + bytes, booleans as u8 0/1, a permission type as u8 (READ 0, WRITE 1,
 * READWRITE 2, as authpb). Decoding never throws on bad input: truncation, trailing bytes,
 * unknown tags, invalid UTF-8 or out-of-range values come back as DATA_CORRUPTED.
 */
import {
  ByteReader,
  ByteWriter,
  MalformedPayloadError,
  PfsError,
  type Result,
  assertNever,
  err,
  ok,
} from "../../common/index.js";
import type { Permission, PermissionType } from "../backend.js";
import type { AuthRequest, AuthRequestType } from "./auth-request.js";

const magic = Buffer.from("PFSAUTQ1", "latin1");

/** The tags, in wire order; append only. */
const requestTypes: readonly AuthRequestType[] = [
  "enable", "disable", "authenticate", "userAdd", "userDelete", "userChangePassword",
  "userGrantRole", "userRevokeRole", "roleAdd", "roleDelete", "roleGrantPermission",
  "roleRevokePermission",
];

/** authpb.Permission.Type numbers. */
export const permissionTypes: readonly PermissionType[] = ["READ", "WRITE", "READWRITE"];

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function writeString(writer: ByteWriter, value: string): void {
  writer.bytes(utf8Encoder.encode(value));
}

function readString(reader: ByteReader): string {
  const bytes = reader.bytes();
  try {
    return utf8.decode(bytes);
  } catch {
    throw new MalformedPayloadError(`a name of ${bytes.length} bytes is not UTF-8`);
  }
}

function readBoolean(reader: ByteReader): boolean {
  const value = reader.uint8();
  if (value > 1) throw new MalformedPayloadError(`boolean ${value}`);
  return value === 1;
}

/** Reads an authpb permission type number. */
export function readPermissionType(reader: ByteReader): PermissionType {
  const value = reader.uint8();
  const permType = permissionTypes[value];
  if (permType === undefined) throw new MalformedPayloadError(`permission type ${value}`);
  return permType;
}

function writePermission(writer: ByteWriter, permission: Permission): void {
  writer.uint8(permissionTypes.indexOf(permission.permType));
  writer.bytes(permission.key).bytes(permission.rangeEnd);
}

function readPermission(reader: ByteReader): Permission {
  const permType = readPermissionType(reader);
  return { permType, key: reader.bytes(), rangeEnd: reader.bytes() };
}

function writeFields(writer: ByteWriter, request: AuthRequest): void {
  switch (request.type) {
    case "enable":
    case "disable":
      return;
    case "authenticate":
      writeString(writer, request.name);
      writeString(writer, request.token);
      return;
    case "userAdd":
      writeString(writer, request.name);
      writeString(writer, request.passwordHash);
      writer.uint8(request.noPassword ? 1 : 0);
      return;
    case "userDelete":
    case "roleAdd":
      writeString(writer, request.name);
      return;
    case "roleDelete":
      writeString(writer, request.role);
      return;
    case "userChangePassword":
      writeString(writer, request.name);
      writeString(writer, request.passwordHash);
      return;
    case "userGrantRole":
      writeString(writer, request.user);
      writeString(writer, request.role);
      return;
    case "userRevokeRole":
      writeString(writer, request.name);
      writeString(writer, request.role);
      return;
    case "roleGrantPermission":
      writeString(writer, request.name);
      writePermission(writer, request.permission);
      return;
    case "roleRevokePermission":
      writeString(writer, request.role);
      writer.bytes(request.key).bytes(request.rangeEnd);
      return;
    default:
      assertNever(request);
  }
}

/** Encodes `request`; the caller owns the result. */
export function encodeAuthRequest(request: AuthRequest): Uint8Array {
  const writer = new ByteWriter(64);
  writer.raw(magic).uint8(requestTypes.indexOf(request.type));
  writeFields(writer, request);
  return writer.finish();
}

function readFields(reader: ByteReader, type: AuthRequestType): AuthRequest {
  switch (type) {
    case "enable":
    case "disable":
      return { type };
    case "authenticate":
      return { type, name: readString(reader), token: readString(reader) };
    case "userAdd":
      return {
        type, name: readString(reader), passwordHash: readString(reader),
        noPassword: readBoolean(reader),
      };
    case "userDelete":
    case "roleAdd":
      return { type, name: readString(reader) };
    case "roleDelete":
      return { type, role: readString(reader) };
    case "userChangePassword":
      return { type, name: readString(reader), passwordHash: readString(reader) };
    case "userGrantRole":
      return { type, user: readString(reader), role: readString(reader) };
    case "userRevokeRole":
      return { type, name: readString(reader), role: readString(reader) };
    case "roleGrantPermission":
      return { type, name: readString(reader), permission: readPermission(reader) };
    case "roleRevokePermission":
      return { type, role: readString(reader), key: reader.bytes(), rangeEnd: reader.bytes() };
    default:
      return assertNever(type);
  }
}

/** Decodes what `encodeAuthRequest` wrote; anything else → DATA_CORRUPTED (never a throw). */
export function decodeAuthRequest(bytes: Uint8Array): Result<AuthRequest, PfsError> {
  try {
    const reader = new ByteReader(bytes);
    if (!magic.equals(reader.raw(magic.length))) throw new MalformedPayloadError("bad magic");
    const tag = reader.uint8();
    const type = requestTypes[tag];
    if (type === undefined) throw new MalformedPayloadError(`unknown auth request tag ${tag}`);
    const request = readFields(reader, type);
    reader.end();
    return ok(request);
  } catch (error) {
    if (!(error instanceof MalformedPayloadError)) throw error;
    return err(new PfsError("DATA_CORRUPTED", `auth request malformed: ${error.message}`));
  }
}
