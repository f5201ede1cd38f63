/**
 * The order and the shape of paths in commit storage. Manifests sort paths **bytewise by
 * UTF-8**; `comparePaths` gives that order on JS strings without encoding them (UTF-16 code
 * units order differently from code points only around surrogates, which it corrects). The
 * entries below a directory `d` are then contiguous: they are the paths starting `d + "/"`.
 *
 * `checkFilePath` and `checkFileEntry` are the storage layer's own guard against malformed
 * input (pkg/pfs/path normalizes user paths before they get here); they return a PfsError
 * INVALID_ARGUMENT naming the problem, and change nothing.
 */
import { PfsError } from "../../common/index.js";
import type { ChunkRef, FileEntry } from "../model.js";
import { fileChunksMax, filePathBytesMax } from "./limits.js";

/** Maps a UTF-16 code unit so that unit order equals code point (and UTF-8 byte) order. */
function unitRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-8 byte order. */
export function comparePaths(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitRank(x) - unitRank(y);
  }
  return a.length - b.length;
}

/** The prefix every path strictly below directory `dir` starts with ("/" for the root). */
export function directoryPrefix(dir: string): string {
  return dir === "/" ? "/" : `${dir}/`;
}

/** True when `path` is `dir` itself or lies below it ("/" holds everything). */
export function isAtOrUnder(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}

const hexSha256 = /^[0-9a-f]{64}$/;
/** With the u flag a surrogate pair is one code point, so this matches only a lone half. */
const loneSurrogate = /[\uD800-\uDFFF]/u;

function invalid(message: string, path: string): PfsError {
  return new PfsError("INVALID_ARGUMENT", message, { path: path.slice(0, 200) });
}

/**
 * Null when `path` is a normalized absolute file path: starts "/", no empty, "." or ".."
 * segment, no NUL, no trailing "/", at most `filePathBytesMax` UTF-8 bytes. The root "/"
 * passes only with `allowRoot` (a delete of everything).
 */
export function checkFilePath(path: string, allowRoot = false): PfsError | null {
  if (path === "/") return allowRoot ? null : invalid("the root is not a file path", path);
  if (!path.startsWith("/")) return invalid(`path "${path}" is not absolute`, path);
  if (Buffer.byteLength(path, "utf8") > filePathBytesMax) {
    return invalid(`path is longer than ${filePathBytesMax} bytes`, path);
  }
  if (path.includes("\0")) return invalid("path holds a NUL byte", path);
  if (path.endsWith("/")) return invalid(`path "${path}" ends with "/"`, path);
  for (const segment of path.slice(1).split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      return invalid(`path "${path}" has an empty, "." or ".." segment`, path);
    }
  }
  if (loneSurrogate.test(path)) return invalid("path is not well-formed Unicode", path);
  return null;
}

function isByteCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Null when `chunks` are well-formed references; else INVALID_ARGUMENT naming `path`. */
export function checkChunkRefs(path: string, chunks: readonly ChunkRef[]): PfsError | null {
  if (chunks.length > fileChunksMax) {
    return invalid(`file has ${chunks.length} chunks, more than ${fileChunksMax}`, path);
  }
  for (const chunk of chunks) {
    if (!hexSha256.test(chunk.id)) return invalid(`chunk id "${chunk.id}" is not sha256 hex`, path);
    if (!isByteCount(chunk.size)) return invalid(`chunk size ${chunk.size} is invalid`, path);
  }
  return null;
}

/** The sum of the chunks' sizes. */
export function chunkBytes(chunks: readonly ChunkRef[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.size;
  return total;
}

/**
 * Null when `entry` is a well-formed file entry: a valid path, a lowercase sha256 hex hash,
 * valid chunk references whose sizes add up to `size`.
 */
export function checkFileEntry(entry: FileEntry): PfsError | null {
  const pathError = checkFilePath(entry.path);
  if (pathError !== null) return pathError;
  if (!hexSha256.test(entry.hash)) return invalid(`hash "${entry.hash}" is not sha256 hex`, entry.path);
  if (!isByteCount(entry.size)) return invalid(`size ${entry.size} is invalid`, entry.path);
  const chunkError = checkChunkRefs(entry.path, entry.chunks);
  if (chunkError !== null) return chunkError;
  const total = chunkBytes(entry.chunks);
  if (total !== entry.size) {
    return invalid(`size ${entry.size} differs from its chunks' ${total} bytes`, entry.path);
  }
  return null;
}
