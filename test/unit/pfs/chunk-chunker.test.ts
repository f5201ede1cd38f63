// Goal: the content-defined chunker cuts the same bytes at the same points whatever the read
// sizes, respects its size bounds, reports the whole content's sha256 and size, and keeps
// most chunks when bytes are inserted in the middle of a large file. Method: seeded
// fast-check properties with small chunk sizes (many cuts per input), and a 32 MiB seeded
// random file with the cluster's default sizes for the edit test.
import { createHash } from "node:crypto";
import test from "ava";
import fc from "fast-check";
import { PfsError, Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import {
  type Chunk, type ChunkingOptions, Chunker, defaultChunking, gearTable,
} from "../../../pkg/pfs/chunk/index.js";
import { randomBytesFrom, splitBySizes } from "./chunk-fixture.js";

const small: ChunkingOptions = { minBytes: 64, averageBytes: 256, maxBytes: 1024 };

function chunkAll(pieces: Iterable<Uint8Array>, options: ChunkingOptions): {
  chunks: Chunk[]; size: number; hash: string;
} {
  const chunker = new Chunker(options);
  const chunks: Chunk[] = [];
  // Copy each chunk: a chunk may alias the piece, and the caller below may reuse pieces.
  const keep = (list: Chunk[]): void => {
    for (const chunk of list) chunks.push({ id: chunk.id, bytes: Buffer.from(chunk.bytes) });
  };
  for (const piece of pieces) keep(chunker.push(piece));
  const end = chunker.finish();
  keep([...end.chunks]);
  return { chunks, size: end.sizeBytes, hash: end.hash };
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

test("the gear table is pinned: changing it would re-chunk every stored file", (t) => {
  t.is(gearTable.length, 256);
  t.is(gearTable[0], -1383714824);
  t.is(gearTable[1], -1977386847);
  t.is(gearTable[255], -839079178);
});

test("cut points do not depend on how the input is split into reads", (t) => {
  const seed = 5101;
  // Data mixes random bytes with runs of a few values, so both hash paths (cut on mask, forced
  // cut at max) are exercised.
  const data = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 6000 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 900 })), {
      maxLength: 12,
    }).map((runs) => Buffer.concat(runs.map(([value, length]) => Buffer.alloc(length, value)))),
  );
  const sizes = fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 8 });
  fc.assert(fc.property(data, sizes, (bytes, readSizes) => {
    const whole = chunkAll([bytes], small);
    const split = chunkAll(splitBySizes(bytes, readSizes), small);
    const bytewise = chunkAll(splitBySizes(bytes, [1]), small);
    const ids = (result: { chunks: Chunk[] }): string[] => result.chunks.map((chunk) => chunk.id);
    return JSON.stringify(ids(whole)) === JSON.stringify(ids(split)) &&
      JSON.stringify(ids(whole)) === JSON.stringify(ids(bytewise)) && split.hash === whole.hash;
  }), { seed, numRuns: 150 });
  t.pass(`seed ${seed}`);
});

test("chunks respect the bounds, name their bytes, and rebuild the content", (t) => {
  const seed = 5102;
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 20_000 }), (bytes) => {
    const result = chunkAll(splitBySizes(bytes, [4096]), small);
    const last = result.chunks.length - 1;
    result.chunks.forEach((chunk, index) => {
      const size = chunk.bytes.length;
      const minimum = index === last ? 1 : small.minBytes;
      if (size < minimum || size > small.maxBytes) throw new Error(`chunk ${index} has ${size} bytes`);
      if (chunk.id !== sha256(chunk.bytes)) throw new Error(`chunk ${index} misnamed`);
    });
    const rebuilt = Buffer.concat(result.chunks.map((chunk) => chunk.bytes));
    return rebuilt.equals(bytes) && result.size === bytes.length && result.hash === sha256(bytes);
  }), { seed, numRuns: 200 });
  t.pass(`seed ${seed}`);
});

test("an empty stream has no chunk; content of one byte is one chunk", (t) => {
  const empty = chunkAll([], defaultChunking);
  t.deepEqual(empty.chunks, []);
  t.is(empty.size, 0);
  t.is(empty.hash, sha256(new Uint8Array(0)));
  const one = chunkAll([new Uint8Array([7])], defaultChunking);
  t.is(one.chunks.length, 1);
  t.is(one.chunks[0]!.id, sha256(new Uint8Array([7])));
});

test("a file of the minimum chunk size or less is one chunk", (t) => {
  const prng = new Prng(5103);
  const bytes = randomBytesFrom(prng, defaultChunking.minBytes);
  const result = chunkAll(splitBySizes(bytes, [65_536]), defaultChunking);
  t.is(result.chunks.length, 1);
  t.is(result.chunks[0]!.bytes.length, defaultChunking.minBytes);
});

test("constant bytes never match the mask, so cuts are forced at the maximum", (t) => {
  const zeros = Buffer.alloc(2 * defaultChunking.maxBytes + 1000);
  const result = chunkAll(splitBySizes(zeros, [100_000]), defaultChunking);
  t.deepEqual(result.chunks.map((chunk) => chunk.bytes.length),
    [defaultChunking.maxBytes, defaultChunking.maxBytes, 1000]);
  t.is(result.chunks[0]!.id, result.chunks[1]!.id, "identical chunks get one id");
});

test("inserting bytes in the middle of a 32 MiB file keeps at least 90% of its chunk bytes", (t) => {
  const seed = 5104;
  const prng = new Prng(seed);
  const original = randomBytesFrom(prng, 32 * 1024 * 1024);
  const at = 16 * 1024 * 1024 + 12_345;
  const edited = Buffer.concat([original.subarray(0, at), randomBytesFrom(prng, 100), original.subarray(at)]);
  const before = chunkAll(splitBySizes(original, [65_536]), defaultChunking);
  const after = chunkAll(splitBySizes(edited, [1_000_003]), defaultChunking);
  const known = new Set(before.chunks.map((chunk) => chunk.id));
  const sharedBytes = after.chunks.filter((chunk) => known.has(chunk.id))
    .reduce((sum, chunk) => sum + chunk.bytes.length, 0);
  const ratio = sharedBytes / edited.length;
  t.true(ratio >= 0.9, `seed ${seed}: only ${(ratio * 100).toFixed(1)}% of chunk bytes shared`);
  t.true(ratio < 1, `seed ${seed}: the edited region must change some chunk`);
  // Normalized chunking keeps the mean near the 1 MiB target (never far above, with min 256 KiB).
  const mean = original.length / before.chunks.length;
  t.true(mean > 512 * 1024 && mean < 2 * 1024 * 1024, `seed ${seed}: mean chunk ${mean} bytes`);
});

test("bad chunking options are refused with INVALID_ARGUMENT", (t) => {
  const bad: ChunkingOptions[] = [
    { minBytes: 16, averageBytes: 256, maxBytes: 1024 },
    { minBytes: 512, averageBytes: 256, maxBytes: 1024 },
    { minBytes: 64, averageBytes: 300, maxBytes: 1024 },
    { minBytes: 64, averageBytes: 256, maxBytes: 256 },
    { minBytes: 64, averageBytes: 256, maxBytes: 2 ** 30 },
    { minBytes: 64.5, averageBytes: 256, maxBytes: 1024 },
  ];
  for (const options of bad) {
    const error = t.throws(() => new Chunker(options), { instanceOf: PfsError }, JSON.stringify(options));
    t.is(error.code, "INVALID_ARGUMENT");
  }
});
