// Benchmark of one pfs shard replica (run after `npm run build`, or as `scripts/bench pfs`:
// `node dist/scripts/bench-pfs.js [--quick] [--megabytes N] [--files N] [--file-bytes N]
// [--changed-percent P] [--dir D]`; `--quick` is 256 MiB and 2,000 files, for iterating). Drives `LocalShard` directly on this machine's disk and
// prints a markdown table of:
//   (a) put and get of one generated stream (default 2 GiB) with the process's peak RSS and
//       the put's CPU time a MiB (all threads), next to the disk's limits measured in the same
//       run (`dd … conv=fdatasync` to write, just before and just after the put, and pfs's
//       speed over their mean; `dd` reading the file back from the page cache);
//   (b) many small files (default 10,000 of 4 KiB) put into one commit, next to `git add -A &&
//       git commit` of the same tree;
//   (c) the same files re-committed with 1% changed (deduplication), next to git again;
// with the bytes each stores. Data is deterministic (AES-CTR keystream from a fixed key), so
// runs compare; nothing repeats within it, so nothing dedups by accident (the "stored" column
// shows it). The big stream must cost far less to make than to store, since dd reads
// /dev/zero for free: a keystream made while timing costs more CPU than hashing and chunking
// it on some machines. So a 16 MiB keystream pool is made before the clock starts, and each
// 1 MiB piece is a window of it at a shifting offset, copied into one reused piece buffer (as
// a socket reader reuses its buffer; pfs must copy what it keeps), with the stream offset
// written into every 4 KiB of it, so no two chunks can be alike.
import { spawnSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import { LocalShard } from "../pkg/pfs/shard/index.js";

const mebibyte = 1024 * 1024;
const pieceBytes = 1 * mebibyte;
/** The keystream the big stream's pieces are windows of. */
const poolBytes = 16 * mebibyte;
/** How far the window moves besides one piece a piece: odd, so offsets do not repeat soon. */
const windowStrideBytes = 1_000_003;
/** Every this many bytes of the big stream start with their stream offset (unique content). */
const stampIntervalBytes = 4096;
const putsInFlightMax = 64;

/** A 16-byte AES key naming one deterministic stream: `label` as a big-endian number. */
function keyOf(label: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(label >>> 0, 12);
  return key;
}

/**
 * A deterministic stream of `total` bytes in which no 4 KiB repeats: windows of a keystream
 * pool (made by the caller before timing) with the stream offset stamped every 4 KiB, in
 * pieces of one buffer the generator refills after each yield.
 */
async function* generated(total: number, pool: Buffer): AsyncGenerator<Uint8Array> {
  const piece = Buffer.allocUnsafe(pieceBytes);
  let window = 0;
  for (let done = 0; done < total; done += pieceBytes) {
    const length = Math.min(pieceBytes, total - done);
    window = (window + windowStrideBytes) % (pool.length - pieceBytes);
    pool.copy(piece, 0, window, window + length);
    for (let at = 0; at + 8 <= length; at += stampIntervalBytes) {
      piece.writeDoubleLE(done + at, at);
    }
    await Promise.resolve();
    yield piece.subarray(0, length);
  }
}

function keystream(length: number, label: number): Buffer {
  return createCipheriv("aes-128-ctr", keyOf(label), Buffer.alloc(16, 1))
    .update(Buffer.alloc(length));
}

function run(command: string, args: readonly string[], cwd: string): number {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr.toString().trim()}`);
  }
  return (performance.now() - started) / 1000;
}

function diskBytes(path: string): number {
  const result = spawnSync("du", ["-sb", path]);
  return Number(result.stdout.toString().split("\t")[0] ?? "0");
}

function rate(bytes: number, seconds: number): string {
  return `${(bytes / mebibyte / seconds).toFixed(0)} MiB/s`;
}

function mib(bytes: number): string {
  return `${(bytes / mebibyte).toFixed(1)} MiB`;
}

/** Runs `work` for each index in [0, count), at most `putsInFlightMax` at once. */
async function forEachIndex(count: number, work: (index: number) => Promise<unknown>):
  Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) await work(index);
  };
  await Promise.all(Array.from({ length: Math.min(putsInFlightMax, count) }, worker));
}

function commitId(n: number): string {
  return n.toString(16).padStart(32, "0");
}

/** Seconds `dd` takes to write `bytes` of zeros to a file in `root` and fdatasync it. */
function ddWriteSeconds(root: string, bytes: number): number {
  const seconds = run("dd", ["if=/dev/zero", `of=${join(root, "dd.bin")}`, "bs=1M",
    `count=${Math.ceil(bytes / mebibyte)}`, "conv=fdatasync"], root);
  return seconds;
}

async function bigFile(root: string, bytes: number, rows: string[]): Promise<void> {
  const shard = await LocalShard.open({ dir: join(root, "big-shard"), shard: 0 });
  const commit = { repo: "big", id: commitId(1) };
  const pool = keystream(poolBytes, 1);
  // dd just before and just after the put: on a shared machine the disk's speed drifts, and
  // the two bracket what the put had.
  const ddBefore = ddWriteSeconds(root, bytes);
  await rm(join(root, "dd.bin"), { force: true });
  let started = performance.now();
  const cpuStarted = process.cpuUsage();
  await shard.putFile(commit, "", "/big.bin", generated(bytes, pool));
  await shard.finishCommit(commit, "");
  const putSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuMsPerMebibyte = (cpu.user + cpu.system) / 1000 / (bytes / mebibyte);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  started = performance.now();
  let read = 0;
  for await (const piece of shard.getFile(commit, "/big.bin")) read += piece.length;
  const getSeconds = (performance.now() - started) / 1000;
  if (read !== bytes) throw new Error(`read ${read} of ${bytes} bytes`);
  await shard.close();
  const stored = diskBytes(join(root, "big-shard"));
  const ddOut = join(root, "dd.bin");
  const ddAfter = ddWriteSeconds(root, bytes);
  const ddRead = run("dd", [`if=${ddOut}`, "of=/dev/null", "bs=1M"], root);
  await rm(ddOut, { force: true });
  const ratio = ((ddBefore + ddAfter) / 2 / putSeconds).toFixed(2);
  rows.push(`| (a) put ${mib(bytes)} stream, finish | ${rate(bytes, putSeconds)} | ` +
    `dd conv=fdatasync ${rate(bytes, ddBefore)} before, ${rate(bytes, ddAfter)} after | ` +
    `pfs/dd ${ratio}; CPU ${cpuMsPerMebibyte.toFixed(1)} ms/MiB (all threads); ` +
    `peak RSS ${mib(peakRss)}, stored ${mib(stored)} |`);
  rows.push(`| (a) get ${mib(bytes)} (hash-verified) | ${rate(bytes, getSeconds)} | ` +
    `dd read, page cache ${rate(bytes, ddRead)} | |`);
}

async function manyFiles(root: string, count: number, fileBytes: number, changedPercent: number,
  rows: string[]): Promise<void> {
  const shard = await LocalShard.open({ dir: join(root, "small-shard"), shard: 0 });
  const tree = join(root, "git-tree");
  await mkdir(join(tree, "d"), { recursive: true });
  const name = (index: number): string => `/d/f${String(index).padStart(6, "0")}.bin`;
  const content = (index: number, version: number): Buffer => keystream(fileBytes, index + version);
  const changed = Math.max(1, Math.round((count * changedPercent) / 100));
  const first = { repo: "small", id: commitId(2) };
  const second = { repo: "small", id: commitId(3) };
  for (const [step, commit, parent] of [[0, first, ""], [1, second, first.id]] as const) {
    const version = (index: number): number => (step === 1 && index < changed ? 1_000_003 : 0);
    const started = performance.now();
    await forEachIndex(count, (index) =>
      shard.putFile(commit, parent, name(index), generatedOnce(content(index, version(index)))));
    await shard.finishCommit(commit, parent);
    const seconds = (performance.now() - started) / 1000;
    const stored = diskBytes(join(root, "small-shard"));
    await forEachIndex(count, (index) =>
      writeFile(join(tree, name(index)), content(index, version(index))));
    if (step === 0) run("git", ["init", "-q"], tree);
    // No background `git gc --auto`: it would still write in .git while the tree is removed.
    const gitSeconds = run("git", ["-c", "gc.auto=0", "add", "-A"], tree) + run("git", ["-c",
      "gc.auto=0", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "x"], tree);
    const label = step === 0 ? `(b) ${count} files of ${fileBytes} B, one commit` :
      `(c) re-commit, ${changed} files changed`;
    rows.push(`| ${label} | ${(count / seconds).toFixed(0)} files/s | git ${
      (count / gitSeconds).toFixed(0)} files/s | stored ${mib(stored)}, .git ${
      mib(diskBytes(join(tree, ".git")))} |`);
  }
  await shard.close();
}

async function* generatedOnce(bytes: Buffer): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield bytes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      megabytes: { type: "string" },
      files: { type: "string" },
      "file-bytes": { type: "string", default: "4096" },
      "changed-percent": { type: "string", default: "1" },
      dir: { type: "string", default: tmpdir() },
    },
  });
  const root = await mkdtemp(join(values.dir, "pfs-bench-"));
  const rows = ["| workload | pfs | reference | notes |", "| --- | --- | --- | --- |"];
  try {
    const megabytes = Number(values.megabytes ?? (values.quick ? "256" : "2048"));
    const files = Number(values.files ?? (values.quick ? "2000" : "10000"));
    await bigFile(root, megabytes * mebibyte, rows);
    await manyFiles(root, files, Number(values["file-bytes"]),
      Number(values["changed-percent"]), rows);
    process.stdout.write(`${rows.join("\n")}\n`);
  } finally {
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-pfs: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
