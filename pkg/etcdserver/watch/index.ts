/** pkg/etcdserver/watch: the transport-independent etcd Watch hub (etcd-api.md §6). */
export {
  type WatchFilter,
  type WatchCreateRequest,
  type WatchResponse,
  type WatchSource,
  watchCreateRequest,
  watchResponse,
  cancelReasonEmptyRange,
  cancelReasonDuplicateId,
} from "./watch-types.js";
export { encodeWatchResponse } from "./watch-response-codec.js";
export { type WatchRange, watchRange, inWatchRange } from "./watch-range.js";
export { WatchStream } from "./watch-stream.js";
export { type WatchHubOptions, WatchHub } from "./watch-hub.js";
