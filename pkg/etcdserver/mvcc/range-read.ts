/**
 * The read half of etcd's Range (etcdserver/apply.go Range over mvcc rangeKeys), as a pure
 * function of the key index: revision checks, count, min/max filters, sort and limit.
 */
import { EtcdError, type Result, assert, err, ok, revision } from "../../common/index.js";
import type { KeyIndex } from "./key-index.js";
import { compareBytes, keyRange } from "./key-range.js";
import type { KeyValue } from "./key-value.js";
import type { RangeRequest, SortTarget } from "./kv-requests.js";
import type { RangeResponse } from "./kv-responses.js";

/**
 * The revision a read at `requested` sees, given the reader's current revision: <= 0 means
 * current. Errors: above current → ETCD_FUTURE_REV (checked first); below the compaction
 * revision → ETCD_COMPACTED. The compaction revision itself is readable.
 */
export function readRevision(
  requested: number,
  current: number,
  compacted: number,
): Result<number, EtcdError> {
  if (requested > current) return err(new EtcdError("ETCD_FUTURE_REV"));
  const at = requested <= 0 ? current : requested;
  if (at < compacted) return err(new EtcdError("ETCD_COMPACTED"));
  return ok(at);
}

/** The live versions of the keys in [key, rangeEnd) as of `at`, in key order. */
export function kvsAt(
  index: KeyIndex,
  key: Uint8Array,
  rangeEnd: Uint8Array,
  at: number,
): KeyValue[] {
  const kvs: KeyValue[] = [];
  for (const history of index.inRange(keyRange(key, rangeEnd))) {
    const kv = history.kvAt(at);
    if (kv !== undefined) kvs.push(kv);
  }
  return kvs;
}

function sortValue(kv: KeyValue, target: Exclude<SortTarget, "KEY" | "VALUE">): number {
  switch (target) {
    case "VERSION":
      return kv.version;
    case "CREATE":
      return kv.createRevision;
    case "MOD":
      return kv.modRevision;
  }
}

/**
 * Sorts as etcd does: a target other than KEY with order NONE sorts ASCEND. The sort is
 * stable and DESCEND reverses the comparison, so ties keep key order in both directions,
 * which is what etcd's sort.Sort (insertion sort up to 12 items) gives; above 12 items etcd's
 * order of ties is unspecified.
 */
function sortKvs(kvs: KeyValue[], request: RangeRequest): KeyValue[] {
  const order = request.sortTarget !== "KEY" && request.sortOrder === "NONE"
    ? "ASCEND"
    : request.sortOrder;
  if (order === "NONE") return kvs;
  const target = request.sortTarget;
  const ascending = (a: KeyValue, b: KeyValue): number => {
    if (target === "KEY") return compareBytes(a.key, b.key);
    if (target === "VALUE") return compareBytes(a.value, b.value);
    return sortValue(a, target) - sortValue(b, target);
  };
  const direction = order === "ASCEND" ? 1 : -1;
  return kvs.sort((a, b) => direction * ascending(a, b));
}

/**
 * How many keys (in key order) etcd reads before filtering and sorting: limit + 1 when the
 * request has a limit, order NONE and no filters, else all. So with a sort target other than
 * KEY and order NONE, etcd sorts only the first limit + 1 keys (observed).
 */
function fetchLimit(request: RangeRequest): number | undefined {
  const filtered = request.minModRevision !== 0 || request.maxModRevision !== 0 ||
    request.minCreateRevision !== 0 || request.maxCreateRevision !== 0;
  if (request.sortOrder !== "NONE" || filtered || request.limit <= 0) return undefined;
  return request.limit + 1;
}

function passesFilters(kv: KeyValue, request: RangeRequest): boolean {
  if (request.maxModRevision !== 0 && kv.modRevision > request.maxModRevision) return false;
  if (request.minModRevision !== 0 && kv.modRevision < request.minModRevision) return false;
  if (request.maxCreateRevision !== 0 && kv.createRevision > request.maxCreateRevision) {
    return false;
  }
  if (request.minCreateRevision !== 0 && kv.createRevision < request.minCreateRevision) {
    return false;
  }
  return true;
}

/**
 * Runs a Range against `index` for a reader whose current revision is `current` (the store's,
 * or inside a write txn its revision after the writes so far). The header carries `current`.
 * `count` counts the keys in the range before filters and limit; `more` is true when the limit
 * cut the filtered, sorted result. Errors as `readRevision`.
 */
export function rangeRead(
  index: KeyIndex,
  request: RangeRequest,
  current: number,
  compacted: number,
): Result<RangeResponse, EtcdError> {
  const at = readRevision(request.revision, current, compacted);
  if (!at.ok) return at;
  const header = { revision: revision(current) };
  const all = kvsAt(index, request.key, request.rangeEnd, at.value);
  const count = all.length;
  if (request.countOnly) return ok({ header, kvs: [], more: false, count });
  let kvs = sortKvs(all.filter((kv) => passesFilters(kv, request)).slice(0, fetchLimit(request)),
    request);
  let more = false;
  if (request.limit > 0 && kvs.length > request.limit) {
    kvs = kvs.slice(0, request.limit);
    more = true;
  }
  if (request.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
  assert(kvs.length <= count, () => `range returned ${kvs.length} kvs of ${count} counted`);
  return ok({ header, kvs, more, count });
}
