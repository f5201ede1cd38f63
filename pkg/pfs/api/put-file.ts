/**
 * PutFile, CopyFile and DeleteFile: the writes of files into an open commit (or a branch,
 * through CommitResolver.withWrite, so a write into a branch without an open commit gets a
 * commit of its own, finished after the write or deleted when it failed).
 */
import { PfsError, type Result, assert, err, ok } from "../../common/index.js";
import { joinPath, normalizePath, relativePath, rootPath, shardOf } from "../path/index.js";
import type { FileEntry } from "../model.js";
import type { ShardCommit } from "../shard/shard-api.js";
import { copyChunksPerCallMax } from "./limits.js";
import { fileAt, readFile, walkAll } from "./file-reads.js";
import type { ShardRouting } from "./shard-router.js";
import { putTar } from "./tar-put.js";

/** The items of an array as an async iterable. */
async function* eachOf<T>(items: readonly T[]): AsyncIterable<T> {
  await Promise.resolve();
  yield* items;
}

/** The normalized path of a request field, or INVALID_ARGUMENT naming the field. */
export function requestPath(raw: string, field: string): string {
  const path: Result<string, PfsError> = raw === "" ? err(new PfsError("INVALID_ARGUMENT",
    `${field} is empty; give an absolute path such as /data/a.csv`)) : normalizePath(raw);
  if (!path.ok) throw path.error;
  return path.value;
}

export interface PutResult {
  readonly files: number;
  /** Bytes received from the client (an append's new bytes, not the file's new size). */
  readonly bytes: number;
}

/** Writes one file (RAW) or a tar archive below a directory (TAR). */
export async function putData(router: ShardRouting, commit: ShardCommit, parent: string,
  path: string, format: "RAW" | "TAR", append: boolean, data: AsyncIterable<Uint8Array>):
  Promise<PutResult> {
  if (format === "TAR") {
    if (append) throw new PfsError("INVALID_ARGUMENT", "append does not apply to a tar put");
    return putTar(data, path, commit, router);
  }
  if (path === "/") throw new PfsError("INVALID_ARGUMENT", "cannot put a file at /: name a file");
  const replica = await router.replica(shardOf(path, router.shards));
  let bytes = 0;
  const counted = (async function* counting(): AsyncIterable<Uint8Array> {
    for await (const piece of data) {
      bytes += piece.length;
      yield piece;
    }
  })();
  await replica.putFile(commit, parent, path, counted, { append });
  return { files: 1, bytes };
}

/** Copies one finished file's chunks to `target`'s shard (no client re-upload), then records it. */
async function copyEntry(router: ShardRouting, entry: FileEntry, target: ShardCommit,
  targetPath: string): Promise<void> {
  const from = await router.replica(shardOf(entry.path, router.shards));
  const to = await router.replica(shardOf(targetPath, router.shards));
  if (from.shard !== to.shard) {
    const missing = new Set(await to.missingChunks(entry.chunks.map((chunk) => chunk.id)));
    const moving = entry.chunks.filter((chunk) => missing.has(chunk.id));
    for (let start = 0; start < moving.length; start += copyChunksPerCallMax) {
      const batch = moving.slice(start, start + copyChunksPerCallMax);
      await to.putChunks(await Promise.all(batch.map(async (ref) =>
        ({ ref, bytes: await from.readChunk(ref.id) }))));
    }
  }
  await to.putEntry(target, targetPath, { ...entry, path: targetPath });
}

/**
 * Copies the file or directory `sourcePath` of the finished `source` to `targetPath` of the
 * open `target`. With `append`, each file's bytes are appended (streamed between shards).
 */
export async function copyFiles(router: ShardRouting, source: ShardCommit, sourcePath: string,
  target: ShardCommit, targetParent: string, targetPath: string, append: boolean):
  Promise<number> {
  const single = await fileAt(router, source, sourcePath);
  const entries: AsyncIterable<FileEntry> = single !== undefined
    ? eachOf([single])
    : walkAll(router, source, sourcePath);
  let files = 0;
  for await (const entry of entries) {
    const relative = single !== undefined ? "" : relativePath(sourcePath, entry.path);
    const placed = relative === "" ? ok(targetPath) : joinPath(targetPath, relative);
    const path = placed.ok ? placed.value : undefined;
    if (path === undefined || path === "/") {
      throw new PfsError("INVALID_ARGUMENT", `cannot copy ${entry.path} to ${targetPath}`);
    }
    if (append) {
      const to = await router.replica(shardOf(path, router.shards));
      await to.putFile(target, targetParent, path, await readFile(router, source, entry.path),
        { append: true });
    } else {
      await copyEntry(router, entry, target, path);
    }
    files += 1;
  }
  if (files === 0) {
    throw new PfsError("NOT_FOUND", `no file or directory ${sourcePath} in ${source.repo}@${source.id}`);
  }
  return files;
}

/**
 * Deletes a file, or (recursive) a file or a directory with everything below it, in the open
 * `commit` whose parent is `parent`; resolves with the number of files deleted. Nothing there
 * is NOT_FOUND (as `git rm` of a path that matches nothing: a mistyped path must not pass
 * silently, nor make an empty commit); a directory without `recursive` is NOT_FOUND too,
 * saying so. The caller refuses a non-recursive "/" before anything starts.
 */
export async function deleteFiles(router: ShardRouting, commit: ShardCommit, parent: string,
  path: string, recursive: boolean): Promise<number> {
  assert(recursive || path !== rootPath, "a non-recursive delete of / reached deleteFiles");
  const replicas = recursive ? await router.all()
    : [await router.replica(shardOf(path, router.shards))];
  const counts = await Promise.all(replicas.map((replica) =>
    replica.deleteFile(commit, path, { parent, recursive })));
  const files = counts.reduce((sum, count) => sum + count, 0);
  if (files === 0) {
    throw new PfsError("NOT_FOUND", `no ${recursive ? "file or directory" : "file"} ${path} in ` +
      `${commit.repo}@${commit.id}${recursive ? "" : " (a directory needs recursive)"}`,
    { path });
  }
  return files;
}
