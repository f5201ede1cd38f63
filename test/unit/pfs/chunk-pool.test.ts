// Goal: big chunks assembled in pooled buffers are exactly the chunks plain copies would give,
// a buffer goes back to the pool only once nothing reads it any more, and a failed write
// acknowledges nothing and leaves the store verifiable. Method: a 9 MiB seeded random file
// with the cluster's default chunk sizes, chunked in several read sizes; writes from a source
// that overwrites its piece buffer after each yield (so an early give-back or a missing copy
// would corrupt a chunk, which the read-back's hash check catches); a write session whose temp
// directory vanishes mid-stream.
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import { Prng, systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import {
  BufferPool, ChunkStore, Chunker, defaultChunking, readFile, writeFile,
} from "../../../pkg/pfs/chunk/index.js";
import { collect, randomBytesFrom, splitBySizes, withTempDir } from "./chunk-fixture.js";

const mebibyte = 1024 * 1024;
const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Yields `bytes` in pieces of `size`, all through one buffer overwritten after each yield. */
async function* reusingSource(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  const piece = Buffer.alloc(size);
  for (let at = 0; at < bytes.length; at += size) {
    const length = Math.min(size, bytes.length - at);
    piece.set(bytes.subarray(at, at + length));
    await Promise.resolve();
    yield piece.subarray(0, length);
    piece.fill(0xa5); // What a reader reusing its buffer would do to the bytes just yielded.
  }
}

test("a pool reuses what is given back, ignores foreign and repeated give-backs, and bounds what it keeps", (t) => {
  const pool = new BufferPool(3 * mebibyte);
  const first = pool.take(mebibyte);
  t.is(first.length, mebibyte);
  pool.give(first.subarray(10, 20));
  t.is(pool.freeBytes, mebibyte);
  pool.give(first); // Already given: kept once only.
  pool.give(Buffer.alloc(mebibyte)); // Not lent by this pool.
  t.is(pool.freeBytes, mebibyte);
  const again = pool.take(mebibyte);
  t.is(again.buffer, first.buffer, "the free buffer is lent again");
  t.is(pool.freeBytes, 0);
  const others = [pool.take(mebibyte), pool.take(mebibyte), pool.take(mebibyte), again];
  t.true(new Set(others.map((buffer) => buffer.buffer)).size === 4, "lent buffers are distinct");
  for (const buffer of others) pool.give(buffer);
  t.is(pool.freeBytes, 3 * mebibyte, "at most the bound is kept");
  t.is(pool.take(2 * mebibyte).length, 2 * mebibyte, "another capacity is allocated anew");
});

test("a pool keeps free buffers only while it has a user", (t) => {
  const pool = new BufferPool(8 * mebibyte);
  const first = pool.use();
  const second = pool.use();
  pool.give(pool.take(mebibyte));
  first();
  t.is(pool.freeBytes, mebibyte, "another user remains");
  second();
  t.is(pool.freeBytes, 0, "the last user is done: nothing kept");
  t.throws(second, { message: /released twice/ });
});

test("pooled assembly cuts the same chunks whatever the read sizes, and they rebuild the file", (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const content = randomBytesFrom(new Prng(seed), 9 * mebibyte + 12_345);
  const cut = (sizes: readonly number[]): { ids: string[]; rebuilt: Buffer; pooled: number } => {
    const pool = new BufferPool();
    const chunker = new Chunker(defaultChunking, pool);
    const ids: string[] = [];
    const parts: Buffer[] = [];
    let pooled = 0;
    for (const piece of [...splitBySizes(content, sizes), undefined]) {
      const chunks = piece === undefined ? chunker.finish().chunks : chunker.push(piece);
      for (const raw of chunks) {
        const chunk = piece === undefined ? raw : chunker.detach(raw, piece);
        t.is(sha256(chunk.bytes), chunk.id);
        t.true(chunk.bytes.length <= defaultChunking.maxBytes);
        ids.push(chunk.id);
        parts.push(Buffer.from(chunk.bytes));
        if (chunk.pool !== undefined) pooled += 1;
        pool.give(chunk.bytes); // Reused by later chunks: a stale view would show up.
      }
    }
    return { ids, rebuilt: Buffer.concat(parts), pooled };
  };
  const whole = cut([content.length]);
  t.true(whole.ids.length >= 4, `${whole.ids.length} chunks`);
  t.true(whole.rebuilt.equals(content), `seed ${seed}`);
  t.true(whole.pooled >= whole.ids.length - 1, "big chunks travel in pooled buffers");
  for (const sizes of [[65_536], [1_000_003], [4093, 300_000, 17]]) {
    const split = cut(sizes);
    t.deepEqual(split.ids, whole.ids, `read sizes ${sizes.join(",")}, seed ${seed}`);
    t.true(split.rebuilt.equals(content), `seed ${seed}`);
  }
});

test("files from sources that reuse their buffer are stored exactly, several at once", async (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir: path.join(dir, "chunks") });
    const contents = [6, 5, 7].map((megabytes) => randomBytesFrom(prng, megabytes * mebibyte + 999));
    const written = await Promise.all(contents.map((content, index) =>
      writeFile(store, reusingSource(content, [65_536, 1_048_576, 300_001][index] ?? 4096))));
    for (const [index, file] of written.entries()) {
      const content = contents[index] ?? Buffer.alloc(0);
      t.is(file.hash, sha256(content), `seed ${seed}`);
      t.true((await collect(readFile(store, file.chunks))).equals(content), `seed ${seed}`);
      for (const ref of file.chunks) t.is(sha256(await store.get(ref.id)), ref.id);
    }
  });
});

test("a write that fails mid-stream fails the commit, stores none of its chunks and keeps the store verifiable", async (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir: path.join(dir, "chunks") });
    const kept = await writeFile(store, [randomBytesFrom(prng, 3 * mebibyte)]);
    const content = randomBytesFrom(prng, 12 * mebibyte);
    const session = store.openSession();
    async function* failing(): AsyncGenerator<Uint8Array> {
      for (const [index, piece] of splitBySizes(content, [mebibyte]).entries()) {
        // Halfway, the temp directory goes: every chunk write from here on fails to open.
        if (index === 6) await rm(path.join(store.dir, "tmp"), { recursive: true });
        await Promise.resolve();
        yield piece;
      }
    }
    const file = await writeFile(session, failing());
    await t.throwsAsync(session.commit(), { code: "ENOENT" });
    for (const ref of file.chunks) t.false(await store.has(ref.id), `seed ${seed}`);
    const ids: string[] = [];
    for await (const id of store.list()) ids.push(id);
    t.deepEqual(ids.sort(), kept.chunks.map((ref) => ref.id).sort());
    for (const id of ids) t.is(sha256(await store.get(id)), id);
  });
});
