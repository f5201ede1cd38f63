/**
 * Byte-string ordering and etcd's key-range rules (etcd-api.md §5): keys order bytewise
 * unsigned; a range is (key, rangeEnd) where an empty rangeEnd means the key alone, "\0"
 * means every key >= key, and otherwise the half-open [key, rangeEnd) (empty when
 * rangeEnd <= key).
 */

/** Bytewise unsigned comparison: negative, zero or positive as a <, =, > b. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** True when `bytes` is the one-byte "\0" that means "no upper bound". */
export function isUnbounded(bytes: Uint8Array): boolean {
  return bytes.length === 1 && bytes[0] === 0;
}

/**
 * A resolved key range: `end` null means the single key `start`; `end` "unbounded" means
 * every key >= start; otherwise [start, end).
 */
export interface KeyRange {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null | "unbounded";
}

/** Resolves a request's key and range_end into a KeyRange. */
export function keyRange(key: Uint8Array, rangeEnd: Uint8Array): KeyRange {
  if (rangeEnd.length === 0) return { start: key, end: null };
  if (isUnbounded(rangeEnd)) return { start: key, end: "unbounded" };
  return { start: key, end: rangeEnd };
}

/** True when `key` lies in `range`. */
export function rangeContains(range: KeyRange, key: Uint8Array): boolean {
  const fromStart = compareBytes(key, range.start);
  if (range.end === null) return fromStart === 0;
  if (range.end === "unbounded") return fromStart >= 0;
  return fromStart >= 0 && compareBytes(key, range.end) < 0;
}

/**
 * True when `key` lies in a delete range as etcd 3.4's txn duplicate-key check sees it
 * (v3rpc/key.go checkIntervals): the range_end bytes are taken literally, so a "\0" end or an
 * end <= key makes an interval that contains nothing.
 */
export function literalIntervalContains(
  start: Uint8Array,
  rangeEnd: Uint8Array,
  key: Uint8Array,
): boolean {
  if (rangeEnd.length === 0) return compareBytes(key, start) === 0;
  return compareBytes(key, start) >= 0 && compareBytes(key, rangeEnd) < 0;
}
