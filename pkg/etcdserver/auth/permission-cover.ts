/**
 * Whether a set of permissions covers a key or a key range, by etcd 3.4's rules
 * (auth/range_perm_cache.go with pkg/adt's "bytes affine" intervals):
 *
 * - A permission with an empty `rangeEnd` is the one key `key`; with `rangeEnd` "\0" it is every
 *   key >= `key`; otherwise it is [key, rangeEnd). One whose end is at or below its start holds
 *   nothing.
 * - A request with an empty `rangeEnd` (one key) is allowed when some permission holds the key.
 * - A request for [key, rangeEnd) ("\0" = no upper bound) is allowed when the union of the
 *   permissions covers every key of it, across roles and across adjacent permissions
 *   ([a, b) and [b, c) cover [a, c)). A request whose end is at or below its key (which reads
 *   nothing) is judged as etcd's interval tree judges it: allowed when its key is held.
 *
 * Bounds compare bytewise; an empty bound stands for +infinity, as in pkg/adt, so an empty key
 * is never held. Pure.
 */
import { compareBytes } from "../mvcc/index.js";

/** One permission as an interval: `end` empty means +infinity. */
export interface KeyInterval {
  readonly begin: Uint8Array;
  readonly end: Uint8Array;
}

/** pkg/adt BytesAffineComparable: bytewise, with the empty string above every other. */
export function compareAffine(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return compareBytes(a, b);
}

function isNoBound(bytes: Uint8Array): boolean {
  return bytes.length === 1 && bytes[0] === 0;
}

/** The key right after `key` in byte order: key + "\0". */
function keySuccessor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key, 0);
  return next;
}

/** The interval a permission holds (see the module comment). */
export function permissionInterval(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval {
  if (rangeEnd.length === 0) return { begin: key, end: keySuccessor(key) };
  if (isNoBound(rangeEnd)) return { begin: key, end: new Uint8Array(0) };
  return { begin: key, end: rangeEnd };
}

/** True when `interval` holds `key`. */
export function intervalHolds(interval: KeyInterval, key: Uint8Array): boolean {
  return compareAffine(interval.begin, key) <= 0 && compareAffine(key, interval.end) < 0;
}

/**
 * True when `intervals` allow a request for `key` and `rangeEnd` (see the module comment).
 * O(n log n) in the number of intervals.
 */
export function intervalsCover(
  intervals: readonly KeyInterval[],
  key: Uint8Array,
  rangeEnd: Uint8Array,
): boolean {
  const requestEnd = isNoBound(rangeEnd) ? new Uint8Array(0) : rangeEnd;
  if (rangeEnd.length === 0 || compareAffine(requestEnd, key) <= 0) {
    return intervals.some((interval) => intervalHolds(interval, key));
  }
  const usable = intervals
    .filter((interval) => compareAffine(interval.begin, interval.end) < 0)
    .sort((a, b) => compareAffine(a.begin, b.begin));
  let covered = key; // Every key in [key, covered) is held.
  for (const interval of usable) {
    if (compareAffine(covered, requestEnd) >= 0) break;
    if (compareAffine(interval.begin, covered) > 0) return false; // A gap at `covered`.
    if (compareAffine(interval.end, covered) > 0) covered = interval.end;
  }
  return compareAffine(covered, requestEnd) >= 0;
}
