/**
 * Goal: the simulated disk loses exactly what a real one may lose. Method: write, sync and
 * crash with seeded randomness; synced writes always survive, unsynced ones survive only as an
 * in-order prefix (maybe with a torn append), and the durable log stays contiguous.
 */
import test from "ava";
import { type LogIndex, type NodeId, Prng, type Term } from "../../pkg/common/index.js";
import { type Entry, EntryType, type Snapshot } from "../../pkg/raft/index.js";
import { SimDisk } from "./sim-disk.js";

function entries(first: number, last: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index += 1) {
    out.push({ index: index as LogIndex, term: term as Term, type: EntryType.Normal,
      data: new Uint8Array([index]) });
  }
  return out;
}

function snapshotAt(index: number): Snapshot {
  return {
    metadata: { index: index as LogIndex, term: 1 as Term,
      confState: { voters: [1n as NodeId], learners: [] } },
    data: new Uint8Array(0),
  };
}

function emptyDisk(): SimDisk {
  return new SimDisk({
    hardState: { term: 0 as Term, vote: 0n as NodeId, commit: 0 as LogIndex },
    snapshot: snapshotAt(0), entries: [],
  });
}

test("synced writes survive a crash; unsynced ones survive only as a prefix", (t) => {
  const seed = 7;
  const prng = new Prng(seed);
  for (let run = 0; run < 200; run += 1) {
    const disk = emptyDisk();
    disk.write({ kind: "entries", entries: entries(1, 3) });
    disk.sync();
    disk.write({ kind: "entries", entries: entries(4, 6) });
    disk.write({ kind: "hardState", hardState: { term: 1 as Term, vote: 1n as NodeId,
      commit: 6 as LogIndex } });
    const effect = disk.crash(prng, 0.5);
    const last = disk.durable.entries[disk.durable.entries.length - 1]?.index ?? 0;
    t.true(last >= 3, `seed ${seed} run ${run}: synced entries lost`);
    // The hard state (written after the entries) survives only if all entries did.
    if (disk.durable.hardState.commit === 6) t.is(last, 6, `seed ${seed} run ${run}`);
    if (effect.tornEntriesKept !== undefined) t.true(last > 3 && last < 6);
    t.deepEqual(disk.durable.entries.map((e) => e.index), entries(1, last).map((e) => e.index));
  }
});

test("an overwriting append truncates the tail; snapshots replace or compact the log", (t) => {
  const disk = emptyDisk();
  disk.write({ kind: "entries", entries: entries(1, 5) });
  disk.write({ kind: "entries", entries: entries(3, 4, 2) });
  disk.sync();
  t.deepEqual(disk.durable.entries.map((e) => `${e.index}/${e.term}`),
    ["1/1", "2/1", "3/2", "4/2"]);
  disk.write({ kind: "snapshot", snapshot: snapshotAt(2), replacesLog: false,
    compactIndex: 1 });
  disk.sync();
  t.deepEqual(disk.durable.entries.map((e) => e.index), [3, 4]);
  disk.write({ kind: "snapshot", snapshot: snapshotAt(10), replacesLog: true });
  disk.write({ kind: "entries", entries: entries(11, 11) });
  disk.sync();
  t.is(Number(disk.durable.snapshot.metadata.index), 10);
  t.deepEqual(disk.durable.entries.map((e) => e.index), [11]);
  t.throws(() => {
    disk.write({ kind: "entries", entries: entries(13, 13) });
    disk.sync();
  }, { message: /gap/ });
});
