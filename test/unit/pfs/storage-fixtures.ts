// Shared fixtures of the pfs storage tests: temp directories, seeds, entries, and an in-memory
// model of the file system a commit's manifest holds.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Prng, systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries
import type { ChunkRef, FileEntry } from "../../../pkg/pfs/model.js";
// pkg/pfs has no index.ts yet (its other parts are being built); the storage index is the
// module's public surface until pkg/pfs/index.ts re-exports it.
// eslint-disable-next-line pfs/boundaries
import { comparePaths } from "../../../pkg/pfs/storage/index.js";

/** Runs `body` with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), "pfs-storage-"));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The seed of a randomized test: PFS_SEED if set, else a fresh one. */
export function testSeed(): number {
  const text = process.env["PFS_SEED"];
  return text === undefined ? systemSeed() : Number(text);
}

/** The sha256 hex of a text. */
export function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A chunk reference named after `label`. */
export function chunk(label: string, size: number): ChunkRef {
  return { id: sha(`chunk:${label}`), size };
}

/** A well-formed entry at `filePath` whose chunks are named after `label`. */
export function entryOf(filePath: string, label: string, chunkSizes: readonly number[]): FileEntry {
  const chunks = chunkSizes.map((size, i) => chunk(`${label}/${i}`, size));
  return { path: filePath, size: chunkSizes.reduce((a, b) => a + b, 0), hash: sha(`content:${label}`), chunks };
}

/** A random entry at `filePath` (1 to 3 chunks). */
export function randomEntry(prng: Prng, filePath: string): FileEntry {
  const sizes = Array.from({ length: prng.intBetween(0, 3) }, () => prng.intBetween(1, 1 << 20));
  return entryOf(filePath, `${filePath}#${prng.nextUint32()}`, sizes);
}

/** Sorts entries by path in manifest order. */
export function sortEntries(entries: Iterable<FileEntry>): FileEntry[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path));
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

/** Random normalized paths from a small alphabet, so that prefixes and directories collide. */
export function randomPath(prng: Prng, depthMax = 3): string {
  const segments = ["a", "b", "a.txt", "b-c", "é", "z", "😀", "a b", "ab"];
  const depth = prng.intBetween(1, depthMax);
  return "/" + Array.from({ length: depth }, () => prng.pick(segments)).join("/");
}

export { Prng };

/** Manifest order on plain strings (re-exported for tests that sort keys). */
export const comparePathsOf = comparePaths;
