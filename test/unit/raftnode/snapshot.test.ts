// Goal: snapshot files round-trip exactly, are written via a temp name that never survives,
// verify a CRC over metadata and data on load, fall back from a corrupt newest snapshot to an
// older valid one, refuse with DATA_CORRUPTED naming the files when none verifies, and purge
// all but the newest few. Method: FileSnapshotStore over the real file system (a temp dir per
// test) and over MemoryFileIo (crash before the directory sync), flipping chosen bytes.
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import test from "ava";
import type { Snapshot } from "../../../pkg/raft/index.js";
import {
  MemoryLogger, PfsError, logIndex, nodeId, silentLogger, term,
} from "../../../pkg/common/index.js";
import {
  FileSnapshotStore, MemoryFileIo, MemorySnapshotStore, NodeFileIo, decodeSnapshotFile,
  encodeSnapshotFile, snapshotFileName,
} from "../../../pkg/raftnode/index.js";

function snapshot(index: number, snapshotTerm: number, text = `state@${index}`): Snapshot {
  return {
    metadata: {
      index: logIndex(index), term: term(snapshotTerm),
      confState: { voters: [nodeId(1n), nodeId(0xffff_ffff_ffff_fffen)], learners: [nodeId(9n)] },
    },
    data: new TextEncoder().encode(text),
  };
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "pfs-snap-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("the file format round-trips and any flipped byte fails verification", (t) => {
  const original = snapshot(12, 3);
  const bytes = encodeSnapshotFile(original);
  t.deepEqual(decodeSnapshotFile(bytes), original);
  for (let offset = 0; offset < bytes.length; offset += 1) {
    const damaged = Uint8Array.from(bytes);
    damaged[offset]! ^= 0x04;
    t.throws(() => decodeSnapshotFile(damaged), { name: "MalformedPayloadError" }, `offset ${offset}`);
  }
  t.throws(() => decodeSnapshotFile(bytes.subarray(0, bytes.length - 1)), {
    message: /CRC mismatch/,
  });
});

test("save writes through a temp name, leaves none behind, and loads the newest", async (t) => {
  await withTempDir(async (dir) => {
    const store = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger: silentLogger });
    t.is(await store.loadNewest(), undefined);
    await store.save(snapshot(10, 2));
    await store.save(snapshot(20, 3));
    t.deepEqual(await readdir(dir), [snapshotFileName(2, 10), snapshotFileName(3, 20)]);
    t.is(snapshotFileName(3, 20), "0000000000000003-0000000000000014.snap");
    const reopened = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger: silentLogger });
    t.deepEqual(await reopened.loadNewest(), snapshot(20, 3));
  });
});

test("a crash before the directory sync loses the snapshot; a leftover temp file is removed", async (t) => {
  const io = new MemoryFileIo();
  const dir = "/snap";
  const store = new FileSnapshotStore({ dir, io, logger: silentLogger });
  await store.save(snapshot(5, 1));
  const syncsBefore = io.fileSyncs;
  const dirSyncsBefore = io.dirSyncs;
  await store.save(snapshot(9, 1));
  t.is(io.fileSyncs - syncsBefore, 1);
  t.is(io.dirSyncs - dirSyncsBefore, 1);
  // A half-written temp file, as a crash between write and rename leaves it.
  const half = await io.createFile(path.join(dir, `${snapshotFileName(1, 12)}.tmp`));
  await half.append(new Uint8Array([1, 2, 3]));
  await half.sync();
  await half.close();
  await io.syncDir(dir);
  io.crash();
  const logger = new MemoryLogger();
  const after = new FileSnapshotStore({ dir, io, logger });
  t.deepEqual(await after.loadNewest(), snapshot(9, 1));
  t.deepEqual(await io.listDir(dir), [snapshotFileName(1, 5), snapshotFileName(1, 9)]);
  t.true(logger.records.some((record) => /half-written/.test(record.message)));
});

test("a corrupt newest snapshot falls back to the older valid one, loudly", async (t) => {
  await withTempDir(async (dir) => {
    const logger = new MemoryLogger();
    const store = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger });
    await store.save(snapshot(10, 2));
    await store.save(snapshot(20, 3));
    const newest = path.join(dir, snapshotFileName(3, 20));
    const bytes = await readFile(newest);
    bytes[bytes.length - 2]! ^= 0x20; // Inside the data.
    await writeFile(newest, bytes);
    t.deepEqual(await store.loadNewest(), snapshot(10, 2));
    const failure = logger.records.find((record) => record.level === "error");
    t.is(failure?.fields["file"], newest);
    t.regex(String(failure?.fields["reason"]), /CRC mismatch/);
  });
});

test("when no snapshot verifies, load refuses with DATA_CORRUPTED naming each file", async (t) => {
  await withTempDir(async (dir) => {
    const store = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger: silentLogger });
    await store.save(snapshot(10, 2));
    await store.save(snapshot(20, 3));
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name);
      const bytes = await readFile(file);
      bytes[20]! ^= 0x01; // Inside the index field: covered by the CRC.
      await writeFile(file, bytes);
    }
    const error = await t.throwsAsync(store.loadNewest(), { instanceOf: PfsError });
    t.is(error.code, "DATA_CORRUPTED");
    t.true(error.message.startsWith(`no snapshot in ${dir} verifies: `), error.message);
    t.true(error.message.includes(`${path.join(dir, snapshotFileName(3, 20))}: CRC mismatch`));
    t.true(error.message.includes(`${path.join(dir, snapshotFileName(2, 10))}: CRC mismatch`));
  });
});

test("a file whose name disagrees with its contents is not trusted", async (t) => {
  await withTempDir(async (dir) => {
    const store = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger: silentLogger });
    await store.save(snapshot(10, 2));
    await writeFile(path.join(dir, snapshotFileName(2, 30)), encodeSnapshotFile(snapshot(10, 2)));
    const logger = new MemoryLogger();
    const reader = new FileSnapshotStore({ dir, io: new NodeFileIo(), logger });
    t.deepEqual(await reader.loadNewest(), snapshot(10, 2));
    t.regex(String(logger.records[0]?.fields["reason"]), /its name says index 30 term 2/);
  });
});

test("purge keeps the newest few snapshots", async (t) => {
  const io = new MemoryFileIo();
  const store = new FileSnapshotStore({ dir: "/snap", io, logger: silentLogger });
  for (const index of [5, 10, 15, 20, 25]) await store.save(snapshot(index, 1));
  t.is(await store.purge(2), 3);
  t.deepEqual(await io.listDir("/snap"), [snapshotFileName(1, 20), snapshotFileName(1, 25)]);
  t.is(await store.purge(), 0);
  t.deepEqual(await store.loadNewest(), snapshot(25, 1));
  io.crash();
  t.deepEqual(await io.listDir("/snap"), [snapshotFileName(1, 20), snapshotFileName(1, 25)]);
});

test("the memory store keeps the newest by index and purges the oldest", async (t) => {
  const store = new MemorySnapshotStore();
  t.is(await store.loadNewest(), undefined);
  await store.save(snapshot(20, 2));
  await store.save(snapshot(10, 1));
  await store.save(snapshot(30, 2));
  t.deepEqual(await store.loadNewest(), snapshot(30, 2));
  t.is(await store.purge(1), 2);
  t.deepEqual(await store.loadNewest(), snapshot(30, 2));
});
