/** Splitting a large watch response into fragments (etcd-api.md §6 "Fragment"). */
import { limits } from "../../common/index.js";

const { etcdWatchFragmentBytes } = limits;
import type { KeyValue, MvccEvent } from "../mvcc/index.js";

/** Bytes of a KeyValue's fixed fields on the wire, at most (six tagged varints). */
const kvOverheadBytes = 6 * 11;

function kvBytes(kv: KeyValue): number {
  return kv.key.length + kv.value.length + kvOverheadBytes;
}

/** An upper estimate of an event's encoded size. */
export function eventBytes(event: MvccEvent): number {
  return kvBytes(event.kv) + (event.prevKv === undefined ? 0 : kvBytes(event.prevKv)) + 8;
}

/**
 * `events` as one group, or (when the total is >= the fragment size and there are >= 2 events)
 * as consecutive groups each below it or of one event. Order is kept; nothing is dropped.
 */
export function fragmentEvents(events: readonly MvccEvent[]): (readonly MvccEvent[])[] {
  const total = events.reduce((sum, event) => sum + eventBytes(event), 0);
  if (events.length < 2 || total < etcdWatchFragmentBytes) return [events];
  const groups: MvccEvent[][] = [];
  let current: MvccEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = eventBytes(event);
    if (current.length > 0 && bytes + size >= etcdWatchFragmentBytes) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  groups.push(current);
  return groups;
}
