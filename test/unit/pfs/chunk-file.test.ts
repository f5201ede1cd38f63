// Goal: writeFile returns what a FileEntry needs (size, sha256, chunk list) and stores each
// chunk once across files; readFile returns exactly the requested byte range, reading only
// the chunks it overlaps, and refuses ranges outside the file. Method: real stores in temp
// directories, seeded random content with small chunk sizes (many chunks), fast-check ranges;
// "only the chunks it overlaps" is shown by damaging every chunk outside the range.
import { createHash } from "node:crypto";
import { writeFile as writeDiskFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import fc from "fast-check";
import { PfsError, Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import { type ChunkingOptions, ChunkStore, readFile, writeFile } from "../../../pkg/pfs/chunk/index.js";
import { collect, randomBytesFrom, splitBySizes, withTempDir } from "./chunk-fixture.js";

const chunking: ChunkingOptions = { minBytes: 256, averageBytes: 1024, maxBytes: 4096 };

test("writeFile reports size, sha256 and chunks; readFile of the whole returns the bytes", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const content = randomBytesFrom(new Prng(9101), 50_000);
    const written = await writeFile(store, splitBySizes(content, [777, 3000]), { chunking });
    t.is(written.size, content.length);
    t.is(written.hash, createHash("sha256").update(content).digest("hex"));
    t.true(written.chunks.length > 10, "seed 9101: small chunk sizes give many chunks");
    t.is(written.chunks.reduce((sum, chunk) => sum + chunk.size, 0), content.length);
    t.deepEqual(await collect(readFile(store, written.chunks)), content);
    t.is(store.pinnedCount, 0);
  });
});

test("byte-range reads equal slices of the original", async (t) => {
  const seed = 9102;
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const content = randomBytesFrom(new Prng(seed), 30_000);
    const { chunks } = await writeFile(store, [content], { chunking });
    const ranges = fc.tuple(fc.nat({ max: content.length }), fc.nat({ max: content.length }))
      .map(([a, b]): [number, number] => (a <= b ? [a, b] : [b, a]));
    await fc.assert(fc.asyncProperty(ranges, async ([start, end]) => {
      const read = await collect(readFile(store, chunks, { start, end }));
      return read.equals(content.subarray(start, end));
    }), { seed, numRuns: 60 });
    t.deepEqual(await collect(readFile(store, chunks, { start: 123 })), content.subarray(123));
    t.deepEqual(await collect(readFile(store, chunks, { end: 77 })), content.subarray(0, 77));
  });
});

test("a range read touches only the chunks it overlaps", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const content = randomBytesFrom(new Prng(9103), 40_000);
    const { chunks } = await writeFile(store, [content], { chunking });
    // Damage every chunk but the 3rd and 4th.
    let offset = 0;
    let start = 0;
    let end = 0;
    for (const [index, chunk] of chunks.entries()) {
      if (index === 2) start = offset + 10;
      if (index === 3) end = offset + chunk.size - 10;
      if (index !== 2 && index !== 3) {
        await writeDiskFile(path.join(dir, chunk.id.slice(0, 2), chunk.id.slice(2)), "rot");
      }
      offset += chunk.size;
    }
    t.deepEqual(await collect(readFile(store, chunks, { start, end })), content.subarray(start, end));
    const error = await t.throwsAsync(collect(readFile(store, chunks)), { instanceOf: PfsError });
    t.is(error.code, "DATA_CORRUPTED");
    t.true(error.message.includes(chunks[0]!.id));
  });
});

test("files sharing content share chunks: the second write stores only what is new", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const prng = new Prng(9104);
    const base = randomBytesFrom(prng, 60_000);
    const first = await writeFile(store, [base], { chunking });
    const edited = Buffer.concat([base.subarray(0, 30_000), Buffer.from("inserted!"), base.subarray(30_000)]);
    const second = await writeFile(store, [edited], { chunking });
    const copy = await writeFile(store, splitBySizes(base, [1000]), { chunking });
    t.deepEqual(copy.chunks, first.chunks, "the same bytes give the same chunk list");
    const firstIds = new Set(first.chunks.map((chunk) => chunk.id));
    const shared = second.chunks.filter((chunk) => firstIds.has(chunk.id));
    t.true(shared.reduce((sum, chunk) => sum + chunk.size, 0) >= 0.8 * edited.length, "seed 9104");
    const stored: string[] = [];
    for await (const id of store.list()) stored.push(id);
    const distinct = new Set([...first.chunks, ...second.chunks].map((chunk) => chunk.id));
    t.is(stored.length, distinct.size, "each distinct chunk is stored once");
    t.deepEqual(await collect(readFile(store, second.chunks)), edited);
  });
});

test("many small files written through one session become durable at its commit", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const prng = new Prng(9105);
    const files = Array.from({ length: 200 }, (_, index) => randomBytesFrom(prng, 1 + (index % 7) * 100));
    const session = store.openSession();
    const written = [];
    for (const file of files) written.push(await writeFile(session, [file]));
    await session.commit();
    for (const [index, file] of files.entries()) {
      t.is(written[index]!.chunks.length, 1, "a small file is one chunk");
      t.deepEqual(await collect(readFile(store, written[index]!.chunks)), file, `seed 9105 file ${index}`);
    }
    t.is(store.pinnedCount, 0);
  });
});

test("ranges outside the file, and impossible chunk sizes, are refused before any read", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const { chunks } = await writeFile(store, [Buffer.from("0123456789")]);
    for (const range of [{ start: -1 }, { start: 5, end: 4 }, { end: 11 }, { start: 0.5 }, { start: 11 }]) {
      const error = await t.throwsAsync(collect(readFile(store, chunks, range)), { instanceOf: PfsError });
      t.is(error.code, "INVALID_ARGUMENT", JSON.stringify(range));
    }
    const bogus = [{ id: chunks[0]!.id, size: -3 }];
    await t.throwsAsync(collect(readFile(store, bogus)), { instanceOf: PfsError, message: /impossible size/ });
    t.deepEqual(await collect(readFile(store, chunks, { start: 10 })), Buffer.alloc(0));
    t.deepEqual(await collect(readFile(store, [])), Buffer.alloc(0));
  });
});
