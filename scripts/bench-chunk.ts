// Benchmark of the chunk layer (run after `npm run build`:
// `node dist/scripts/bench-chunk.js [--megabytes N] [--files N] [--file-bytes N] [--dir D]`).
// Measures, on seeded random data: content-defined chunking with both sha256s (chunk ids and
// the whole content) in memory; writeFile of one large file into a chunk store on disk (real
// fsync); and ingest of many small files through one write session (one round of fsyncs),
// the workload Pachyderm users reported as slow. Prints a markdown table.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Prng } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import { ChunkStore, Chunker, writeFile } from "../pkg/pfs/chunk/index.js";

function randomBytes(prng: Prng, length: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i += 1) words[i] = prng.nextUint32();
  return Buffer.from(words.buffer, 0, length);
}

function* pieces(bytes: Buffer, size: number): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      megabytes: { type: "string", default: "256" },
      files: { type: "string", default: "10000" },
      "file-bytes": { type: "string", default: "3000" },
      dir: { type: "string", default: tmpdir() },
    },
  });
  const megabytes = Number(values.megabytes);
  const fileCount = Number(values.files);
  const fileBytes = Number(values["file-bytes"]);
  const prng = new Prng(7001);
  const big = randomBytes(prng, megabytes * 1024 * 1024);
  const rows: string[] = [];

  let started = performance.now();
  const chunker = new Chunker();
  let chunkCount = 0;
  for (const piece of pieces(big, 65_536)) chunkCount += chunker.push(piece).length;
  chunkCount += chunker.finish().chunks.length;
  let seconds = (performance.now() - started) / 1000;
  rows.push(`| chunk + sha256 (memory) | ${megabytes} MiB, ${chunkCount} chunks | ` +
    `${(megabytes / seconds).toFixed(0)} MiB/s |`);

  const root = await mkdtemp(join(values.dir, "pfs-bench-chunk-"));
  try {
    const store = await ChunkStore.open({ dir: join(root, "large") });
    started = performance.now();
    await writeFile(store, pieces(big, 65_536));
    seconds = (performance.now() - started) / 1000;
    rows.push(`| writeFile, one large file | ${megabytes} MiB | ${(megabytes / seconds).toFixed(0)} MiB/s |`);

    const small = await ChunkStore.open({ dir: join(root, "small") });
    const files = Array.from({ length: fileCount }, () => randomBytes(prng, fileBytes));
    started = performance.now();
    const session = small.openSession();
    for (const file of files) await writeFile(session, [file]);
    await session.commit();
    seconds = (performance.now() - started) / 1000;
    const mib = (fileCount * fileBytes) / (1024 * 1024);
    rows.push(`| writeFile × ${fileCount}, one session | ${fileBytes} B each | ` +
      `${(fileCount / seconds).toFixed(0)} files/s, ${(mib / seconds).toFixed(1)} MiB/s |`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(["| workload | size | throughput |", "| --- | --- | --- |", ...rows, ""].join("\n"));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-chunk: ${error instanceof Error ? error.stack ?? "" : String(error)}\n`);
  process.exit(1);
});
