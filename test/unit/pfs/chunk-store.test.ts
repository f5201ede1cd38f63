// Goal: the chunk store keeps each chunk once under its sha256 in fan-out directories, never
// rewrites a chunk it has, detects damaged chunks on read, survives concurrent puts of the
// same id, cleans temp files left by a crash, and leaves no trace of an aborted session.
// Method: real files in a temp directory per test; damage is done by writing the chunk file
// directly; seeded random chunks.
import { readdir, stat, writeFile as writeDiskFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import { PfsError, Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import { ChunkStore, sha256Hex } from "../../../pkg/pfs/chunk/index.js";
import { randomBytesFrom, withTempDir } from "./chunk-fixture.js";

const idPath = (dir: string, id: string): string => path.join(dir, id.slice(0, 2), id.slice(2));

test("put stores a chunk under its id; get, has, size and list see it", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bytes = Buffer.from("hello, chunks");
    const result = await store.put(bytes);
    const id = sha256Hex(bytes);
    t.deepEqual(result, { id, size: bytes.length, stored: true });
    t.deepEqual(Buffer.from(await store.get(id)), bytes);
    t.true(await store.has(id));
    t.is(await store.size(id), bytes.length);
    t.deepEqual((await stat(idPath(dir, id))).size, bytes.length);
    const listed: string[] = [];
    for await (const listedId of store.list()) listed.push(listedId);
    t.deepEqual(listed, [id]);
    t.deepEqual(await readdir(path.join(dir, "tmp")), [], "no temp file survives a put");
  });
});

test("a chunk already stored is not rewritten (dedup), in one call or across calls", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bytes = randomBytesFrom(new Prng(6101), 5000);
    const first = await store.put(bytes);
    const before = await stat(idPath(dir, first.id));
    const again = await store.put(bytes);
    t.false(again.stored);
    const after = await stat(idPath(dir, first.id));
    t.is(after.ino, before.ino, "the file was not replaced");
    t.is(after.mtimeMs, before.mtimeMs);
    const many = await store.putMany([bytes, Buffer.from("x"), Buffer.from("x")]);
    t.deepEqual(many.map((result) => result.stored), [false, true, false]);
  });
});

test("list yields every id in ascending order across fan-out directories", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const prng = new Prng(6102);
    const chunks = Array.from({ length: 300 }, () => randomBytesFrom(prng, 1 + prng.intBelow(300)));
    const results = await store.putMany(chunks);
    const expected = [...new Set(results.map((result) => result.id))].sort();
    const listed: string[] = [];
    for await (const id of store.list()) listed.push(id);
    t.deepEqual(listed, expected, "seed 6102");
    t.is(store.pinnedCount, 0, "a committed session pins nothing");
  });
});

test("a damaged chunk is refused with DATA_CORRUPTED naming it; a missing one is NOT_FOUND", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const { id } = await store.put(Buffer.from("precious bytes"));
    await writeDiskFile(idPath(dir, id), "precious bytez");
    const damaged = await t.throwsAsync(store.get(id), { instanceOf: PfsError });
    t.is(damaged.code, "DATA_CORRUPTED");
    t.true(damaged.message.includes(id), damaged.message);
    const other = sha256Hex(Buffer.from("never stored"));
    const missing = await t.throwsAsync(store.get(other), { instanceOf: PfsError });
    t.is(missing.code, "NOT_FOUND");
    t.false(await store.has(other));
    await t.throwsAsync(store.size(other), { instanceOf: PfsError, message: /not found/ });
  });
});

test("ids that are not 64 lowercase hex characters are refused before touching the disk", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bad = ["", "../../etc/passwd", "A".repeat(64), "a".repeat(63), `${"a".repeat(62)}/x`];
    for (const id of bad) {
      const error = await t.throwsAsync(store.get(id), { instanceOf: PfsError }, JSON.stringify(id));
      t.is(error.code, "INVALID_ARGUMENT");
      await t.throwsAsync(store.delete(id), { instanceOf: PfsError });
    }
  });
});

test("concurrent puts of the same bytes all succeed and leave one file", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bytes = randomBytesFrom(new Prng(6103), 70_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.put(bytes)));
    t.true(results.every((result) => result.id === sha256Hex(bytes)));
    t.true(results.filter((result) => result.stored).length >= 1);
    t.deepEqual(Buffer.from(await store.get(sha256Hex(bytes))), bytes);
    t.deepEqual(await readdir(path.join(dir, "tmp")), []);
    t.deepEqual(await readdir(path.join(dir, sha256Hex(bytes).slice(0, 2))), [sha256Hex(bytes).slice(2)]);
  });
});

test("temp files left by a crash are removed when the store opens", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const { id } = await store.put(Buffer.from("kept"));
    const tempDir = path.join(dir, "tmp");
    await writeDiskFile(path.join(tempDir, `${"b".repeat(64)}.123456.tmp`), "half a chunk");
    await writeDiskFile(path.join(tempDir, "junk"), "x");
    const reopened = await ChunkStore.open({ dir });
    t.deepEqual(await readdir(tempDir), []);
    t.deepEqual(Buffer.from(await reopened.get(id)).toString(), "kept");
    t.is((await readdir(dir)).length, 257, "256 fan-out directories and tmp");
  });
});

test("an aborted session stores nothing and unpins everything", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const session = store.openSession();
    const added = await session.add(Buffer.from("maybe"));
    t.true(added.stored);
    t.is(store.pinnedCount, 1);
    t.false(await store.has(added.id), "nothing is visible before commit");
    await session.abort();
    t.false(await store.has(added.id));
    t.is(store.pinnedCount, 0);
    t.deepEqual(await readdir(path.join(dir, "tmp")), []);
  });
});

test("a session with more chunks than the in-flight write bound commits them all", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const session = store.openSession();
    const prng = new Prng(6104);
    const chunks = Array.from({ length: 400 }, () => randomBytesFrom(prng, 64));
    const results = await Promise.all(chunks.map((chunk) => session.add(chunk)));
    await session.commit();
    for (const [index, result] of results.entries()) {
      t.deepEqual(Buffer.from(await store.get(result.id)), chunks[index], `seed 6104 chunk ${index}`);
    }
    t.deepEqual(await readdir(path.join(dir, "tmp")), []);
  });
});

test("delete removes a chunk and reports whether it was there", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const { id } = await store.put(Buffer.from("short-lived"));
    t.true(await store.delete(id));
    t.false(await store.has(id));
    t.false(await store.delete(id));
    const again = await store.put(Buffer.from("short-lived"));
    t.true(again.stored, "a deleted chunk is written again");
  });
});

test("a chunk pushed under a wrong name or size is refused and nothing is written", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bytes = Buffer.from("pushed by a replica");
    const id = sha256Hex(bytes);
    const session = store.openSession();
    const wrongId = await t.throwsAsync(session.add(bytes, { id: sha256Hex(Buffer.from("x")), size: bytes.length }), {
      instanceOf: PfsError,
    });
    t.is(wrongId.code, "INVALID_ARGUMENT");
    await t.throwsAsync(session.add(bytes, { id, size: bytes.length + 1 }), { message: /hashing to/ });
    t.is(session.chunkCount, 0);
    const right = await session.add(bytes, { id, size: bytes.length });
    t.true(right.stored);
    await session.commit();
    t.deepEqual(Buffer.from(await store.get(id)), bytes);
    const listed: string[] = [];
    for await (const listedId of store.list()) listed.push(listedId);
    t.deepEqual(listed, [id]);
  });
});
