// Goal: shardOf is the on-disk sharding function and must never change: known paths map to
// pinned shards (sha256's first 4 bytes, big-endian, mod S), results are in [0, S), and the
// spread over many paths is even (every shard within ±10% of the mean for S = 16).
// Method: pinned values (checked by hand with `printf '/a' | sha256sum`), a uniformity count
// over 100k paths from a seeded PRNG (the seed is in the failure message).
import test from "ava";
import { AssertionError, Prng, limits } from "../../../pkg/common/index.js";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import { shardOf } from "../../../pkg/pfs/path/index.js";

test("pinned values: the sharding function never changes", (t) => {
  // [path, first 4 bytes of sha256 as uint32, shard for S = 16, 3, 1024]
  const pinned: [string, number, number, number, number][] = [
    ["/", 2321472178, 2, 1, 690],
    ["/a", 1783684229, 5, 2, 133],
    ["/a/b.csv", 1236832054, 6, 1, 822],
    ["/data/2024/01/part-00000.parquet", 3516408266, 10, 2, 458],
    ["/日本/😀", 182099175, 7, 0, 231],
  ];
  for (const [path, word, s16, s3, s1024] of pinned) {
    t.is<number, number>(shardOf(path, 16), s16, path);
    t.is<number, number>(shardOf(path, 3), s3, path);
    t.is<number, number>(shardOf(path, 1024), s1024, path);
    t.is<number, number>(shardOf(path, 2 ** 10), word % 1024, path);
    t.is<number, number>(shardOf(path, 1), 0);
  }
});

test("the shard count and the path are checked", (t) => {
  t.throws(() => shardOf("/a", 0), { instanceOf: AssertionError });
  t.throws(() => shardOf("/a", 1.5), { instanceOf: AssertionError });
  t.throws(() => shardOf("/a", limits.pfsShardsMax + 1), { instanceOf: AssertionError });
  t.throws(() => shardOf("/a/", 16), { instanceOf: AssertionError });
  t.throws(() => shardOf("a", 16), { instanceOf: AssertionError });
});

test("uniform enough: 100k random paths over 16 shards, each within ±10% of the mean", (t) => {
  const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);
  const prng = new Prng(seed);
  const shards = 16;
  const paths = 100_000;
  const counts = new Array<number>(shards).fill(0);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-";
  for (let index = 0; index < paths; index += 1) {
    const depth = prng.intBetween(1, 4);
    let path = "";
    for (let level = 0; level < depth; level += 1) {
      const length = prng.intBetween(1, 12);
      let segment = "";
      for (let c = 0; c < length; c += 1) segment += alphabet.charAt(prng.intBelow(alphabet.length));
      path += `/${segment === "." || segment === ".." ? "x" : segment}`;
    }
    const shard = shardOf(path, shards);
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  const mean = paths / shards;
  for (const [shard, count] of counts.entries()) {
    t.true(Math.abs(count - mean) <= mean / 10, `seed ${seed}: shard ${shard} has ${count}, mean ${mean}`);
  }
});

test("sequential names (part-00000 … part-99999) spread evenly too", (t) => {
  const counts = new Array<number>(16).fill(0);
  for (let index = 0; index < 100_000; index += 1) {
    const shard = shardOf(`/out/part-${String(index).padStart(5, "0")}`, 16);
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  for (const count of counts) t.true(Math.abs(count - 6_250) <= 625, `count ${count}`);
});
