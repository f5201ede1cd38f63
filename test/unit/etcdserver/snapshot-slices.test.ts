// Goal: a snapshot made in slices (over turns of the event loop, while the member keeps
// applying) is byte for byte the snapshot of the state at the moment it was asked for (its
// size known from per-key counters kept through puts, deletes and compactions) —
// writes that apply while it is being encoded are not in it — and the pieces written to a
// snapshot file in slices make the same file as the one-shot encoder.
// Method: seeded random puts, deletes, lease grants and a compaction on an EtcdStateMachine;
// snapshotInSlices is called, more writes apply before it resolves, and its bytes are
// compared with a snapshot() taken at the call; restoring them answers at the old revision.
import { crc32 } from "node:zlib";
import test from "ava";
import {
  MemoryLogger, Prng, SimulatedClock, crc32InSlices, leaseId, nodeId,
} from "../../../pkg/common/index.js";
import {
  EtcdStateMachine, deleteRangeRequest, putRequest, type ApplyResult,
} from "../../../pkg/etcdserver/index.js";
import { encodeSnapshotFile, encodeSnapshotFileInSlices } from "../../../pkg/raftnode/index.js";

const seed = 20261130;
const keys = 200;

function machine(): EtcdStateMachine {
  return new EtcdStateMachine({
    lease: { ttlSecondsMin: 2 },
    initialMembers: [{ id: nodeId(1n), name: "m1", peerUrls: ["http://a:1"], clientUrls: [],
      isLearner: false }],
    clock: new SimulatedClock(), logger: new MemoryLogger(),
  });
}

function ok(result: ApplyResult): void {
  if (!result.ok) throw result.error;
}

/** `count` seeded random writes: puts with and without a lease, deletes, one compaction. */
function writeRandomly(sm: EtcdStateMachine, prng: Prng, count: number): void {
  for (let i = 0; i < count; i += 1) {
    const key = Buffer.from(`key-${prng.intBelow(keys)}`);
    const roll = prng.intBelow(10);
    if (roll === 0) {
      ok(sm.applyRequest({ type: "deleteRange", request: deleteRangeRequest({ key }) }));
    } else {
      const value = Buffer.alloc(prng.intBelow(300), prng.intBelow(256));
      ok(sm.applyRequest({ type: "put", request: putRequest({ key, value,
        lease: leaseId(roll === 1 ? 9n : 0n) }) }));
    }
  }
}

test("snapshotInSlices gives the bytes of the state at the call, not later", async (t) => {
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  const sm = machine();
  ok(sm.applyRequest({ type: "leaseGrant", id: leaseId(9n), ttlSeconds: 60n }));
  writeRandomly(sm, prng, 3_000);
  ok(sm.applyRequest({ type: "compact", request: { revision: 1_000, physical: false } }));
  writeRandomly(sm, prng, 1_000);
  // Each history keeps its encoded size as entries come and go; the encoder asserts that the
  // sum is exactly what it writes, so compactions in between are part of the check.
  ok(sm.applyRequest({ type: "compact", request: { revision: 3_500, physical: false } }));
  writeRandomly(sm, prng, 300);
  const expected = Buffer.from(sm.snapshot());
  const revision = sm.store.revision;
  // Tiny slices: the encoding takes many turns, and writes apply in between.
  const pending = sm.snapshotInSlices(4_096);
  writeRandomly(sm, prng, 500);
  ok(sm.applyRequest({ type: "leaseRevoke", id: leaseId(9n) }));
  const sliced = Buffer.from(await pending);
  t.true(sm.store.revision > revision, "writes applied while the snapshot was made");
  t.is(sliced.length, expected.length);
  t.true(sliced.equals(expected), "the sliced snapshot equals the snapshot at the call");
  const restored = machine();
  restored.restore(sliced);
  t.is(restored.store.revision, revision);
  t.true(Buffer.from(restored.snapshot()).equals(expected), "restore → snapshot round trips");
});

test("crc32InSlices equals crc32 for every slice size and start value", async (t) => {
  const prng = new Prng(seed + 1);
  const bytes = Buffer.alloc(10_000);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = prng.intBelow(256);
  for (const slice of [1, 7, 4_096, 9_999, 10_000, 1 << 20]) {
    t.is(await crc32InSlices(bytes, slice), crc32(bytes), `slice ${slice}`);
    t.is(await crc32InSlices(bytes, slice, 12345), crc32(bytes, 12345), `slice ${slice}, start`);
  }
  t.is(await crc32InSlices(new Uint8Array(0), 16), crc32(new Uint8Array(0)));
});

test("a snapshot file written in pieces is the one-shot encoder's file", async (t) => {
  const prng = new Prng(seed + 2);
  const data = Buffer.alloc(100_000);
  for (let i = 0; i < data.length; i += 1) data[i] = prng.intBelow(256);
  const snapshot = {
    metadata: { index: 1234 as never, term: 5 as never,
      confState: { voters: [nodeId(1n), nodeId(2n)], learners: [nodeId(3n)] } },
    data,
  };
  const whole = Buffer.from(encodeSnapshotFile(snapshot));
  const pieces = await encodeSnapshotFileInSlices(snapshot, 1_000);
  t.is(pieces[1], snapshot.data, "the data is written as is, not copied");
  t.true(Buffer.concat([...pieces]).equals(whole));
});
