/** The proto shape (etcdserverpb.WatchResponse, keepCase) of a domain `WatchResponse`. */
import { type HeaderFill, encodeEvent, encodeHeader } from "../kv-response-codec.js";
import { revision } from "../../common/index.js";
import { int64Wire } from "../wire-fields.js";
import type { WatchResponse } from "./watch-types.js";

/** etcdserverpb.WatchResponse, int64s as decimal strings; `fill` as for the KV responses. */
export function encodeWatchResponse(response: WatchResponse, fill?: HeaderFill): object {
  return {
    header: encodeHeader({ revision: revision(response.headerRevision) }, fill),
    watch_id: int64Wire(response.watchId),
    created: response.created,
    canceled: response.canceled,
    compact_revision: int64Wire(response.compactRevision),
    cancel_reason: response.cancelReason,
    fragment: response.fragment,
    events: response.events.map(encodeEvent),
  };
}
