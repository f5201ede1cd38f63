// Shared pieces of the shard tests: a shard in a temp directory with small chunks (so files of
// a few KiB cut into several), seeds, commit ids, byte streams and a plain in-memory model of
// one commit's files with the reads a shard answers.
import { createHash } from "node:crypto";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; path/ is the API.
import { globMatch } from "../../../pkg/pfs/path/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import { LocalShard, type ShardDirectoryChild, type ShardFileChange } from "../../../pkg/pfs/shard/index.js";

export { collect, withTempDir } from "./chunk-fixture.js";
export { testSeed } from "./storage-fixtures.js";

/** Chunking small enough that a few KiB make several chunks. */
export const smallChunking = { minBytes: 128, averageBytes: 512, maxBytes: 2048 } as const;

/** Opens a shard in `dir` with small chunks. */
export function openShard(dir: string): Promise<LocalShard> {
  return LocalShard.open({ dir, shard: 0, chunking: smallChunking });
}

/** A commit id (32 hex characters) made from a number. */
export function commitId(n: number): string {
  return n.toString(16).padStart(32, "0");
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** An async stream of `bytes` in pieces of `pieceBytes` (at least one piece, maybe empty). */
export async function* streamOf(bytes: Uint8Array, pieceBytes = 1000):
  AsyncGenerator<Uint8Array> {
  if (bytes.length === 0) yield bytes;
  for (let at = 0; at < bytes.length; at += pieceBytes) {
    await Promise.resolve();
    yield bytes.subarray(at, at + pieceBytes);
  }
}

/** One commit's files: path → content. */
export type ModelFiles = ReadonlyMap<string, Buffer>;

function byPath(a: { path: string }, b: { path: string }): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

/** The direct children of `dir` in `files`, as `listDirectory` must give them. */
export function modelChildren(files: ModelFiles, dir: string): ShardDirectoryChild[] {
  const prefix = dir === "/" ? "/" : `${dir}/`;
  const children = new Map<string, ShardDirectoryChild>();
  for (const [file, bytes] of files) {
    if (!file.startsWith(prefix)) continue;
    const rest = file.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      children.set(file, { path: file, kind: "file", size: bytes.length, hash: sha256(bytes) });
      continue;
    }
    const child = prefix + rest.slice(0, slash);
    const size = (children.get(child)?.size ?? 0) + bytes.length;
    children.set(child, { path: child, kind: "directory", size, hash: "" });
  }
  return [...children.values()].sort(byPath);
}

/** The paths of `files` matching `pattern`, sorted. */
export function modelGlob(files: ModelFiles, pattern: string): string[] {
  return [...files.keys()].filter((file) => {
    const matched = globMatch(pattern, file);
    if (!matched.ok) throw matched.error;
    return matched.value;
  }).sort((a, b) => byPath({ path: a }, { path: b }));
}

/** The paths of `files` at or under `dir`, sorted. */
export function modelWalk(files: ModelFiles, dir: string): string[] {
  return [...files.keys()]
    .filter((file) => dir === "/" || file === dir || file.startsWith(`${dir}/`))
    .sort((a, b) => byPath({ path: a }, { path: b }));
}

/** The changes from `before` to `after` at or under `dir`, as `diff` must give them. */
export function modelDiff(before: ModelFiles, after: ModelFiles, dir: string): ShardFileChange[] {
  const paths = new Set([...modelWalk(before, dir), ...modelWalk(after, dir)]);
  const changes: ShardFileChange[] = [];
  for (const file of paths) {
    const old = before.get(file);
    const now = after.get(file);
    if (old === undefined && now !== undefined) {
      changes.push({ path: file, change: "added", oldSize: 0, newSize: now.length });
    } else if (old !== undefined && now === undefined) {
      changes.push({ path: file, change: "deleted", oldSize: old.length, newSize: 0 });
    } else if (old !== undefined && now !== undefined && !old.equals(now)) {
      changes.push({ path: file, change: "changed", oldSize: old.length, newSize: now.length });
    }
  }
  return changes.sort(byPath);
}
