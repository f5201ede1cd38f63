/**
 * Goal: MemoryStorage honours the Storage contract (half-open ranges, byte limits with at least
 * one entry, Compacted/Unavailable errors, conflict truncation, snapshots and compaction) and
 * validateConfig refuses bad configurations. Method: direct calls on small logs.
 */
import test from "ava";
import type { LogIndex, NodeId } from "../../pkg/common/index.js";
import { MemoryStorage, StorageError, validateConfig } from "../../pkg/raft/index.js";
import { entry, id } from "./harness.js";

const i = (n: number): LogIndex => n as LogIndex;
const conf = { voters: [id(1)], learners: [] as NodeId[] };

function storageWith(terms: number[]): MemoryStorage {
  const s = new MemoryStorage(conf);
  s.append(terms.map((t, k) => entry(k + 1, t, "x".repeat(10))));
  return s;
}

test("entries are served in [lo, hi) within the byte limit, at least one", (t) => {
  const s = storageWith([1, 1, 2, 2]);
  const all = s.entries(i(1), i(5), Infinity);
  t.deepEqual(all.ok ? all.value.map((e) => e.index) : [], [1, 2, 3, 4]);
  const limited = s.entries(i(1), i(5), 25);
  t.deepEqual(limited.ok ? limited.value.map((e) => e.index) : [], [1, 2]);
  const one = s.entries(i(2), i(5), 0);
  t.deepEqual(one.ok ? one.value.map((e) => e.index) : [], [2]);
  t.deepEqual(s.entries(i(1), i(6), Infinity), { ok: false, error: StorageError.Unavailable });
  t.deepEqual(s.term(i(5)), { ok: false, error: StorageError.Unavailable });
  t.deepEqual(s.term(i(0)), { ok: true, value: 0 });
});

test("append replaces a conflicting tail and refuses a gap", (t) => {
  const s = storageWith([1, 1, 1]);
  s.append([entry(2, 3), entry(3, 3), entry(4, 3)]);
  t.is(Number(s.lastIndex()), 4);
  t.deepEqual(s.term(i(2)), { ok: true, value: 3 });
  s.append([entry(2, 4)]);
  t.is(Number(s.lastIndex()), 2, "entries after a replaced one are gone");
  t.throws(() => { s.append([entry(9, 4)]); }, { message: /gap/ });
});

test("snapshots and compaction keep the term of the compacted boundary", (t) => {
  const s = storageWith([1, 2, 3, 4, 5]);
  const snap = s.createSnapshot(i(3), conf, new Uint8Array([7]));
  t.true(snap.ok);
  t.true(s.compact(i(3)).ok);
  t.is(Number(s.firstIndex()), 4);
  t.deepEqual(s.term(i(3)), { ok: true, value: 3 });
  t.deepEqual(s.term(i(2)), { ok: false, error: StorageError.Compacted });
  t.deepEqual(s.entries(i(3), i(5), Infinity), { ok: false, error: StorageError.Compacted });
  t.deepEqual(s.compact(i(3)), { ok: false, error: StorageError.Compacted });
  t.deepEqual(s.createSnapshot(i(2), conf, new Uint8Array()), { ok: false, error: StorageError.Compacted });
  // Appending entries partly below the compaction point keeps only the new tail.
  s.append([entry(3, 3), entry(4, 4), entry(5, 6)]);
  t.deepEqual(s.term(i(5)), { ok: true, value: 6 });
  const applied = s.applySnapshot({ metadata: { index: i(10), term: 7 as never, confState: conf }, data: new Uint8Array() });
  t.true(applied.ok);
  t.is(Number(s.firstIndex()), 11);
  t.is(Number(s.lastIndex()), 10);
  t.deepEqual(s.applySnapshot({ metadata: { index: i(9), term: 7 as never, confState: conf }, data: new Uint8Array() }),
    { ok: false, error: StorageError.Compacted });
  t.deepEqual(s.initialState().confState, conf);
});

test("validateConfig fills defaults and refuses bad combinations", (t) => {
  const base = { id: id(1), electionTicks: 10, heartbeatTicks: 1, storage: new MemoryStorage(conf), seed: 1 };
  const resolved = validateConfig(base);
  t.true(resolved.ok);
  if (resolved.ok) {
    t.true(resolved.value.preVote);
    t.true(resolved.value.checkQuorum);
    t.is(resolved.value.maxInflightMessages, 512);
  }
  const bad: [string, object][] = [
    ["id", { id: id(0) }],
    ["heartbeat", { heartbeatTicks: 10 }],
    ["election", { electionTicks: 0 }],
    ["maxMessageBytes", { maxMessageBytes: 0 }],
    ["maxInflightMessages", { maxInflightMessages: -1 }],
    ["maxInflightBytes", { maxInflightBytes: 10, maxMessageBytes: 100 }],
    ["maxUncommittedBytes", { maxUncommittedBytes: 0 }],
    ["applied", { applied: -1 }],
  ];
  for (const [what, override] of bad) {
    const result = validateConfig({ ...base, ...override });
    t.false(result.ok, what);
  }
});
