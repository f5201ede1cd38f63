/**
 * Replica status records (issue 6): how far each shard replica is behind, as its node reports it.
 *
 * Key: `<root>/replica-status/<shard>/<node>`, shard a decimal integer without leading zeros,
 * node a node name (node-registry.ts `checkNodeName`). Value: JSON
 * `{"lag": <finished commits of the shard this replica lacks>, "finished": <finished commits
 * it holds>, "updatedMs": <wall-clock ms of the report>}`. Each node writes its own records on
 * its node lease, so a dead node's records vanish with its lease: a replica without a record
 * has an unknown lag.
 *
 * Invariants of every record made or accepted here: `lag`, `finished` and `updatedMs` are
 * non-negative safe integers. Pure: no I/O.
 */
import { assert, err, ok, type Result } from "../../common/index.js";
import { checkNodeName } from "../placement/index.js";
import { parseJsonRecord } from "./json-record.js";

/** What a node reports about one shard replica it holds. */
export interface ReplicaStatusRecord {
  /** Finished commits of the shard that this replica does not hold yet (0: caught up). */
  readonly lag: number;
  /** Finished commits of the shard this replica holds. */
  readonly finished: number;
  /** Wall-clock milliseconds (Unix epoch) when the node wrote the record. */
  readonly updatedMs: number;
}

/** Where a status record's key points: a shard and the node holding the replica. */
export interface ReplicaStatusKeyParts {
  readonly shard: number;
  readonly node: string;
}

function checkRoot(root: string): void {
  assert(root.startsWith("/") && !root.endsWith("/"), () => `key root ${root}`);
}

/** The prefix of every status record of the cluster rooted at `root`, ending in "/". */
export function replicaStatusPrefix(root: string): string {
  checkRoot(root);
  return `${root}/replica-status/`;
}

/** The key of `node`'s record for its replica of `shard`. */
export function replicaStatusKey(root: string, shard: number, node: string): string {
  assert(Number.isSafeInteger(shard) && shard >= 0, () => `shard ${shard}`);
  checkNodeName(node);
  return `${replicaStatusPrefix(root)}${shard}/${node}`;
}

const shardPattern = /^(0|[1-9][0-9]{0,8})$/;

/**
 * Parses a status record's key back into its shard and node; an error for a key outside the
 * prefix or one whose parts are not a shard number and a node name.
 */
export function parseReplicaStatusKey(root: string, key: string):
  Result<ReplicaStatusKeyParts, string> {
  const prefix = replicaStatusPrefix(root);
  if (!key.startsWith(prefix)) return err(`key ${key} is not under ${prefix}`);
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash < 0) return err(`key ${key} has no node part`);
  const shardText = rest.slice(0, slash);
  const node = rest.slice(slash + 1);
  if (!shardPattern.test(shardText)) return err(`key ${key}: ${shardText} is not a shard`);
  try {
    checkNodeName(node);
  } catch {
    return err(`key ${key}: ${JSON.stringify(node)} is not a node name`);
  }
  return ok({ shard: Number(shardText), node });
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The record as stored: JSON with exactly the three fields. */
export function encodeReplicaStatus(record: ReplicaStatusRecord): string {
  assert(isCount(record.lag), () => `lag ${record.lag}`);
  assert(isCount(record.finished), () => `finished ${record.finished}`);
  assert(isCount(record.updatedMs), () => `updated at ${record.updatedMs}`);
  return JSON.stringify({ lag: record.lag, finished: record.finished,
    updatedMs: record.updatedMs });
}

/** Parses a stored record; the error says which field is wrong. Unknown fields are ignored. */
export function decodeReplicaStatus(text: string): Result<ReplicaStatusRecord, string> {
  const parsed = parseJsonRecord(text);
  if (!parsed.ok) return parsed;
  const { lag, finished, updatedMs } = parsed.value;
  if (!isCount(lag)) return err(`lag ${JSON.stringify(lag)} is not a count`);
  if (!isCount(finished)) return err(`finished ${JSON.stringify(finished)} is not a count`);
  if (!isCount(updatedMs)) return err(`updatedMs ${JSON.stringify(updatedMs)} is not a time`);
  return ok({ lag, finished, updatedMs });
}
