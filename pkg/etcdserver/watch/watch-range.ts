/** The key range of one watcher and the selection of the events it is sent. */
import { compareBytes, type MvccEvent } from "../mvcc/index.js";
import type { WatchFilter } from "./watch-types.js";

/** [key, end): `end` null = `key` alone; `end` empty = every key >= `key`. */
export interface WatchRange {
  readonly key: Uint8Array;
  readonly end: Uint8Array | null;
}

/**
 * The range of a create request, or null when it is empty (key >= a non-"\0" range_end), as
 * etcd: an empty key is "\0", range_end "\0" means "to the end of the keyspace".
 */
export function watchRange(key: Uint8Array, rangeEnd: Uint8Array): WatchRange | null {
  const start = key.length === 0 ? new Uint8Array([0]) : key;
  if (rangeEnd.length === 0) return { key: start, end: null };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key: start, end: new Uint8Array(0) };
  if (compareBytes(start, rangeEnd) >= 0) return null;
  return { key: start, end: rangeEnd };
}

/** Whether `key` is in `range`. */
export function inWatchRange(range: WatchRange, key: Uint8Array): boolean {
  if (range.end === null) return compareBytes(range.key, key) === 0;
  if (compareBytes(key, range.key) < 0) return false;
  return range.end.length === 0 || compareBytes(key, range.end) < 0;
}

/** What a watcher is sent of a list of events. */
export interface EventSelection {
  readonly range: WatchRange;
  readonly filters: readonly WatchFilter[];
  readonly prevKv: boolean;
}

/** The events in range and not filtered out, prevKv removed unless asked for; order kept. */
export function selectEvents(
  selection: EventSelection,
  events: readonly MvccEvent[],
): MvccEvent[] {
  const noPut = selection.filters.includes("NOPUT");
  const noDelete = selection.filters.includes("NODELETE");
  const selected: MvccEvent[] = [];
  for (const event of events) {
    if (event.type === "PUT" ? noPut : noDelete) continue;
    if (!inWatchRange(selection.range, event.kv.key)) continue;
    if (selection.prevKv || event.prevKv === undefined) selected.push(event);
    else selected.push({ type: event.type, kv: event.kv });
  }
  return selected;
}
