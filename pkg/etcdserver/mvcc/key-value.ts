/**
 * The values the MVCC store holds and reports: a key's version at one revision, and the watch
 * events a write produces. These mirror etcd's mvccpb.KeyValue and mvccpb.Event, with int64
 * revisions as safe-integer `Revision`s and lease IDs as `bigint` (STYLE rule 10).
 */
import type { LeaseId, Revision } from "../../common/index.js";

/** One version of a key. Invariant: `version` >= 1 and createRevision <= modRevision. */
export interface KeyValue {
  /** Never empty. Owned by the store: callers must not mutate it. */
  readonly key: Uint8Array;
  /** The revision that created the current incarnation of the key. */
  readonly createRevision: Revision;
  /** The revision of the last write to the key. */
  readonly modRevision: Revision;
  /** 1 on creation, +1 per put; restarts at 1 after a delete. */
  readonly version: number;
  readonly value: Uint8Array;
  /** The attached lease, 0n for none. */
  readonly lease: LeaseId;
}

/** The kind of change an event records (mvccpb.Event.EventType). */
export type EventType = "PUT" | "DELETE";

/**
 * One change to one key. A DELETE event's `kv` carries only `key` and `modRevision` (= the
 * delete's revision), all other fields zero, as etcd sends it. `prevKv` is the key as of
 * (revision - 1), present only when asked for, when the key existed then and that revision is
 * not compacted, and never on a create (a PUT with version 1).
 */
export interface MvccEvent {
  readonly type: EventType;
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/** The events of one write revision, in the order of their sub-revisions. Never empty. */
export interface RevisionEvents {
  readonly revision: Revision;
  readonly events: readonly MvccEvent[];
}
