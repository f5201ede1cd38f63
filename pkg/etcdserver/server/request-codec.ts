/**
 * The replicated requests of the etcd member and their compact binary codec: what the
 * proposer puts in a Raft entry and every member's state machine applies. This is the hot
 * path of every write, so it is fixed-width big-endian fields (pkg/common byte-codec), no
 * JSON. Format: one version byte, one type byte, then the type's fields in declaration order;
 * bytes and strings carry a uint32 length. Decoding checks every tag and length and rejects
 * trailing bytes, so hostile or torn payloads fail with MalformedPayloadError, never a throw
 * of another kind and never a partial request.
 */
import {
  ByteReader, ByteWriter, MalformedPayloadError, assertNever, leaseId, limits, nodeId,
  type LeaseId, type NodeId,
} from "../../common/index.js";
import type { AlarmAction, AlarmType, Member } from "../backend.js";
import type {
  Compare, CompactionRequest, CompareResult, DeleteRangeRequest, PutRequest, RangeRequest,
  RequestOp, SortOrder, SortTarget, TxnRequest,
} from "../mvcc/index.js";

/** One replicated request. */
export type EtcdRequest =
  | { readonly type: "put"; readonly request: PutRequest }
  | { readonly type: "deleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "txn"; readonly request: TxnRequest }
  | { readonly type: "compact"; readonly request: CompactionRequest }
  | { readonly type: "leaseGrant"; readonly id: LeaseId; readonly ttlSeconds: bigint }
  | { readonly type: "leaseRevoke"; readonly id: LeaseId }
  | { readonly type: "memberAttributes"; readonly id: NodeId; readonly name: string;
    readonly clientUrls: readonly string[] }
  | { readonly type: "memberAdd"; readonly member: Member }
  | { readonly type: "memberRemove"; readonly id: NodeId }
  | { readonly type: "memberUpdate"; readonly id: NodeId; readonly peerUrls: readonly string[] }
  | { readonly type: "memberPromote"; readonly id: NodeId }
  | { readonly type: "alarm"; readonly action: AlarmAction; readonly memberId: NodeId;
    readonly alarm: AlarmType }
  /** An auth store operation, encoded by the auth module's own codec. */
  | { readonly type: "auth"; readonly payload: Uint8Array };

const codecVersion = 1;
const requestTypes = [
  "put", "deleteRange", "txn", "compact", "leaseGrant", "leaseRevoke", "memberAttributes",
  "memberAdd", "memberRemove", "memberUpdate", "memberPromote", "alarm", "auth",
] as const satisfies readonly EtcdRequest["type"][];
const sortOrders = ["NONE", "ASCEND", "DESCEND"] as const satisfies readonly SortOrder[];
const sortTargets = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const satisfies
  readonly SortTarget[];
const compareResults = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const satisfies
  readonly CompareResult[];
const compareTargets = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const;
const opTypes = ["range", "put", "deleteRange", "txn", "empty"] as const satisfies
  readonly RequestOp["type"][];
const alarmActions = ["GET", "ACTIVATE", "DEACTIVATE"] as const satisfies readonly AlarmAction[];
const alarmTypes = ["NONE", "NOSPACE", "CORRUPT"] as const satisfies readonly AlarmType[];

function tagOf<T extends string>(values: readonly T[], value: T): number {
  return values.indexOf(value);
}

function readTag<T>(reader: ByteReader, values: readonly T[], what: string): T {
  const tag = reader.uint8();
  const value = values[tag];
  if (value === undefined) throw new MalformedPayloadError(`unknown ${what} tag ${tag}`);
  return value;
}

/** Encodes `request` for a Raft entry. */
export function encodeEtcdRequest(request: EtcdRequest): Uint8Array {
  const writer = new ByteWriter(128);
  writer.uint8(codecVersion).uint8(tagOf(requestTypes, request.type));
  writeBody(writer, request);
  return writer.finish();
}

function writeBody(writer: ByteWriter, request: EtcdRequest): void {
  switch (request.type) {
    case "put": writePut(writer, request.request); return;
    case "deleteRange": writeDelete(writer, request.request); return;
    case "txn": writeTxn(writer, request.request, 0); return;
    case "compact":
      writer.int64(BigInt(request.request.revision)).uint8(request.request.physical ? 1 : 0);
      return;
    case "leaseGrant": writer.int64(request.id).int64(clampInt64(request.ttlSeconds)); return;
    case "leaseRevoke": writer.int64(request.id); return;
    case "memberAttributes":
      writer.uint64(request.id);
      writeString(writer, request.name);
      writeStrings(writer, request.clientUrls);
      return;
    case "memberAdd": writeMember(writer, request.member); return;
    case "memberRemove":
    case "memberPromote": writer.uint64(request.id); return;
    case "memberUpdate": writer.uint64(request.id); writeStrings(writer, request.peerUrls); return;
    case "alarm":
      writer.uint8(tagOf(alarmActions, request.action)).uint64(request.memberId)
        .uint8(tagOf(alarmTypes, request.alarm));
      return;
    case "auth": writer.bytes(request.payload); return;
    default: assertNever(request, "etcd request type");
  }
}

/** Decodes a payload made by `encodeEtcdRequest`; throws MalformedPayloadError otherwise. */
export function decodeEtcdRequest(payload: Uint8Array): EtcdRequest {
  const reader = new ByteReader(payload);
  const version = reader.uint8();
  if (version !== codecVersion) {
    throw new MalformedPayloadError(`request codec version ${version}, expected ${codecVersion}`);
  }
  const request = readBody(reader, readTag(reader, requestTypes, "request"));
  reader.end();
  return request;
}

function readBody(reader: ByteReader, type: EtcdRequest["type"]): EtcdRequest {
  switch (type) {
    case "put": return { type, request: readPut(reader) };
    case "deleteRange": return { type, request: readDelete(reader) };
    case "txn": return { type, request: readTxn(reader, 0) };
    case "compact": return { type, request: { revision: readRevision(reader),
      physical: readBool(reader) } };
    case "leaseGrant": return { type, id: leaseId(reader.int64()), ttlSeconds: reader.int64() };
    case "leaseRevoke": return { type, id: leaseId(reader.int64()) };
    case "memberAttributes": return { type, id: nodeId(reader.uint64()),
      name: readString(reader), clientUrls: readStrings(reader) };
    case "memberAdd": return { type, member: readMember(reader) };
    case "memberRemove":
    case "memberPromote": return { type, id: nodeId(reader.uint64()) };
    case "memberUpdate": return { type, id: nodeId(reader.uint64()), peerUrls: readStrings(reader) };
    case "alarm": return { type, action: readTag(reader, alarmActions, "alarm action"),
      memberId: nodeId(reader.uint64()), alarm: readTag(reader, alarmTypes, "alarm") };
    case "auth": return { type, payload: reader.bytes() };
    default: return assertNever(type, "etcd request type");
  }
}

const int64Max = (1n << 63n) - 1n;

function clampInt64(value: bigint): bigint {
  return value > int64Max ? int64Max : value < -int64Max ? -int64Max : value;
}

function readBool(reader: ByteReader): boolean {
  const value = reader.uint8();
  if (value > 1) throw new MalformedPayloadError(`boolean byte ${value}`);
  return value === 1;
}

/** Revisions and counts are safe integers in memory (the wire codec clamps them). */
function readRevision(reader: ByteReader): number {
  const value = reader.int64();
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new MalformedPayloadError(`revision ${value} is not a safe integer`);
  }
  return Number(value);
}

function writeRevision(writer: ByteWriter, value: number): void {
  writer.int64(BigInt(value));
}

function writeString(writer: ByteWriter, value: string): void {
  writer.bytes(Buffer.from(value, "utf8"));
}

function readString(reader: ByteReader): string {
  return Buffer.from(reader.bytesView()).toString("utf8");
}

function writeStrings(writer: ByteWriter, values: readonly string[]): void {
  writer.uint32(values.length);
  for (const value of values) writeString(writer, value);
}

function readCount(reader: ByteReader, max: number, what: string): number {
  const count = reader.uint32();
  if (count > max) throw new MalformedPayloadError(`${count} ${what}, at most ${max}`);
  return count;
}

function readStrings(reader: ByteReader): string[] {
  const count = readCount(reader, limits.etcdReplicatedListItemsMax, "strings");
  const values: string[] = [];
  for (let i = 0; i < count; i += 1) values.push(readString(reader));
  return values;
}

/** A member record (also used by the state machine snapshot). */
export function writeMember(writer: ByteWriter, member: Member): void {
  writer.uint64(member.id);
  writeString(writer, member.name);
  writeStrings(writer, member.peerUrls);
  writeStrings(writer, member.clientUrls);
  writer.uint8(member.isLearner ? 1 : 0);
}

export function readMember(reader: ByteReader): Member {
  return {
    id: nodeId(reader.uint64()), name: readString(reader), peerUrls: readStrings(reader),
    clientUrls: readStrings(reader), isLearner: readBool(reader),
  };
}

function writeRange(writer: ByteWriter, request: RangeRequest): void {
  writer.bytes(request.key).bytes(request.rangeEnd);
  writeRevision(writer, request.limit);
  writeRevision(writer, request.revision);
  writer.uint8(tagOf(sortOrders, request.sortOrder)).uint8(tagOf(sortTargets, request.sortTarget));
  writer.uint8((request.keysOnly ? 1 : 0) | (request.countOnly ? 2 : 0) |
    (request.serializable ? 4 : 0));
  for (const value of [request.minModRevision, request.maxModRevision,
    request.minCreateRevision, request.maxCreateRevision]) writeRevision(writer, value);
}

function readRange(reader: ByteReader): RangeRequest {
  const key = reader.bytes();
  const rangeEnd = reader.bytes();
  const limit = readRevision(reader);
  const revision = readRevision(reader);
  const sortOrder = readTag(reader, sortOrders, "sort order");
  const sortTarget = readTag(reader, sortTargets, "sort target");
  const flags = reader.uint8();
  if (flags > 7) throw new MalformedPayloadError(`range flags ${flags}`);
  return {
    key, rangeEnd, limit, revision, sortOrder, sortTarget, keysOnly: (flags & 1) !== 0,
    countOnly: (flags & 2) !== 0, serializable: (flags & 4) !== 0,
    minModRevision: readRevision(reader), maxModRevision: readRevision(reader),
    minCreateRevision: readRevision(reader), maxCreateRevision: readRevision(reader),
  };
}

function writePut(writer: ByteWriter, request: PutRequest): void {
  writer.bytes(request.key).bytes(request.value).int64(request.lease);
  writer.uint8((request.prevKv ? 1 : 0) | (request.ignoreValue ? 2 : 0) |
    (request.ignoreLease ? 4 : 0));
}

function readPut(reader: ByteReader): PutRequest {
  const key = reader.bytes();
  const value = reader.bytes();
  const lease = leaseId(reader.int64());
  const flags = reader.uint8();
  if (flags > 7) throw new MalformedPayloadError(`put flags ${flags}`);
  return {
    key, value, lease, prevKv: (flags & 1) !== 0, ignoreValue: (flags & 2) !== 0,
    ignoreLease: (flags & 4) !== 0,
  };
}

function writeDelete(writer: ByteWriter, request: DeleteRangeRequest): void {
  writer.bytes(request.key).bytes(request.rangeEnd).uint8(request.prevKv ? 1 : 0);
}

function readDelete(reader: ByteReader): DeleteRangeRequest {
  return { key: reader.bytes(), rangeEnd: reader.bytes(), prevKv: readBool(reader) };
}

function writeCompare(writer: ByteWriter, compare: Compare): void {
  writer.bytes(compare.key).bytes(compare.rangeEnd)
    .uint8(tagOf(compareResults, compare.result)).uint8(compareTargets.indexOf(compare.target));
  if (compare.target === "VALUE") writer.bytes(compare.operand);
  else if (compare.target === "LEASE") writer.int64(compare.operand);
  else writeRevision(writer, compare.operand);
}

function readCompare(reader: ByteReader): Compare {
  const key = reader.bytes();
  const rangeEnd = reader.bytes();
  const result = readTag(reader, compareResults, "compare result");
  const target = readTag(reader, compareTargets, "compare target");
  if (target === "VALUE") return { key, rangeEnd, result, target, operand: reader.bytes() };
  if (target === "LEASE") return { key, rangeEnd, result, target, operand: leaseId(reader.int64()) };
  return { key, rangeEnd, result, target, operand: readRevision(reader) };
}

/**
 * Nested txns are written depth first. The depth is bounded (etcdTxnNestingDepthMax) and
 * each level is a request the client sent, so the recursion is bounded by the request size.
 */
function writeTxn(writer: ByteWriter, txn: TxnRequest, depth: number): void {
  if (depth > limits.etcdTxnNestingDepthMax) {
    throw new MalformedPayloadError(`txn nested deeper than ${limits.etcdTxnNestingDepthMax}`);
  }
  writer.uint32(txn.compare.length);
  for (const compare of txn.compare) writeCompare(writer, compare);
  for (const ops of [txn.success, txn.failure]) {
    writer.uint32(ops.length);
    for (const op of ops) writeOp(writer, op, depth);
  }
}

function writeOp(writer: ByteWriter, op: RequestOp, depth: number): void {
  writer.uint8(tagOf(opTypes, op.type));
  switch (op.type) {
    case "range": writeRange(writer, op.request); return;
    case "put": writePut(writer, op.request); return;
    case "deleteRange": writeDelete(writer, op.request); return;
    case "txn": writeTxn(writer, op.request, depth + 1); return;
    case "empty": return;
    default: assertNever(op, "request op");
  }
}

function readTxn(reader: ByteReader, depth: number): TxnRequest {
  if (depth > limits.etcdTxnNestingDepthMax) {
    throw new MalformedPayloadError(`txn nested deeper than ${limits.etcdTxnNestingDepthMax}`);
  }
  const compareCount = readCount(reader, limits.etcdTxnOpsMax, "compares");
  const compare: Compare[] = [];
  for (let i = 0; i < compareCount; i += 1) compare.push(readCompare(reader));
  const branches: RequestOp[][] = [];
  for (let branch = 0; branch < 2; branch += 1) {
    const count = readCount(reader, limits.etcdTxnOpsMax, "ops");
    const ops: RequestOp[] = [];
    for (let i = 0; i < count; i += 1) ops.push(readOp(reader, depth));
    branches.push(ops);
  }
  return { compare, success: branches[0] ?? [], failure: branches[1] ?? [] };
}

function readOp(reader: ByteReader, depth: number): RequestOp {
  const type = readTag(reader, opTypes, "request op");
  switch (type) {
    case "range": return { type, request: readRange(reader) };
    case "put": return { type, request: readPut(reader) };
    case "deleteRange": return { type, request: readDelete(reader) };
    case "txn": return { type, request: readTxn(reader, depth + 1) };
    case "empty": return { type };
    default: return assertNever(type, "request op");
  }
}
