// Goal: a large file (64 MiB, seeded random bytes) goes into a shard and comes back byte for
// byte, whole and as a range, with memory that does not grow with the file. Method: a real
// shard with the cluster's default chunk sizes; the source is generated piece by piece and
// hashed as it goes (the test never holds the file); process RSS is sampled during the put and
// the reads and its growth over the start is bounded loosely (the write session's in-flight
// bound is 64 MiB), not timed.
import { createHash } from "node:crypto";
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
import { randomBytesFrom } from "./chunk-fixture.js";
import { commitId, testSeed, withTempDir } from "./shard-fixture.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import { LocalShard } from "../../../pkg/pfs/shard/index.js";

const mebibyte = 1024 * 1024;
const fileBytes = 64 * mebibyte;
const pieceBytes = 256 * 1024;
const range = { start: 30 * mebibyte + 123, end: 31 * mebibyte + 77 };
/** Loose: the session may hold 64 MiB of chunks in flight, plus garbage not yet collected. */
const rssGrowthBytesMax = 256 * mebibyte;

test("a 64 MiB file is put and read back byte-identical with bounded memory", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  await withTempDir(async (dir) => {
    const shard = await LocalShard.open({ dir, shard: 3 });
    const commit = { repo: "big", id: commitId(1) };
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage.rss());
    };
    const written = createHash("sha256");
    const rangeParts: Buffer[] = [];
    async function* generate(): AsyncGenerator<Uint8Array> {
      const prng = new Prng(seed);
      for (let offset = 0; offset < fileBytes; offset += pieceBytes) {
        const piece = randomBytesFrom(prng, pieceBytes);
        written.update(piece);
        const from = Math.max(range.start - offset, 0);
        const to = Math.min(range.end - offset, pieceBytes);
        if (from < to) rangeParts.push(Buffer.from(piece.subarray(from, to)));
        sample();
        await Promise.resolve();
        yield piece;
      }
    }
    const entry = await shard.putFile(commit, "", "/data/big.bin", generate());
    t.is(entry.size, fileBytes);
    t.is(entry.hash, written.digest("hex"), `seed ${seed}`);
    t.true(entry.chunks.length > 16, `${entry.chunks.length} chunks`);
    await shard.finishCommit(commit, "");

    const read = createHash("sha256");
    let readBytes = 0;
    for await (const piece of shard.getFile(commit, "/data/big.bin")) {
      read.update(piece);
      readBytes += piece.length;
      sample();
    }
    t.is(readBytes, fileBytes);
    t.is(read.digest("hex"), entry.hash, `seed ${seed}: read back`);
    const part: Uint8Array[] = [];
    for await (const piece of shard.getFile(commit, "/data/big.bin", range)) part.push(piece);
    t.true(Buffer.concat(part).equals(Buffer.concat(rangeParts)), `seed ${seed}: range`);
    t.log(`RSS grew by ${((peak - baseline) / mebibyte).toFixed(1)} MiB`);
    t.true(peak - baseline < rssGrowthBytesMax,
      `RSS grew by ${peak - baseline} bytes, more than ${rssGrowthBytesMax}`);
    await shard.close();
  });
});
