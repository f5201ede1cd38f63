// Goal: the WAL returns after reopen exactly what was saved (hard state, entries with conflict
// truncations, snapshot markers), fsyncs once per save, loses only unsynced saves in a crash,
// cuts a torn tail off the last segment and refuses any other damage with DATA_CORRUPTED
// naming the file and offset, rolls over segments and purges those below a snapshot.
// Method: drive Wal over the real file system (temp dir per test) and over MemoryFileIo,
// whose crash() drops everything not fsynced; damage bytes at chosen or seeded offsets.
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import test from "ava";
import { type Entry, EntryType, type HardState } from "../../../pkg/raft/index.js";
import {
  MemoryLogger, PfsError, Prng, silentLogger, logIndex, nodeId, systemSeed, term,
} from "../../../pkg/common/index.js";
import {
  InjectedSyncError, MemoryFileIo, NodeFileIo, Wal, encodeRecord, RecordType,
} from "../../../pkg/raftnode/index.js";

function entry(index: number, entryTerm: number, text = `e${index}t${entryTerm}`): Entry {
  return {
    index: logIndex(index), term: term(entryTerm), type: EntryType.Normal,
    data: new TextEncoder().encode(text),
  };
}

function entries(from: number, to: number, entryTerm: number): Entry[] {
  const result: Entry[] = [];
  for (let index = from; index <= to; index += 1) result.push(entry(index, entryTerm));
  return result;
}

function hardState(hardTerm: number, commit: number, vote = 2n): HardState {
  return { term: term(hardTerm), vote: nodeId(vote), commit: logIndex(commit) };
}

function summary(list: readonly Entry[]): string {
  return list.map((item) => `${item.index}@${item.term}`).join(" ");
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "pfs-wal-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const memoryDir = "/wal";

test("saves survive reopen on the real file system, with conflict truncation", async (t) => {
  await withTempDir(async (dir) => {
    const io = new NodeFileIo();
    const walDir = path.join(dir, "member", "wal"); // Parents are created too.
    const first = await Wal.open({ dir: walDir, io, logger: silentLogger });
    t.true(first.created);
    await first.wal.save({ hardState: hardState(1, 0), entries: entries(1, 5, 1) }, true);
    await first.wal.save({ hardState: hardState(2, 3), entries: entries(4, 6, 2) }, true);
    await first.wal.save({ entries: [] }, true);
    await first.wal.close();
    t.deepEqual(await readdir(walDir), ["0000000000000000-0000000000000001.wal"]);

    const second = await Wal.open({ dir: walDir, io, logger: silentLogger });
    t.false(second.created);
    t.is(summary(second.replay.entries), "1@1 2@1 3@1 4@2 5@2 6@2");
    t.deepEqual(second.replay.hardState, hardState(2, 3));
    t.deepEqual(second.replay.entries[3], entry(4, 2));
    await second.wal.save({ entries: entries(6, 7, 3) }, true);
    await second.wal.close();
    const third = await Wal.open({ dir: walDir, io, logger: silentLogger });
    t.is(summary(third.replay.entries), "1@1 2@1 3@1 4@2 5@2 6@3 7@3");
    await third.wal.close();
  });
});

test("group commit: one fsync per save when mustSync, none otherwise", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  const before = io.fileSyncs;
  await wal.save({
    hardState: hardState(1, 0), entries: entries(1, 100, 1),
    snapshotMarker: { index: logIndex(0), term: term(0) },
  }, true);
  t.is(io.fileSyncs - before, 1);
  await wal.save({ entries: entries(101, 200, 1) }, false);
  t.is(io.fileSyncs - before, 1);
  await wal.save({ hardState: hardState(1, 150), entries: entries(201, 300, 1) }, true);
  t.is(io.fileSyncs - before, 2);
  await wal.save({ entries: [] }, false);
  t.is(io.fileSyncs - before, 2);
  await wal.close();
});

test("a crash loses exactly the saves that were not fsynced", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  await wal.save({ hardState: hardState(1, 2), entries: entries(1, 3, 1) }, true);
  await wal.save({ hardState: hardState(2, 3), entries: entries(4, 6, 2) }, false);
  io.crash();
  await t.throwsAsync(wal.save({ entries: entries(7, 7, 2) }, true), { name: "CrashedFileError" });
  const reopened = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  t.is(summary(reopened.replay.entries), "1@1 2@1 3@1");
  t.deepEqual(reopened.replay.hardState, hardState(1, 2));
  await reopened.wal.close();
});

test("saves issued without awaiting run one at a time in call order", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  const saves = [1, 2, 3, 4].map((step) =>
    wal.save({ hardState: hardState(step, 0), entries: entries(step, step, step) }, true));
  await Promise.all(saves);
  await wal.close();
  const reopened = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  t.is(summary(reopened.replay.entries), "1@1 2@2 3@3 4@4");
  t.deepEqual(reopened.replay.hardState, hardState(4, 0));
  await reopened.wal.close();
});

test("a failed fsync fails that save and every later one", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  await wal.save({ entries: entries(1, 1, 1) }, true);
  io.failSyncs = 1;
  await t.throwsAsync(wal.save({ entries: entries(2, 2, 1) }, true), { instanceOf: InjectedSyncError });
  await t.throwsAsync(wal.save({ entries: entries(3, 3, 1) }, true), { instanceOf: InjectedSyncError });
  t.is(io.failSyncs, 0);
});

async function tornFixture(): Promise<{ bytes: Uint8Array; lastStart: number; name: string }> {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  await wal.save({ hardState: hardState(1, 1), entries: entries(1, 3, 1) }, true);
  const last = { hardState: hardState(1, 3), entries: entries(4, 5, 1) };
  await wal.save(last, true);
  await wal.close();
  const name = "0000000000000000-0000000000000001.wal";
  const bytes = await io.readFile(path.join(memoryDir, name));
  const lastBatch = encodeRecord({ type: RecordType.Entries, entries: last.entries }).length +
    encodeRecord({ type: RecordType.HardState, hardState: last.hardState }).length;
  return { bytes, lastStart: bytes.length - lastBatch, name };
}

async function memoryWith(name: string, bytes: Uint8Array): Promise<MemoryFileIo> {
  const io = new MemoryFileIo();
  await io.makeDir(memoryDir);
  const file = await io.createFile(path.join(memoryDir, name));
  await file.append(bytes);
  await file.sync();
  await file.close();
  await io.syncDir(memoryDir);
  return io;
}

test("a torn last save, cut at every byte offset, is cut off and the rest recovered", async (t) => {
  const { bytes, lastStart, name } = await tornFixture();
  const entriesRecordEnd = lastStart +
    encodeRecord({ type: RecordType.Entries, entries: entries(4, 5, 1) }).length;
  t.true(bytes.length - lastStart > 50);
  for (let cut = lastStart + 1; cut < bytes.length; cut += 1) {
    const io = await memoryWith(name, bytes.subarray(0, cut));
    const logger = new MemoryLogger();
    const { wal, replay } = await Wal.open({ dir: memoryDir, io, logger });
    const expected = cut >= entriesRecordEnd ? "1@1 2@1 3@1 4@1 5@1" : "1@1 2@1 3@1";
    t.is(summary(replay.entries), expected, `cut ${cut}`);
    t.deepEqual(replay.hardState, hardState(1, 1), `cut ${cut}`);
    const warning = logger.records.find((record) => record.level === "warn");
    if (cut === entriesRecordEnd) {
      t.is(warning, undefined, "a cut between records leaves a clean file: nothing to cut");
    } else {
      t.regex(warning?.message ?? "", /torn tail/, `cut ${cut}`);
    }
    const kept = cut >= entriesRecordEnd ? entriesRecordEnd : lastStart;
    t.is((await io.readFile(path.join(memoryDir, name))).length, kept, `cut ${cut}`);
    const next = replay.lastIndex() + 1;
    await wal.save({ entries: entries(next, next, 2) }, true);
    await wal.close();
    const again = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
    t.is(summary(again.replay.entries), `${expected} ${next}@2`, `cut ${cut}`);
    await again.wal.close();
  }
});

test("a crash mid-append (torn unsynced bytes) recovers the synced prefix", async (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  for (let trial = 0; trial < 20; trial += 1) {
    const io = new MemoryFileIo();
    const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
    await wal.save({ hardState: hardState(1, 1), entries: entries(1, 3, 1) }, true);
    await wal.save({ hardState: hardState(1, 2), entries: entries(4, 9, 1) }, false);
    io.crash(prng);
    const reopened = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
    const got = summary(reopened.replay.entries);
    t.true(got === "1@1 2@1 3@1" || got === "1@1 2@1 3@1 4@1 5@1 6@1 7@1 8@1 9@1",
      `seed ${seed} trial ${trial}: ${got}`);
    await reopened.wal.close();
  }
});

test("a flipped byte inside a segment refuses to open, naming the file and offset", async (t) => {
  await withTempDir(async (dir) => {
    const io = new NodeFileIo();
    const { wal } = await Wal.open({ dir, io, logger: silentLogger });
    await wal.save({ hardState: hardState(1, 1), entries: entries(1, 3, 1) }, true);
    await wal.save({ hardState: hardState(1, 3), entries: entries(4, 5, 1) }, true);
    await wal.close();
    const file = path.join(dir, "0000000000000000-0000000000000001.wal");
    const bytes = await readFile(file);
    const headerBytes = encodeRecord({
      type: RecordType.SegmentHeader, header: { sequence: 0, firstIndex: logIndex(1) },
    }).length;
    bytes[headerBytes + 20]! ^= 0x10; // Inside the first entry batch, not the last record.
    await writeFile(file, bytes);
    const error = await t.throwsAsync(Wal.open({ dir, io, logger: silentLogger }), {
      instanceOf: PfsError,
    });
    t.is(error.code, "DATA_CORRUPTED");
    t.is(error.message, `WAL file ${file} is corrupt at byte offset ${headerBytes}: CRC mismatch`);
    t.is((await readFile(file)).length, bytes.length, "a corrupt WAL is never cut");
  });
});

async function rolledOver(io: MemoryFileIo): Promise<Wal> {
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger, segmentBytes: 300 });
  for (let index = 1; index <= 40; index += 4) {
    await wal.save({ hardState: hardState(1, index - 1), entries: entries(index, index + 3, 1) }, true);
  }
  return wal;
}

test("segments roll over at the size limit and replay across files", async (t) => {
  const io = new MemoryFileIo();
  const wal = await rolledOver(io);
  const names = wal.segmentNames();
  t.true(names.length >= 3, names.join());
  t.is(names[0], "0000000000000000-0000000000000001.wal");
  t.regex(names[1] ?? "", /^0000000000000001-00000000000000[0-9a-f]{2}\.wal$/);
  t.deepEqual(await io.listDir(memoryDir), names);
  t.is(io.dirSyncs, names.length, "each new segment's name is made durable by a directory sync");
  await wal.close();
  io.crash(); // Every save was synced: a crash loses nothing, names included.
  const { replay, wal: reopened } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  t.is(replay.entries.length, 40);
  t.is(replay.entries.at(-1)?.index, logIndex(40));
  t.deepEqual(replay.hardState, hardState(1, 36));
  await reopened.close();
});

test("damage in a non-last segment is corruption, even at its very end", async (t) => {
  const io = new MemoryFileIo();
  const wal = await rolledOver(io);
  const [firstName] = wal.segmentNames();
  await wal.close();
  const file = path.join(memoryDir, firstName!);
  const length = (await io.readFile(file)).length;
  io.corrupt(file, length - 1, 0x01);
  const error = await t.throwsAsync(Wal.open({ dir: memoryDir, io, logger: silentLogger }), {
    instanceOf: PfsError,
  });
  t.is(error.code, "DATA_CORRUPTED");
  t.regex(error.message, new RegExp(`^WAL file ${file} is corrupt at byte offset \\d+: truncated segment: CRC mismatch`));
});

test("a missing segment in the middle is corruption", async (t) => {
  const io = new MemoryFileIo();
  const wal = await rolledOver(io);
  const names = wal.segmentNames();
  await wal.close();
  await io.remove(path.join(memoryDir, names[1]!));
  const error = await t.throwsAsync(Wal.open({ dir: memoryDir, io, logger: silentLogger }), {
    instanceOf: PfsError,
  });
  t.is(error.code, "DATA_CORRUPTED");
  t.regex(error.message, /segment sequence jumps from 0 to 2: a segment is missing/);
  t.true(error.message.includes(names[2]!));
});

test("purge removes whole segments below the snapshot index and keeps the hard state", async (t) => {
  const io = new MemoryFileIo();
  const wal = await rolledOver(io);
  t.is(await wal.releaseTo(logIndex(0)), 0);
  const snapshotIndex = 30;
  await wal.save({ snapshotMarker: { index: logIndex(snapshotIndex), term: term(1) }, entries: [] }, true);
  const names = wal.segmentNames();
  const firstIndexes = names.map((name) => Number.parseInt(name.slice(17, 33), 16));
  const removed = await wal.releaseTo(logIndex(snapshotIndex));
  // Keep from the last segment whose first index is at or below snapshotIndex + 1: every
  // segment before it holds only entries at or below the snapshot.
  let keepFrom = 0;
  firstIndexes.forEach((first, i) => {
    if (first <= snapshotIndex + 1) keepFrom = i;
  });
  const expectedKept = names.slice(keepFrom);
  t.is(removed, names.length - expectedKept.length);
  t.true(removed > 0);
  t.deepEqual(wal.segmentNames(), expectedKept);
  t.deepEqual(await io.listDir(memoryDir), expectedKept);
  await wal.close();
  const { replay, wal: reopened } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  t.true((replay.entries[0]?.index ?? 99) <= snapshotIndex + 1, summary(replay.entries));
  t.deepEqual(replay.entriesAfter({ index: logIndex(snapshotIndex), term: term(1) }).map((e) => e.index),
    [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  t.deepEqual(replay.hardState, hardState(1, 36));
  const error = t.throws(() => replay.entriesAfter({ index: logIndex(0), term: term(0) }));
  t.regex(error.message, /entries 1\.\.\d+ are missing/);
  await reopened.close();
});

test("leftover temporary segments are removed and a truncated file on disk recovers", async (t) => {
  await withTempDir(async (dir) => {
    const io = new NodeFileIo();
    const { wal } = await Wal.open({ dir, io, logger: silentLogger });
    await wal.save({ hardState: hardState(1, 1), entries: entries(1, 4, 1) }, true);
    await wal.close();
    const file = path.join(dir, "0000000000000000-0000000000000001.wal");
    await writeFile(path.join(dir, "0000000000000001-0000000000000005.wal.tmp"), "half");
    const size = (await readFile(file)).length;
    await truncate(file, size - 3);
    const { replay, wal: reopened } = await Wal.open({ dir, io, logger: silentLogger });
    t.is(summary(replay.entries), "1@1 2@1 3@1 4@1");
    t.is(replay.hardState, undefined);
    t.deepEqual(await readdir(dir), ["0000000000000000-0000000000000001.wal"]);
    await reopened.close();
  });
});

test("a save that would leave a gap or is not contiguous is refused before any write", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  await wal.save({ entries: entries(1, 3, 1) }, true);
  const size = (await io.readFile(path.join(memoryDir, wal.segmentNames()[0]!))).length;
  await t.throwsAsync(wal.save({ entries: entries(5, 6, 1) }, true), {
    name: "AssertionError", message: "WAL save at index 5 leaves a gap after 3",
  });
  t.is((await io.readFile(path.join(memoryDir, wal.segmentNames()[0]!))).length, size);
  const io2 = new MemoryFileIo();
  const second = await Wal.open({ dir: memoryDir, io: io2, logger: silentLogger });
  await t.throwsAsync(second.wal.save({ entries: [entry(1, 1), entry(3, 1)] }, true), {
    message: "WAL save has index 3 at position 1 after 1",
  });
  // A snapshot marker in the same batch moves the end: entries may follow it.
  const third = await Wal.open({ dir: "/other", io: io2, logger: silentLogger });
  await third.wal.save({ entries: entries(11, 12, 2), snapshotMarker: { index: logIndex(10), term: term(2) } }, true);
  await third.wal.close();
});

test("a crash in the middle of a purge leaves a whole sequence that opens", async (t) => {
  const io = new MemoryFileIo();
  const wal = await rolledOver(io);
  const names = wal.segmentNames();
  t.true(names.length >= 4, names.join());
  io.crashAfter(3); // remove(first), syncDir, then crash instead of remove(second).
  await t.throwsAsync(wal.releaseTo(logIndex(40)), { name: "CrashedFileError" });
  t.deepEqual(await io.listDir(memoryDir), names.slice(1));
  const { replay, wal: reopened } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  t.is(replay.lastIndex(), logIndex(40));
  t.deepEqual(replay.hardState, hardState(1, 36));
  await reopened.close();
});

test("a hard state whose term goes back is corruption (a vote could be cast twice)", async (t) => {
  const io = new MemoryFileIo();
  const { wal } = await Wal.open({ dir: memoryDir, io, logger: silentLogger });
  await wal.save({ hardState: hardState(5, 0), entries: [] }, true);
  const offset = (await io.readFile(path.join(memoryDir, wal.segmentNames()[0]!))).length;
  await wal.save({ hardState: hardState(4, 0), entries: [] }, true);
  await wal.close();
  const error = await t.throwsAsync(Wal.open({ dir: memoryDir, io, logger: silentLogger }), {
    instanceOf: PfsError,
  });
  const file = path.join(memoryDir, "0000000000000000-0000000000000001.wal");
  t.is(error.message, `WAL file ${file} is corrupt at byte offset ${offset}: hard state term went back from 5 to 4`);
});
