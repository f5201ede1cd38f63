/**
 * Branded identifier and counter types (STYLE rule 9), so that a term is never passed where a
 * log index is expected. 64-bit identifiers that may exceed 2^53 (member IDs, lease IDs) are
 * `bigint`; counters that grow by one per event (terms, log indexes, revisions) are numbers
 * asserted to be safe integers: at a million increments a second, 2^53 lasts 285 years.
 */
import { assertSafeInteger } from "./assert.js";

declare const brand: unique symbol;
/** `T` tagged with a compile-time-only name. */
export type Brand<T, Name extends string> = T & { readonly [brand]: Name };

/** A Raft member ID: uint64, made as etcd makes them. 0 means "none". */
export type NodeId = Brand<bigint, "NodeId">;
/** A Raft term: 0 before the first election. */
export type Term = Brand<number, "Term">;
/** A Raft log index: 0 before the first entry. */
export type LogIndex = Brand<number, "LogIndex">;
/** An etcd store revision: 1 on a fresh store. */
export type Revision = Brand<number, "Revision">;
/** An etcd lease ID: int64, any non-zero value. */
export type LeaseId = Brand<bigint, "LeaseId">;
/** A file-system shard number in [0, shards). */
export type ShardId = Brand<number, "ShardId">;

const uint64Max = (1n << 64n) - 1n;
const int64Min = -(1n << 63n);
const int64Max = (1n << 63n) - 1n;

/** Makes a NodeId, asserting it is a uint64. */
export function nodeId(value: bigint): NodeId {
  if (value < 0n || value > uint64Max) throw new RangeError(`node id ${value} is not a uint64`);
  return value as NodeId;
}

/** Makes a Term, asserting it is a non-negative safe integer. */
export function term(value: number): Term {
  assertSafeInteger(value, "term", 0);
  return value as Term;
}

/** Makes a LogIndex, asserting it is a non-negative safe integer. */
export function logIndex(value: number): LogIndex {
  assertSafeInteger(value, "log index", 0);
  return value as LogIndex;
}

/** Makes a Revision, asserting it is a non-negative safe integer. */
export function revision(value: number): Revision {
  assertSafeInteger(value, "revision", 0);
  return value as Revision;
}

/** Makes a LeaseId, asserting it is an int64. */
export function leaseId(value: bigint): LeaseId {
  if (value < int64Min || value > int64Max) throw new RangeError(`lease id ${value} is not an int64`);
  return value as LeaseId;
}

/** Makes a ShardId, asserting 0 ≤ value < shards. */
export function shardId(value: number, shards: number): ShardId {
  assertSafeInteger(value, "shard", 0, shards - 1);
  return value as ShardId;
}

/** Formats a uint64 ID as etcd prints it: 16 lower-case hex digits. */
export function formatHexId(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}
