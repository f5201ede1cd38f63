/**
 * The domain shapes of the etcd Watch API (etcd-api.md §6): a create request as the service
 * decodes it, and a WatchResponse as the hub produces it. Revisions are plain safe integers;
 * `encodeWatchResponse` turns a response into the proto shape.
 */
import type { Result } from "../../common/index.js";
import type { MvccEvent, RevisionEvents } from "../mvcc/index.js";

/** etcdserverpb.WatchCreateRequest.FilterType: NOPUT(0) drops PUTs, NODELETE(1) drops DELETEs. */
export type WatchFilter = "NOPUT" | "NODELETE";

/** etcdserverpb.WatchCreateRequest, decoded. */
export interface WatchCreateRequest {
  /** Empty means "\0" (the smallest key). */
  readonly key: Uint8Array;
  /** Range rules: empty = `key` only, "\0" = every key >= `key`, else [key, rangeEnd). */
  readonly rangeEnd: Uint8Array;
  /** 0 = current + 1; <= current replays history from it, inclusive; > current waits. */
  readonly startRevision: number;
  readonly progressNotify: boolean;
  readonly filters: readonly WatchFilter[];
  readonly prevKv: boolean;
  /** 0 = auto-assign from the stream's counter; otherwise the client's choice. */
  readonly watchId: number;
  readonly fragment: boolean;
}

/** A create request with every optional field at its proto default. */
export function watchCreateRequest(fields: Partial<WatchCreateRequest>): WatchCreateRequest {
  return {
    key: new Uint8Array(0), rangeEnd: new Uint8Array(0), startRevision: 0,
    progressNotify: false, filters: [], prevKv: false, watchId: 0, fragment: false,
    ...fields,
  };
}

/** etcdserverpb.WatchResponse; the service fills the header's cluster, member and term. */
export interface WatchResponse {
  readonly watchId: number;
  /** The response header's revision (0 on a compaction cancel, as etcd). */
  readonly headerRevision: number;
  readonly created: boolean;
  readonly canceled: boolean;
  /** Non-zero only on a compaction cancel: the store's compaction revision. */
  readonly compactRevision: number;
  /** Empty unless a create failed. */
  readonly cancelReason: string;
  /** True on every fragment but the last of a split response. */
  readonly fragment: boolean;
  /** Ascending revision order; a revision's events are never split unless fragmenting. */
  readonly events: readonly MvccEvent[];
}

/** A response with every field but those given at its proto default. */
export function watchResponse(fields: Partial<WatchResponse>): WatchResponse {
  return {
    watchId: 0, headerRevision: 0, created: false, canceled: false, compactRevision: 0,
    cancelReason: "", fragment: false, events: [], ...fields,
  };
}

/** The cancel reasons etcd sends on a failed create (observed on etcd 3.4). */
export const cancelReasonEmptyRange = "mvcc: watcher range is empty";
export const cancelReasonDuplicateId = "mvcc: duplicate watch ID provided on the WatchStream";

/**
 * What a stream reads history from; `MvccStore` is one. `events` errs (ETCD_COMPACTED) when
 * `fromRevision` is below `compactRevision`.
 */
export interface WatchSource {
  readonly revision: number;
  readonly compactRevision: number;
  events(
    fromRevision: number,
    revisionsMax: number,
    withPrevKv: boolean,
  ): Result<readonly RevisionEvents[], unknown>;
}
