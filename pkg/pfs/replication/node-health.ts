/**
 * Node health (DESIGN.md §4), decided purely from what the coordination store holds:
 *
 * - **online**: the node's lease key `<root>/nodes/<id>` is present;
 * - **offline**: the key is gone (its lease lapsed or was revoked) for less than the dead time;
 * - **faulty**: offline for the dead time or longer; its replicas are placed elsewhere.
 *
 * The offline clock lives in the store, not in the controller's memory: when the placement
 * controller first sees a known node without its lease key, it writes
 * `<root>/node-health/<id>` = `{"offlineSinceWallMs": <its wall clock>}` in the same fenced
 * transaction as the map. A new controller reads that record and goes on counting from it, so
 * a controller change neither resets nor restarts a node's dead time. When the node's lease
 * key reappears the record is deleted (the node is online again, faulty or not before). The
 * record of a faulty node stays until the node comes back or is retired.
 *
 * Wall-clock time is used because the record is read by other processes, whose monotonic
 * clocks have other origins; skew between controller hosts shifts the dead time by the skew.
 * (A lease with the dead time as TTL was considered: etcd extends every lease when a new Raft
 * leader takes over, which would restart the clock.) A wall clock stepping back makes the
 * node offline for longer, never faulty sooner.
 *
 * Everything here is pure: the caller passes the time and does the writes.
 */
import { assert, err, ok, type Result } from "../../common/index.js";
import { parseJsonRecord } from "./json-record.js";

/** The health of a node. */
export type NodeState = "online" | "offline" | "faulty";

/** What the store keeps about a node whose lease key is gone. */
export interface OfflineRecord {
  /** Wall-clock milliseconds (Unix epoch) when a controller first saw the key gone. */
  readonly offlineSinceWallMs: number;
}

/** What the health of the known nodes is decided from. */
export interface NodeHealthInput {
  /** Nodes whose lease key is present now. */
  readonly live: ReadonlySet<string>;
  /** The offline records in the store, by node. */
  readonly records: ReadonlyMap<string, OfflineRecord>;
  /** Nodes the map in force places replicas on (known even without a key or a record). */
  readonly mapped: ReadonlySet<string>;
  readonly nowWallMs: number;
  /** How long a node may be offline before it is faulty, in milliseconds (> 0). */
  readonly deadTimeMs: number;
}

/** The states and the record changes that make the store agree with them. */
export interface NodeHealthOutcome {
  /** Every known node (live, recorded or mapped) and its state. */
  readonly states: ReadonlyMap<string, NodeState>;
  /** Records to create: nodes seen offline for the first time, since now. */
  readonly recordsToPut: ReadonlyMap<string, OfflineRecord>;
  /** Records to delete: their nodes are online again. */
  readonly recordsToDelete: readonly string[];
  /** The earliest wall time at which an offline node turns faulty; undefined when none will. */
  readonly nextChangeWallMs: number | undefined;
}

/** The state of one node: `live` says its lease key is present. */
export function nodeStateOf(live: boolean, record: OfflineRecord | undefined, nowWallMs: number,
  deadTimeMs: number): NodeState {
  assert(deadTimeMs > 0, () => `dead time ${deadTimeMs} ms`);
  if (live) return "online";
  const since = record?.offlineSinceWallMs ?? nowWallMs;
  return nowWallMs - since >= deadTimeMs ? "faulty" : "offline";
}

/** Decides every known node's state and the record writes; see the module comment. */
export function decideNodeHealth(input: NodeHealthInput): NodeHealthOutcome {
  const { live, records, mapped, nowWallMs, deadTimeMs } = input;
  assert(Number.isFinite(nowWallMs), () => `wall time ${nowWallMs}`);
  const known = new Set<string>([...live, ...records.keys(), ...mapped]);
  const states = new Map<string, NodeState>();
  const recordsToPut = new Map<string, OfflineRecord>();
  const recordsToDelete: string[] = [];
  let nextChangeWallMs: number | undefined;
  for (const node of [...known].sort()) {
    const record = records.get(node);
    const state = nodeStateOf(live.has(node), record, nowWallMs, deadTimeMs);
    states.set(node, state);
    if (state === "online" && record !== undefined) recordsToDelete.push(node);
    if (state !== "online" && record === undefined) {
      recordsToPut.set(node, { offlineSinceWallMs: nowWallMs });
    }
    if (state === "offline") {
      const faultyAt = (record?.offlineSinceWallMs ?? nowWallMs) + deadTimeMs;
      nextChangeWallMs = Math.min(nextChangeWallMs ?? faultyAt, faultyAt);
    }
  }
  assert(states.size === known.size, "every known node has a state");
  return { states, recordsToPut, recordsToDelete, nextChangeWallMs };
}

/** The record as stored: JSON. */
export function encodeOfflineRecord(record: OfflineRecord): string {
  assert(Number.isSafeInteger(record.offlineSinceWallMs),
    () => `offline since ${record.offlineSinceWallMs}`);
  return JSON.stringify({ offlineSinceWallMs: record.offlineSinceWallMs });
}

/** Parses a stored record; the error says what is wrong. */
export function decodeOfflineRecord(text: string): Result<OfflineRecord, string> {
  const parsed = parseJsonRecord(text);
  if (!parsed.ok) return parsed;
  const { offlineSinceWallMs } = parsed.value;
  if (typeof offlineSinceWallMs !== "number" || !Number.isSafeInteger(offlineSinceWallMs) ||
    offlineSinceWallMs < 0) {
    return err(`offlineSinceWallMs ${String(offlineSinceWallMs)} is not a time`);
  }
  return ok({ offlineSinceWallMs });
}
