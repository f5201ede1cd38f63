// Goal: DiskStorage answers the Storage contract of pkg/raft/types.ts exactly (half-open
// ranges, Compacted below, Unavailable above, maxBytes with at least one entry), its mutators
// keep the log as Raft expects (conflict truncation, snapshot restore, compaction), and
// openDiskStorage rebuilds the same answers from the WAL and snapshot files after a restart,
// or refuses with DATA_CORRUPTED when they cannot be reconciled. Method: build states by hand
// and by a driver-like sequence of saves over MemoryFileIo, reopen, compare every answer.
import path from "node:path";
import test from "ava";
import {
  type Entry, EntryType, type HardState, type Snapshot, StorageError,
} from "../../../pkg/raft/index.js";
import {
  AssertionError, PfsError, type LogIndex, logIndex, nodeId, silentLogger, term,
} from "../../../pkg/common/index.js";
import {
  DiskStorage, MemoryFileIo, type OpenedDiskStorage, emptyHardState, openDiskStorage,
  snapshotFileName,
} from "../../../pkg/raftnode/index.js";

function entry(index: number, entryTerm: number): Entry {
  return {
    index: logIndex(index), term: term(entryTerm), type: EntryType.Normal,
    data: new TextEncoder().encode(`entry-${String(index).padStart(3, "0")}`), // 9 bytes
  };
}

function entries(from: number, to: number, entryTerm: number): Entry[] {
  const result: Entry[] = [];
  for (let index = from; index <= to; index += 1) result.push(entry(index, entryTerm));
  return result;
}

function hardState(hardTerm: number, commit: number): HardState {
  return { term: term(hardTerm), vote: nodeId(1n), commit: logIndex(commit) };
}

function snapshot(index: number, snapshotTerm: number): Snapshot {
  return {
    metadata: {
      index: logIndex(index), term: term(snapshotTerm),
      confState: { voters: [nodeId(1n), nodeId(2n), nodeId(3n)], learners: [] },
    },
    data: new TextEncoder().encode(`state@${index}`),
  };
}

const i = (value: number): LogIndex => logIndex(value);

/** Every answer the core could ask for, as text, to compare before and after a reopen. */
function answers(storage: DiskStorage): string[] {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const lines = [`first ${first} last ${last}`];
  for (let index = Math.max(0, first - 2); index <= last + 1; index += 1) {
    const result = storage.term(i(index));
    lines.push(`term(${index}) ${result.ok ? result.value : result.error}`);
  }
  const all = storage.entries(first, i(last + 1), Number.MAX_SAFE_INTEGER);
  lines.push(`entries ${all.ok ? all.value.map((e) => `${e.index}@${e.term}`).join(" ") : all.error}`);
  const snap = storage.snapshot();
  lines.push(`snapshot ${snap.ok ? `${snap.value.metadata.index}@${snap.value.metadata.term}` : snap.error}`);
  const state = storage.initialState();
  lines.push(`hard ${state.hardState.term}/${state.hardState.commit} voters ${state.confState.voters.join(",")}`);
  return lines;
}

test("the Storage contract: half-open ranges, Compacted, Unavailable, maxBytes", (t) => {
  const storage = new DiskStorage({
    hardState: hardState(3, 8), snapshot: snapshot(5, 2),
    entries: [...entries(6, 7, 2), ...entries(8, 10, 3)],
  });
  t.is(storage.firstIndex(), i(6));
  t.is(storage.lastIndex(), i(10));
  t.deepEqual(storage.term(i(4)), { ok: false, error: StorageError.Compacted });
  t.deepEqual(storage.term(i(5)), { ok: true, value: 2 });
  t.deepEqual(storage.term(i(8)), { ok: true, value: 3 });
  t.deepEqual(storage.term(i(10)), { ok: true, value: 3 });
  t.deepEqual(storage.term(i(11)), { ok: false, error: StorageError.Unavailable });
  t.deepEqual(storage.entries(i(5), i(7), 1000), { ok: false, error: StorageError.Compacted });
  t.deepEqual(storage.entries(i(6), i(12), 1000), { ok: false, error: StorageError.Unavailable });
  t.deepEqual(storage.entries(i(6), i(11), 1000), { ok: true, value: [...entries(6, 7, 2), ...entries(8, 10, 3)] });
  t.deepEqual(storage.entries(i(11), i(11), 1000), { ok: true, value: [] });
  t.deepEqual(storage.entries(i(7), i(9), 1000), { ok: true, value: [entry(7, 2), entry(8, 3)] });
  // Entries are 9 bytes each: 20 bytes hold two; 0 bytes still yields one.
  t.deepEqual(storage.entries(i(6), i(11), 20), { ok: true, value: entries(6, 7, 2) });
  t.deepEqual(storage.entries(i(6), i(11), 18), { ok: true, value: entries(6, 7, 2) });
  t.deepEqual(storage.entries(i(6), i(11), 17), { ok: true, value: [entry(6, 2)] });
  t.deepEqual(storage.entries(i(6), i(11), 0), { ok: true, value: [entry(6, 2)] });
  t.throws(() => storage.entries(i(8), i(7), 10), { instanceOf: AssertionError });
  const snap = storage.snapshot();
  t.true(snap.ok && snap.value.metadata.index === 5);
  t.deepEqual(storage.initialState().hardState, hardState(3, 8));
});

test("append truncates at a conflict, ignores compacted entries, and refuses gaps", (t) => {
  const storage = new DiskStorage({ hardState: hardState(1, 2), snapshot: snapshot(0, 0), entries: [] });
  storage.append(entries(1, 5, 1));
  storage.append(entries(4, 6, 2));
  t.deepEqual(storage.entries(i(1), i(7), 1000), { ok: true, value: [...entries(1, 3, 1), ...entries(4, 6, 2)] });
  storage.append(entries(7, 7, 2));
  t.is(storage.lastIndex(), i(7));
  t.throws(() => { storage.append(entries(9, 9, 2)); }, { instanceOf: AssertionError, message: /gap after 7/ });
  t.throws(() => { storage.append(entries(2, 2, 3)); }, { message: /truncate committed entries \(commit 2\)/ });
  t.deepEqual(storage.createSnapshot(i(2), snapshot(0, 0).metadata.confState, new Uint8Array([7])).ok, true);
  t.deepEqual(storage.compact(i(2)), { ok: true, value: undefined });
  storage.append(entries(1, 8, 2).slice(0, 0));
  storage.append([entry(2, 1), entry(3, 1), entry(4, 2)]); // Below or equal: only 3.. applies.
  t.is(storage.firstIndex(), i(3));
  t.is(storage.lastIndex(), i(4));
  t.deepEqual(storage.compact(i(2)), { ok: false, error: StorageError.Compacted });
});

test("applySnapshot replaces the log; createSnapshot and compact keep what follows", (t) => {
  const storage = new DiskStorage({ hardState: hardState(2, 6), snapshot: snapshot(0, 0), entries: entries(1, 8, 1) });
  const created = storage.createSnapshot(i(6), snapshot(6, 1).metadata.confState, new Uint8Array([1]));
  t.true(created.ok && created.value.metadata.index === 6 && created.value.metadata.term === 1);
  t.is(storage.firstIndex(), i(1), "creating a snapshot drops nothing");
  t.deepEqual(storage.createSnapshot(i(6), snapshot(6, 1).metadata.confState, new Uint8Array()),
    { ok: false, error: "snapshot-out-of-date" });
  t.throws(() => storage.createSnapshot(i(7), snapshot(7, 1).metadata.confState, new Uint8Array()), {
    message: /above commit 6/,
  });
  t.throws(() => storage.compact(i(7)), { message: /beyond snapshot 6/ });
  t.deepEqual(storage.compact(i(4)), { ok: true, value: undefined });
  t.is(storage.firstIndex(), i(5));
  t.deepEqual(storage.term(i(4)), { ok: true, value: 1 });
  t.deepEqual(storage.term(i(3)), { ok: false, error: StorageError.Compacted });
  t.deepEqual(storage.applySnapshot(snapshot(5, 1)), { ok: false, error: "snapshot-out-of-date" });
  t.deepEqual(storage.applySnapshot(snapshot(12, 3)), { ok: true, value: undefined });
  t.is(storage.firstIndex(), i(13));
  t.is(storage.lastIndex(), i(12));
  t.deepEqual(storage.term(i(12)), { ok: true, value: 3 });
  t.deepEqual(storage.entries(i(13), i(13), 10), { ok: true, value: [] });
  t.deepEqual(storage.entries(i(13), i(14), 10), { ok: false, error: StorageError.Unavailable });
});

const dirs = { walDir: "/node/wal", snapshotDir: "/node/snap" };

async function open(io: MemoryFileIo, segmentBytes?: number): Promise<OpenedDiskStorage> {
  return segmentBytes === undefined
    ? openDiskStorage({ ...dirs, io, logger: silentLogger })
    : openDiskStorage({ ...dirs, io, logger: silentLogger, segmentBytes });
}

/** Persists then applies, as the driver does with a Ready. */
async function persist(opened: OpenedDiskStorage, hard: HardState, list: Entry[]): Promise<void> {
  await opened.wal.save({ hardState: hard, entries: list }, true);
  opened.storage.append(list);
  opened.storage.setHardState(hard);
}

test("a driver-like run with a local snapshot and purge reopens to the same answers", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io, 100);
  t.deepEqual(answers(node.storage), answers(new DiskStorage({
    hardState: emptyHardState(), snapshot: snapshot(0, 0), entries: [],
  })).map((line) => line.replace("voters 1,2,3", "voters ")));
  await persist(node, hardState(1, 0), entries(1, 10, 1));
  await persist(node, hardState(2, 8), [...entries(9, 10, 2), ...entries(11, 20, 2)]);
  await persist(node, hardState(2, 18), entries(21, 25, 2));
  const made = node.storage.createSnapshot(i(15), snapshot(15, 2).metadata.confState, new Uint8Array([15]));
  t.true(made.ok);
  if (!made.ok) return;
  await node.snapshots.save(made.value);
  await node.wal.save({ entries: [], snapshotMarker: { index: i(15), term: term(2) } }, true);
  t.deepEqual(node.storage.compact(i(12)), { ok: true, value: undefined });
  t.true(await node.wal.releaseTo(i(12)) > 0);
  const before = answers(node.storage);
  await node.wal.close();
  io.crash();

  const reopened = await open(io, 100);
  const after = answers(reopened.storage);
  // After a restart the log starts at the snapshot (15), not the in-memory compaction point.
  t.deepEqual(after.filter((line) => !line.startsWith("term(") && !line.startsWith("first") &&
    !line.startsWith("entries")), before.filter((line) => !line.startsWith("term(") &&
    !line.startsWith("first") && !line.startsWith("entries")));
  t.is(reopened.storage.firstIndex(), i(16));
  t.is(reopened.storage.lastIndex(), i(25));
  t.deepEqual(reopened.storage.entries(i(16), i(26), 10_000), { ok: true, value: entries(16, 25, 2) });
  t.deepEqual(reopened.storage.term(i(15)), { ok: true, value: 2 });
  t.deepEqual(reopened.storage.term(i(14)), { ok: false, error: StorageError.Compacted });
  t.deepEqual(reopened.storage.initialState().hardState, hardState(2, 18));
  await reopened.wal.close();
});

test("a received snapshot replaces a stale log, also after a restart", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io);
  await persist(node, hardState(1, 3), entries(1, 10, 1)); // 4..10 are stale, uncommitted.
  const received = snapshot(12, 2);
  await node.snapshots.save(received);
  await node.wal.save({ hardState: hardState(2, 12), entries: entries(13, 14, 2),
    snapshotMarker: { index: i(12), term: term(2) } }, true);
  t.true(node.storage.applySnapshot(received).ok);
  node.storage.append(entries(13, 14, 2));
  node.storage.setHardState(hardState(2, 12));
  const before = answers(node.storage);
  await node.wal.close();
  const reopened = await open(io);
  t.deepEqual(answers(reopened.storage), before);
  t.is(reopened.storage.firstIndex(), i(13));
  await reopened.wal.close();
});

test("a snapshot saved without its marker (crash in between) wins over the stale log", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io);
  await persist(node, hardState(1, 3), entries(1, 10, 1));
  await node.snapshots.save(snapshot(8, 2)); // Entry 8 in the log has term 1: it is stale.
  await node.wal.close();
  io.crash();
  const reopened = await open(io);
  t.is(reopened.storage.firstIndex(), i(9));
  t.is(reopened.storage.lastIndex(), i(8));
  t.deepEqual(reopened.storage.initialState().hardState, hardState(1, 8), "commit raised to the snapshot");
  // Entries appended after the reopen must survive the next one: the stale entry 8 (term 1)
  // in the WAL must not make replay discard them (found by the seeded crash test).
  await persist(reopened, hardState(3, 9), entries(9, 10, 3));
  await reopened.wal.close();
  const third = await open(io);
  t.deepEqual(third.storage.entries(i(9), i(11), 1000), { ok: true, value: entries(9, 10, 3) });
  t.deepEqual(third.storage.initialState().hardState, hardState(3, 9));
  await third.wal.close();
});

test("a snapshot without a WAL refuses to start", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io);
  await persist(node, hardState(1, 3), entries(1, 5, 1));
  await node.snapshots.save(snapshot(3, 1));
  await node.wal.close();
  for (const name of await io.listDir(dirs.walDir)) await io.remove(path.join(dirs.walDir, name));
  const error = await t.throwsAsync(open(io), { instanceOf: PfsError });
  t.is(error.code, "DATA_CORRUPTED");
  t.is(error.message, `snapshot at index 3 exists but the WAL in ${dirs.walDir} is missing`);
});

test("a corrupt newest snapshot falls back when the WAL still reaches the older one", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io, 100);
  for (const from of [1, 11, 21]) await persist(node, hardState(1, from + 9), entries(from, from + 9, 1));
  for (const at of [10, 20]) {
    await node.snapshots.save(snapshot(at, 1));
    await node.wal.save({ entries: [], snapshotMarker: { index: i(at), term: term(1) } }, true);
  }
  const newest = path.join(dirs.snapshotDir, snapshotFileName(1, 20));
  io.corrupt(newest, 30);
  await node.wal.close();
  const reopened = await open(io, 100);
  t.is(reopened.storage.firstIndex(), i(11));
  t.is(reopened.storage.lastIndex(), i(30));
  await reopened.wal.close();

  // Once the WAL is purged past the older snapshot, the fallback cannot be served.
  const again = await open(io, 100);
  t.true(await again.wal.releaseTo(i(20)) > 0);
  await again.wal.close();
  const error = await t.throwsAsync(open(io, 100), { instanceOf: PfsError });
  t.is(error.code, "DATA_CORRUPTED");
  t.regex(error.message, /^WAL in \/node\/wal: the WAL's entries start at index \d+ but the snapshot is at index 10: entries 11\.\.\d+ are missing$/);
});

test("a batch of 150,000 entries appends, persists and replays (no argument-spread limits)", async (t) => {
  const io = new MemoryFileIo();
  const node = await open(io);
  const many: Entry[] = [];
  for (let index = 1; index <= 150_000; index += 1) {
    many.push({ index: i(index), term: term(1), type: EntryType.Normal, data: new Uint8Array(0) });
  }
  await persist(node, hardState(1, 0), many);
  t.is(node.storage.lastIndex(), i(150_000));
  await node.wal.close();
  const reopened = await open(io);
  t.is(reopened.storage.lastIndex(), i(150_000));
  t.deepEqual(reopened.storage.term(i(123_456)), { ok: true, value: 1 });
  await reopened.wal.close();
});
