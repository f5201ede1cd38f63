/**
 * Local files as pfs puts them: a walk of a directory tree (iterative, bounded by
 * `walkFilesMax`) and a tar stream of its files built with tar-stream, which `put file -r`
 * and `pfs sync` send as one TAR PutFile, so a directory lands in one commit, all or nothing.
 *
 * Invariants: a walk returns regular files only, sorted by relative path, each relative path
 * "/"-separated with no empty, "." or ".." segment; anything else in the tree (a symlink, a
 * device, a FIFO, a socket) is refused with INVALID_ARGUMENT before any byte is sent, because
 * pfs stores only files and following links could leave the directory.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { LimitError, PfsError, assert } from "../../common/index.js";
import { walkFilesMax } from "./limits.js";

/** One regular file found by a walk. */
export interface LocalFile {
  /** Where it is on this machine. */
  readonly absolutePath: string;
  /** Its path below the walked directory, "/"-separated ("a/b.csv"). */
  readonly relativePath: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
}

/** The kind of a local thing pfs refuses, for the error message. */
function refusedKind(stats: { isSymbolicLink(): boolean; isFIFO(): boolean;
  isSocket(): boolean }): string {
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isFIFO()) return "a FIFO";
  return stats.isSocket() ? "a socket" : "a device";
}

/**
 * Every regular file below `directory`, sorted by relative path. Refuses (INVALID_ARGUMENT)
 * anything that is not a file or directory; NOT_FOUND when `directory` does not exist.
 */
export async function walkDirectory(directory: string): Promise<LocalFile[]> {
  const top = await lstat(directory).catch(() => undefined);
  if (top === undefined) throw new PfsError("NOT_FOUND", `${directory}: no such directory`);
  if (!top.isDirectory()) throw new PfsError("INVALID_ARGUMENT", `${directory} is not a directory`);
  const files: LocalFile[] = [];
  const pending: string[] = [""];
  for (let relativeDir = pending.pop(); relativeDir !== undefined; relativeDir = pending.pop()) {
    const names = await readdir(join(directory, relativeDir));
    for (const name of names) {
      const relativePath = relativeDir === "" ? name : `${relativeDir}/${name}`;
      const absolutePath = join(directory, ...relativePath.split("/"));
      const stats = await lstat(absolutePath);
      if (stats.isDirectory()) {
        pending.push(relativePath);
      } else if (stats.isFile()) {
        if (files.length >= walkFilesMax) throw new LimitError("walkFilesMax", walkFilesMax, files.length + 1);
        files.push({ absolutePath, relativePath, sizeBytes: stats.size, mtimeMs: stats.mtimeMs });
      } else {
        throw new PfsError("INVALID_ARGUMENT",
          `${absolutePath} is ${refusedKind(stats)}; pfs puts only regular files and directories`);
      }
    }
  }
  files.sort((a, b) =>
    (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
  assert(files.every((file) => !file.relativePath.includes(sep === "/" ? "\0" : sep)),
    "relative paths are /-separated");
  return files;
}

/** The total size of `files`, in bytes. */
export function totalBytes(files: readonly LocalFile[]): number {
  return files.reduce((sum, file) => sum + file.sizeBytes, 0);
}

/**
 * A tar stream of `files`, each under its relative path, read one at a time as the stream is
 * consumed (memory stays flat). A file that changes size while read fails the stream.
 */
export function tarOfFiles(files: readonly LocalFile[]): AsyncIterable<Buffer> {
  const pack = tar.pack();
  const fill = async (): Promise<void> => {
    for (const file of files) {
      const entry = pack.entry({
        name: file.relativePath, size: file.sizeBytes, mode: 0o644, type: "file",
        mtime: new Date(file.mtimeMs),
      });
      await pipeline(createReadStream(file.absolutePath), entry);
    }
    pack.finalize();
  };
  fill().catch((error: unknown) => {
    pack.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return pack as AsyncIterable<Buffer>;
}
