// Goal: the chunk hasher thread names every chunk and hashes every stream exactly as sha256 on
// this thread would, with many streams interleaved, chunks in shared or ordinary memory; a
// dead thread fails what was asked of it (INTERNAL) and the next request starts a new one; a
// big file written through it has the right hash and chunk ids. Method: seeded random chunks
// over several streams, compared with node:crypto here; terminating the thread under load.
import { createHash } from "node:crypto";
import * as path from "node:path";
import test from "ava";
import { Prng, systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import { BufferPool, ChunkHasher, ChunkStore, writeFile } from "../../../pkg/pfs/chunk/index.js";
import { randomBytesFrom, splitBySizes, withTempDir } from "./chunk-fixture.js";

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

test("interleaved streams get each chunk's id and each stream's hash in order", async (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  const hasher = new ChunkHasher();
  const pool = new BufferPool();
  const files = Array.from({ length: 5 }, (_, index) =>
    randomBytesFrom(prng, 1 + prng.intBelow(300_000 * (index + 1))));
  const streams = files.map(() => hasher.openStream());
  const pieces = files.map((file) => splitBySizes(file, [1 + prng.intBelow(70_000)]));
  const names: Promise<string>[][] = files.map(() => []);
  for (let round = 0; pieces.some((list) => round < list.length); round += 1) {
    for (const [index, list] of pieces.entries()) {
      const piece = list[round];
      if (piece === undefined) continue;
      // Every other chunk in pooled (shared) memory, as a chunker would send a big one.
      const bytes = round % 2 === 0 ? piece : pool.take(piece.length).fill(0);
      if (bytes !== piece) bytes.set(piece);
      names[index]?.push(streams[index]!.name(bytes));
    }
  }
  for (const [index, stream] of streams.entries()) {
    t.deepEqual(await Promise.all(names[index]!), pieces[index]!.map(sha256), `seed ${seed}`);
    t.is(await stream.finish(), sha256(files[index]!), `seed ${seed}`);
  }
  t.is(await hasher.openStream().finish(), sha256(new Uint8Array(0)), "an empty stream");
  await hasher.close();
});

test("a hasher thread that dies fails what was asked with INTERNAL; the next request starts another", async (t) => {
  const hasher = new ChunkHasher();
  const stream = hasher.openStream();
  const asked = Array.from({ length: 50 }, (_, index) => stream.name(Buffer.alloc(100_000, index)));
  await hasher.close();
  for (const name of asked) await t.throwsAsync(name, { code: "INTERNAL" });
  const again = hasher.openStream();
  t.is(await again.name(Buffer.from("abc")), sha256(Buffer.from("abc")));
  t.is(await again.finish(), sha256(Buffer.from("abc")));
  await hasher.close();
});

test("a big file written through the hasher thread has the hash and chunk ids of its bytes", async (t) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const content = randomBytesFrom(new Prng(seed), 10 * 1024 * 1024 + 77);
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir: path.join(dir, "chunks") });
    const file = await writeFile(store, splitBySizes(content, [200_000]));
    t.is(file.hash, sha256(content), `seed ${seed}`);
    t.true(file.chunks.length >= 3, `${file.chunks.length} chunks`);
    let offset = 0;
    for (const ref of file.chunks) {
      t.is(ref.id, sha256(content.subarray(offset, offset + ref.size)), `seed ${seed}`);
      offset += ref.size;
    }
    t.is(offset, content.length);
  });
});
