// Scripted edge cases for the differential test: requests that random generation reaches
// rarely or never (limits, int64 extremes, compaction at 0, the ordering quirks of etcd's
// duplicate-key check), as wire objects, in order, starting from a fresh store.
import type { WireOp } from "./kv-wire-generator.js";

const k = (text: string): Buffer => Buffer.from(text, "latin1");
const ranges = (count: number): Record<string, unknown>[] =>
  Array.from({ length: count }, (_, i) => ({ request_range: { key: k(`r${i}`) } }));
const put = (key: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ request_put: { key: k(key), value: k("v"), ...extra } });
const del = (key: string, rangeEnd?: string): Record<string, unknown> =>
  ({ request_delete_range: rangeEnd === undefined ? { key: k(key) } : { key: k(key), range_end: k(rangeEnd) } });
const txn = (fields: Record<string, unknown>): Record<string, unknown> => ({ request_txn: fields });

/** The scripted requests. */
export const kvEdgeCases: readonly WireOp[] = [
  { method: "Compact", request: { revision: "0" } },
  { method: "Compact", request: { revision: "0" } },
  { method: "Compact", request: { revision: "-1" } },
  { method: "Compact", request: { revision: "2" } },
  { method: "Range", request: { key: k("a"), revision: "9223372036854775807" } },
  { method: "Range", request: { key: k("a"), revision: "-9223372036854775808" } },
  { method: "Put", request: { key: k("a"), value: k("1"), lease: "-5" } },
  { method: "Put", request: { key: k("a"), value: k("1") } },
  { method: "Put", request: { key: k("b"), value: k("2"), lease: "4096" } },
  { method: "Compact", request: { revision: "1" } },
  { method: "Range", request: { key: k("\0"), range_end: k("\0"), limit: "9223372036854775807" } },
  { method: "Range", request: { key: k("\0"), range_end: k("\0"), limit: "-9223372036854775808" } },
  { method: "Range", request: { key: k("a"), range_end: k("\0"), sort_order: 2, sort_target: 4 } },
  { method: "Txn", request: { success: ranges(128) } },
  { method: "Txn", request: { failure: ranges(129) } },
  { method: "Txn", request: { compare: Array.from({ length: 129 }, () => ({ key: k("a") })) } },
  { method: "Txn", request: { success: [...ranges(100), txn({ success: ranges(27) })] } },
  { method: "Txn", request: { success: [...ranges(100), txn({ success: ranges(28) })] } },
  { method: "Txn", request: { success: [{}] } },
  { method: "Txn", request: { success: [txn({ success: [put("x")] }), txn({ success: [del("x")] })] } },
  { method: "Txn", request: { success: [txn({ success: [del("x")] }), txn({ success: [put("x")] })] } },
  { method: "Txn", request: { success: [put("x"), txn({ failure: [del("w", "y")] })] } },
  { method: "Txn", request: { success: [del("a", "\0"), put("b")] } },
  { method: "Txn", request: { success: [del("c", "a"), put("b")] } },
  { method: "Txn", request: { success: [put("a"), { request_range: { key: k("a"), revision: "7" } }] } },
  { method: "Txn", request: { success: [put("q", { ignore_lease: true })] } },
  { method: "Txn", request: { success: [put("b", { ignore_lease: true, ignore_value: true, value: k("") })] } },
  {
    method: "Txn",
    request: {
      compare: [
        { key: k("b"), target: "LEASE", result: "EQUAL", version: "3" },
        { key: k("b"), target: "VALUE", result: "EQUAL", lease: "4096" },
      ],
      success: [put("s")], failure: [put("f")],
    },
  },
  {
    method: "Txn",
    request: {
      compare: [{ key: k("b"), target: "VALUE", result: "GREATER", value: k("") }],
      success: [put("s2")], failure: [put("f2")],
    },
  },
  { method: "DeleteRange", request: { key: k("\0"), range_end: k("\0"), prev_kv: true } },
  { method: "Txn", request: { success: [del("a"), del("a", "\0")] } },
  { method: "Range", request: { key: k("a"), revision: "3" } },
];
