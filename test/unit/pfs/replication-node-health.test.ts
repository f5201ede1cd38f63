// Goal: node health follows the store: a node with its lease key is online, one without it is
// offline until the dead time has passed since its offline record, then faulty; the record is
// created once (first sighting), kept across controllers (a second decider given the stored
// records keeps the original clock), and deleted when the node comes back.
// Method: the pure decision driven by an injected simulated clock (pkg/common SimulatedClock),
// applying each outcome's record writes to an in-memory store as the controller would.
import test from "ava";
import { SimulatedClock } from "../../../pkg/common/index.js";
// pkg/pfs/index.ts does not re-export the replication module yet.
// eslint-disable-next-line pfs/boundaries
import {
  type NodeHealthOutcome, type OfflineRecord, decideNodeHealth, decodeOfflineRecord,
  encodeOfflineRecord, nodeStateOf,
} from "../../../pkg/pfs/replication/index.js";

const deadTimeMs = 30_000;

/** What the controller does with an outcome: apply the record writes to the store. */
function applyRecords(store: Map<string, OfflineRecord>, outcome: NodeHealthOutcome): void {
  for (const [node, record] of outcome.recordsToPut) store.set(node, record);
  for (const node of outcome.recordsToDelete) store.delete(node);
}

test("online, offline, faulty and back, on an injected clock", (t) => {
  const clock = new SimulatedClock(0, 1_700_000_000_000);
  const store = new Map<string, OfflineRecord>();
  const live = new Set(["a", "b", "c"]);
  const decide = (): NodeHealthOutcome => {
    const outcome = decideNodeHealth({ live, records: store, mapped: new Set(["a", "b", "c"]),
      nowWallMs: clock.wallMs(), deadTimeMs });
    applyRecords(store, outcome);
    return outcome;
  };
  let outcome = decide();
  t.deepEqual([...outcome.states], [["a", "online"], ["b", "online"], ["c", "online"]]);
  t.is(outcome.nextChangeWallMs, undefined);
  t.is(store.size, 0);

  live.delete("b");
  const wentAt = clock.wallMs();
  outcome = decide();
  t.is(outcome.states.get("b"), "offline");
  t.deepEqual(store.get("b"), { offlineSinceWallMs: wentAt });
  t.is(outcome.nextChangeWallMs, wentAt + deadTimeMs);

  clock.advance(deadTimeMs - 1);
  outcome = decide();
  t.is(outcome.states.get("b"), "offline", "one millisecond short of the dead time");
  t.is(outcome.recordsToPut.size, 0, "the record is written once");
  t.deepEqual(store.get("b"), { offlineSinceWallMs: wentAt }, "the clock is not reset");

  clock.advance(1);
  outcome = decide();
  t.is(outcome.states.get("b"), "faulty");
  t.is(outcome.nextChangeWallMs, undefined);
  t.true(store.has("b"), "a faulty node keeps its record");

  live.add("b");
  outcome = decide();
  t.is(outcome.states.get("b"), "online");
  t.deepEqual(outcome.recordsToDelete, ["b"]);
  t.false(store.has("b"));
});

test("a new controller continues the stored clock; unknown nodes are not invented", (t) => {
  const clock = new SimulatedClock(0, 1_000_000);
  const store = new Map<string, OfflineRecord>();
  // controller 1 sees node x go offline, then is replaced 20 s later
  applyRecords(store, decideNodeHealth({ live: new Set(["y"]), records: store,
    mapped: new Set(["x", "y"]), nowWallMs: clock.wallMs(), deadTimeMs }));
  clock.advance(20_000);
  // controller 2 knows x only from the stored record (x is no longer in the map it read)
  const second = decideNodeHealth({ live: new Set(["y"]), records: store, mapped: new Set(),
    nowWallMs: clock.wallMs(), deadTimeMs });
  t.is(second.states.get("x"), "offline");
  t.is(second.recordsToPut.size, 0);
  t.is(second.nextChangeWallMs, 1_000_000 + deadTimeMs, "faulty 10 s later, not 30 s");
  clock.advance(10_000);
  t.is(decideNodeHealth({ live: new Set(["y"]), records: store, mapped: new Set(),
    nowWallMs: clock.wallMs(), deadTimeMs }).states.get("x"), "faulty");
  t.deepEqual([...second.states.keys()], ["x", "y"]);
});

test("a wall clock that steps back never makes a node faulty sooner", (t) => {
  const record = { offlineSinceWallMs: 50_000 };
  t.is(nodeStateOf(false, record, 40_000, deadTimeMs), "offline");
  t.is(nodeStateOf(false, record, 79_999, deadTimeMs), "offline");
  t.is(nodeStateOf(false, record, 80_000, deadTimeMs), "faulty");
  t.is(nodeStateOf(false, undefined, 80_000, deadTimeMs), "offline", "no record: offline now");
  t.is(nodeStateOf(true, record, 99_999_999, deadTimeMs), "online");
});

test("the record codec round-trips and refuses malformed records", (t) => {
  t.deepEqual(decodeOfflineRecord(encodeOfflineRecord({ offlineSinceWallMs: 123 })),
    { ok: true, value: { offlineSinceWallMs: 123 } });
  for (const text of ["", "{}", "7", '{"offlineSinceWallMs":-1}', '{"offlineSinceWallMs":1.5}',
    '{"offlineSinceWallMs":"1"}']) {
    t.false(decodeOfflineRecord(text).ok, text);
  }
});
