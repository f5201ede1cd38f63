// Goal: a staging log keeps exactly the writes that were acknowledged, in order; concurrent
// writes share fsyncs; after a crash, replay keeps every whole record before a torn tail and
// cuts the tail off (a record cut short, a bad last record, zeros, a zero sector of an unsynced
// batch), while a damaged record with data after it fails the open with DATA_CORRUPTED naming
// the file and the offset (cutting there would drop acknowledged writes); materialize applies the log to a parent manifest exactly as
// an in-memory model of put / append / delete (of a file or a whole directory) / copy does.
// Method: real files in a temp dir; seeded random op sequences (fast-check drives the seeds)
// against a Map model; truncation at every byte offset of the last record. A failure prints the
// seed (rerun with PFS_SEED=<seed>).
import { readFile, stat, truncate, writeFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import fc from "fast-check";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries
import type { FileEntry } from "../../../pkg/pfs/model.js";
// eslint-disable-next-line pfs/boundaries
import * as storage from "../../../pkg/pfs/storage/index.js";
import {
  Prng, chunk, collect, entryOf, randomEntry, randomPath, sha, sortEntries, testSeed, withTempDir,
} from "./storage-fixtures.js";

/** Applies `op` to the model, as DESIGN.md §3 describes the file system. */
function applyToModel(model: Map<string, FileEntry>, op: storage.StagingOp): void {
  switch (op.kind) {
    case "put":
      model.set(op.entry.path, op.entry);
      return;
    case "copy":
      model.set(op.to, { ...op.from, path: op.to });
      return;
    case "append": {
      const base = model.get(op.path);
      const added = op.chunks.reduce((sum, c) => sum + c.size, 0);
      model.set(op.path, {
        path: op.path, hash: op.hash, size: (base?.size ?? 0) + added,
        chunks: [...(base?.chunks ?? []), ...op.chunks],
      });
      return;
    }
    case "delete":
      for (const key of [...model.keys()]) {
        if (op.path === "/" || key === op.path || key.startsWith(`${op.path}/`)) model.delete(key);
      }
      return;
  }
}

/** A random op over a small path space, so ops collide with each other and the parent. */
function randomOp(prng: Prng, model: ReadonlyMap<string, FileEntry>): storage.StagingOp {
  const target = randomPath(prng);
  switch (prng.intBelow(6)) {
    case 0:
    case 1:
      return { kind: "put", entry: randomEntry(prng, target) };
    case 2:
      return {
        kind: "append", path: target, hash: sha(`append ${prng.nextUint32()}`),
        chunks: Array.from({ length: prng.intBelow(3) }, (_, i) => chunk(`${target}+${i}`, prng.intBetween(1, 999))),
      };
    case 3: {
      const existing = [...model.values()];
      const from = existing.length > 0 && prng.chance(0.7) ? prng.pick(existing) : randomEntry(prng, randomPath(prng));
      return { kind: "copy", to: target, from };
    }
    default: {
      const cut = target.split("/").slice(0, prng.intBetween(1, target.split("/").length)).join("/");
      return { kind: "delete", path: prng.chance(0.05) ? "/" : cut === "" ? target : cut };
    }
  }
}

test("random op sequences: the reopened log materialized over its parent equals the model", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  await withTempDir(async (dir) => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (runSeed) => {
      const prng = new Prng(runSeed);
      const model = new Map<string, FileEntry>();
      for (let i = prng.intBelow(60); i > 0; i -= 1) {
        const p = randomPath(prng);
        model.set(p, randomEntry(prng, p));
      }
      const parentFile = path.join(dir, `parent-${runSeed}`);
      await storage.writeManifest(parentFile, sortEntries(model.values()));
      const logFile = path.join(dir, `log-${runSeed}`);
      const log = await storage.createStagingLog(logFile);
      const ops: storage.StagingOp[] = [];
      for (let i = prng.intBelow(80); i > 0;) {
        const burst: Promise<void>[] = []; // Several writes in flight share an fsync.
        for (let j = prng.intBetween(1, 5); j > 0 && i > 0; j -= 1, i -= 1) {
          const op = randomOp(prng, model);
          ops.push(op);
          applyToModel(model, op);
          burst.push(log.write(op));
        }
        await Promise.all(burst);
      }
      await log.close();
      const { log: reopened, recordCount, truncatedBytes } = await storage.openStagingLog(logFile);
      t.is(recordCount, ops.length);
      t.is(truncatedBytes, 0);
      t.deepEqual(await collect(reopened.ops()), ops);
      const parent = await storage.openManifest(parentFile);
      const materialized = await collect(storage.materialize(parent, reopened.ops()));
      t.deepEqual(materialized, sortEntries(model.values()), `seed ${runSeed}`);
      await reopened.close();
      await parent.close();
    }), { seed: seed % 2 ** 31, numRuns: 30 });
  });
});

test("materialize: delete of a directory removes everything under it, later writes survive", async (t) => {
  const parent = {
    entries: async function* (): AsyncGenerator<FileEntry> {
      yield* await Promise.resolve(sortEntries([
        entryOf("/a/x", "ax", [1]), entryOf("/a/y/z", "ayz", [2]), entryOf("/ab", "ab", [3]), entryOf("/b", "b", [4]),
      ]));
    },
    get: (p: string) => Promise.resolve(p === "/b" ? entryOf("/b", "b", [4]) : undefined),
  };
  const ops: storage.StagingOp[] = [
    { kind: "put", entry: entryOf("/a/new", "new", [5]) },
    { kind: "delete", path: "/a" },
    { kind: "put", entry: entryOf("/a/late", "late", [6]) },
    { kind: "append", path: "/b", hash: sha("b+"), chunks: [chunk("b+", 10)] },
    { kind: "append", path: "/c", hash: sha("c"), chunks: [chunk("c", 7)] },
    { kind: "copy", to: "/d", from: entryOf("/elsewhere", "e", [8]) },
  ];
  const result = await collect(storage.materialize(parent, ops));
  t.deepEqual(result.map((e) => `${e.path}:${e.size}:${e.chunks.length}`), [
    "/a/late:6:1", "/ab:3:1", "/b:14:2", "/c:7:1", "/d:8:1",
  ]);
  t.is(result.find((e) => e.path === "/b")?.hash, sha("b+"));
  const wiped = await collect(storage.materialize(parent, [{ kind: "delete", path: "/" }]));
  t.deepEqual(wiped, []);
});

test("torn tail: a cut at every byte of the last record replays the records before it", async (t) => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "log");
    const log = await storage.createStagingLog(file);
    const ops: storage.StagingOp[] = [
      { kind: "put", entry: entryOf("/one", "1", [10, 20]) },
      { kind: "delete", path: "/dir" },
      { kind: "copy", to: "/two", from: entryOf("/src", "s", [3]) },
      { kind: "append", path: "/one", hash: sha("1+"), chunks: [chunk("x", 4), chunk("y", 5)] },
    ];
    for (const op of ops.slice(0, -1)) await log.write(op);
    const lastStart = log.durableBytes;
    await log.write(ops[3]!);
    const end = log.durableBytes;
    await log.close();
    const whole = await readFile(file);
    t.is(whole.length, end);
    const damaged = path.join(dir, "damaged");
    for (let cut = lastStart; cut < end; cut += 1) {
      await writeFile(damaged, whole.subarray(0, cut));
      const recovery = await storage.openStagingLog(damaged);
      t.is(recovery.recordCount, 3, `cut at ${cut}`);
      t.is(recovery.truncatedBytes, cut - lastStart);
      t.deepEqual(await collect(recovery.log.ops()), ops.slice(0, 3));
      if ((cut - lastStart) % 8 === 0) { // The log goes on after recovery (fsyncs are slow: a sample).
        await recovery.log.write(ops[3]!);
        t.deepEqual(await readFile(damaged), whole, `cut at ${cut}: rewritten log equals the original`);
      }
      await recovery.log.close();
    }
  });
});

/** The code and details of the PfsError an open of `file` must fail with. */
async function openFailure(file: string): Promise<{ code: string; offset: unknown; message: string }> {
  try {
    const recovery = await storage.openStagingLog(file);
    await recovery.log.close();
  } catch (error) {
    if (error instanceof PfsError) {
      return { code: error.code, offset: error.details["offset"], message: error.message };
    }
    throw error;
  }
  return { code: "", offset: undefined, message: "opened" };
}

test("a flipped bit: the last record is a torn tail, a middle one is DATA_CORRUPTED", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const file = path.join(dir, "log");
    const log = await storage.createStagingLog(file);
    const ends: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      await log.put(randomEntry(prng, `/f${i}`));
      ends.push(log.durableBytes);
    }
    await log.close();
    const whole = await readFile(file);
    const damaged = path.join(dir, "damaged");
    for (let round = 0; round < 40; round += 1) {
      const offset = prng.intBetween(8, whole.length - 1);
      const bytes = Buffer.from(whole);
      bytes[offset] = (bytes[offset] ?? 0) ^ (1 << prng.intBelow(8));
      await writeFile(damaged, bytes);
      const kept = ends.filter((e) => e <= offset).length;
      const start = kept === 0 ? 8 : ends[kept - 1]!;
      const what = `seed ${seed} offset ${offset} (record ${kept} at ${start})`;
      const inLength = offset < start + 4;
      const last = kept === ends.length - 1;
      if (last && !inLength) {
        const recovery = await storage.openStagingLog(damaged);
        t.is(recovery.recordCount, kept, what);
        await recovery.log.close();
        t.is((await stat(damaged)).size, start, what);
        continue;
      }
      const failure = await openFailure(damaged);
      if (inLength && failure.code === "") {
        // A length field pointing past the end looks torn (the documented limit): cut there.
        t.is((await stat(damaged)).size, start, what);
        continue;
      }
      t.is(failure.code, "DATA_CORRUPTED", what);
      t.is(failure.offset, start, what);
      t.true(failure.message.includes(damaged) && failure.message.includes(`offset ${start}`), failure.message);
      t.deepEqual(await readFile(damaged), bytes, `${what}: a refused open changes nothing`);
    }
  });
});

test("torn tails are cut: trailing garbage cut short, zeros, a zero sector in the last batch", async (t) => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "log");
    const log = await storage.createStagingLog(file);
    for (let i = 0; i < 5; i += 1) await log.put(entryOf(`/f${i}`, `f${i}`, [i + 1]));
    const bigStart = log.durableBytes;
    // A record of 64 chunks (about 2.6 KiB): it spans whole 512-byte sectors.
    await log.put(entryOf("/big", "big", Array.from({ length: 64 }, (_, i) => i + 1)));
    const bigEnd = log.durableBytes;
    await log.put(entryOf("/after", "after", [7]));
    await log.close();
    const whole = await readFile(file);
    const damaged = path.join(dir, "damaged");

    await writeFile(damaged, Buffer.concat([whole, Buffer.from([0, 0, 0, 9, 1, 2, 3])]));
    let recovery = await storage.openStagingLog(damaged);
    t.is(recovery.recordCount, 7);
    t.is(recovery.truncatedBytes, 7);
    await recovery.log.close();

    await writeFile(damaged, Buffer.concat([whole, Buffer.alloc(4096)]));
    recovery = await storage.openStagingLog(damaged);
    t.is(recovery.recordCount, 7);
    t.is(recovery.truncatedBytes, 4096);
    await recovery.log.close();

    // A power loss left one sector of the unsynced batch unwritten: everything from the record
    // holding it is torn (nothing after it was acknowledged).
    const sector = Math.ceil((bigStart + 16) / 512) * 512;
    t.true(sector + 512 <= bigEnd, `sector ${sector} inside [${bigStart}, ${bigEnd})`);
    const holed = Buffer.from(whole);
    holed.fill(0, sector, sector + 512);
    await writeFile(damaged, holed);
    recovery = await storage.openStagingLog(damaged);
    t.is(recovery.recordCount, 5);
    t.is(recovery.truncatedBytes, whole.length - bigStart);
    t.deepEqual((await collect(recovery.log.ops())).map((op) => (op.kind === "put" ? op.entry.path : op.kind)),
      ["/f0", "/f1", "/f2", "/f3", "/f4"]);
    await recovery.log.close();
    t.is((await stat(damaged)).size, bigStart);

    // The same record with one flipped bit instead: damage, not a torn write.
    const flipped = Buffer.from(whole);
    flipped[sector + 100] = (flipped[sector + 100] ?? 0) ^ 0x10;
    await writeFile(damaged, flipped);
    const failure = await openFailure(damaged);
    t.is(failure.code, "DATA_CORRUPTED");
    t.is(failure.offset, bigStart);

    await writeFile(damaged, Buffer.from("not a log at all"));
    t.is((await openFailure(damaged)).code, "DATA_CORRUPTED");
  });
});

test("concurrent writes share fsyncs (group commit) and keep their call order", async (t) => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "log");
    const log = await storage.createStagingLog(file);
    const entries = Array.from({ length: 2000 }, (_, i) => entryOf(`/small/${i}`, `${i}`, [i + 1]));
    await Promise.all(entries.map((e) => log.put(e)));
    t.is(log.recordCount, 2000);
    t.true(log.syncCount <= 5, `2000 concurrent writes took ${log.syncCount} fsyncs`);
    const ops = await collect(log.ops());
    t.deepEqual(ops.map((op) => (op.kind === "put" ? op.entry.path : op.kind)), entries.map((e) => e.path));
    await log.close();
  });
});

test("bad writes are refused and change nothing; a sealed log refuses writes", async (t) => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "log");
    const log = await storage.createStagingLog(file);
    await log.put(entryOf("/ok", "ok", [1]));
    const size = (await stat(file)).size;
    const bad: storage.StagingOp[] = [
      { kind: "put", entry: { ...entryOf("/x", "x", [1]), size: 2 } },
      { kind: "put", entry: entryOf("/x/../y", "x", [1]) },
      { kind: "delete", path: "relative" },
      { kind: "delete", path: "" },
      { kind: "append", path: "/x", hash: "nothex", chunks: [] },
      { kind: "copy", to: "/", from: entryOf("/x", "x", [1]) },
    ];
    for (const op of bad) {
      const error = await t.throwsAsync(log.write(op));
      t.is(error instanceof PfsError ? error.code : "", "INVALID_ARGUMENT", JSON.stringify(op));
    }
    t.is((await stat(file)).size, size);
    t.is(log.recordCount, 1);
    const inFlight = log.put(entryOf("/last", "last", [2]));
    await log.seal();
    await inFlight; // Accepted before the seal: durable.
    const refused = await t.throwsAsync(log.put(entryOf("/late", "late", [3])));
    t.is(refused instanceof PfsError ? refused.code : "", "FAILED_PRECONDITION");
    await log.close();
    const reopened = await storage.openStagingLog(file);
    t.is(reopened.recordCount, 2);
    await reopened.log.close();
    await truncate(file, 3);
    const error = await t.throwsAsync(storage.openStagingLog(file));
    t.is(error instanceof PfsError ? error.code : "", "DATA_CORRUPTED");
  });
});
