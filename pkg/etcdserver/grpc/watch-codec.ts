/** The Watch service's request codec: etcdserverpb.WatchRequest → a typed request. */
import {
  type WatchCreateRequest,
  type WatchFilter,
  watchCreateRequest,
} from "../watch/index.js";
import {
  type WireMessage,
  WireFieldError,
  boolField,
  bytesField,
  clampedInt64Field,
  optionalMessage,
} from "../wire-fields.js";

/** One request on a Watch stream; "none" when no member of the oneof is set. */
export type WatchRequestDecoded =
  | { readonly type: "create"; readonly request: WatchCreateRequest }
  | { readonly type: "cancel"; readonly watchId: number }
  | { readonly type: "progress" }
  | { readonly type: "none" };

const filterNames: readonly WatchFilter[] = ["NOPUT", "NODELETE"];

function filterOf(value: unknown): WatchFilter {
  const byNumber = typeof value === "number" ? filterNames[value] : undefined;
  if (byNumber !== undefined) return byNumber;
  if (typeof value === "string") {
    const byName = filterNames.find((name) => name === value.toUpperCase());
    if (byName !== undefined) return byName;
  }
  throw new WireFieldError("filters has an unknown value");
}

function filtersOf(message: WireMessage): WatchFilter[] {
  const value = message["filters"];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new WireFieldError("filters is not a list");
  return value.map(filterOf);
}

/**
 * etcd replays from the oldest history for a negative start revision (below any compaction
 * it is refused as compacted), which is what starting at revision 1 does.
 */
function startRevisionOf(value: number): number {
  return value < 0 ? 1 : value;
}

/** Decodes a WatchCreateRequest; etcd ignores unknown filter values, we refuse them. */
export function decodeWatchCreate(message: WireMessage): WatchCreateRequest {
  return watchCreateRequest({
    key: bytesField(message, "key"),
    rangeEnd: bytesField(message, "range_end"),
    startRevision: startRevisionOf(clampedInt64Field(message, "start_revision")),
    progressNotify: boolField(message, "progress_notify"),
    filters: filtersOf(message),
    prevKv: boolField(message, "prev_kv"),
    watchId: clampedInt64Field(message, "watch_id"),
    fragment: boolField(message, "fragment"),
  });
}

/** Decodes a WatchRequest. Throws WireFieldError on a malformed field. */
export function decodeWatchRequest(message: WireMessage): WatchRequestDecoded {
  const create = optionalMessage(message, "create_request");
  if (create !== null) return { type: "create", request: decodeWatchCreate(create) };
  const cancel = optionalMessage(message, "cancel_request");
  if (cancel !== null) return { type: "cancel", watchId: clampedInt64Field(cancel, "watch_id") };
  if (optionalMessage(message, "progress_request") !== null) return { type: "progress" };
  return { type: "none" };
}
