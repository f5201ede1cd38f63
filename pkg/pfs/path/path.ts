/**
 * Paths inside a commit (DESIGN.md §3): validation, normalization and the helpers built on
 * normalized paths. Pure: no I/O.
 *
 * A **normalized path** is "/" (the root) or "/" followed by segments joined by "/", where no
 * segment is empty, "." or "..". It has no trailing "/", holds no control character (C0,
 * DEL or C1) and no unpaired UTF-16 surrogate, is at most `pathBytesMax` bytes of UTF-8, and
 * each segment is at most `pathSegmentBytesMax` bytes. Any other character is an ordinary
 * name character, "\" included (pfs paths are "/"-separated on every platform).
 *
 * `normalizePath` turns user input into that form: it requires a leading "/", collapses
 * repeated "/" and a trailing "/", drops "." segments, and refuses ".." (rather than resolving
 * it, so that no input can name a place outside the directory it appears to be in). The
 * helpers (`parentPath`, `baseName`, `isUnder`, `relativePath`) take normalized paths and
 * assert it: passing raw input to them is a programmer error.
 */
import { type PfsError, type Result, assert, err, ok } from "../../common/index.js";
import { codePointName, invalidInput } from "./invalid-input.js";
import { pathBytesMax, pathSegmentBytesMax } from "./limits.js";

/** The root directory. */
export const rootPath = "/";

/**
 * Why `text` may not appear in a path or glob, as a predicate ("contains a NUL byte"), or null
 * when every character is allowed:
 * NUL, the other C0 controls, DEL and C1 controls (newlines and escape sequences forge log
 * lines and terminal output; NUL truncates C strings), and unpaired surrogates (they have no
 * UTF-8 form, so the name could not be stored or written to a disk).
 */
export function forbiddenCharacterReason(text: string): string | null {
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit === 0) return "contains a NUL byte";
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f)) {
      return `contains the control character ${codePointName(unit)}`;
    }
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        index += 1;
        continue;
      }
      return "contains an unpaired UTF-16 surrogate";
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) return "contains an unpaired UTF-16 surrogate";
  }
  return null;
}

/** The UTF-8 length of `text`, which holds no unpaired surrogate. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * The normalized form of `raw`, which must start with "/", or an INVALID_ARGUMENT error that
 * quotes `raw` and says why (see the module comment for the rules).
 */
export function normalizePath(raw: string): Result<string, PfsError> {
  const normalized = normalizeOrReason(raw);
  return normalized.ok ? normalized : err(invalidInput("path", raw, `it ${normalized.error}`));
}

/**
 * `normalizePath` with the refusal as a predicate without its subject ("is empty"), for
 * callers that name the subject themselves ("the path is empty").
 */
export function normalizeOrReason(raw: string): Result<string, string> {
  if (raw === "") return err("is empty");
  if (!raw.startsWith("/")) return err('must start with "/"');
  const characterReason = forbiddenCharacterReason(raw);
  if (characterReason !== null) return err(characterReason);
  const segments: string[] = [];
  for (const segment of raw.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") return err('has a ".." segment, which is not allowed');
    const segmentBytes = utf8Bytes(segment);
    if (segmentBytes > pathSegmentBytesMax) {
      return err(`has a segment of ${segmentBytes} bytes, above pathSegmentBytesMax (${pathSegmentBytesMax})`);
    }
    segments.push(segment);
  }
  const normalized = `/${segments.join("/")}`;
  const bytes = utf8Bytes(normalized);
  if (bytes > pathBytesMax) return err(`is ${bytes} bytes, above pathBytesMax (${pathBytesMax})`);
  return ok(normalized);
}

/** True when `path` is already normalized (`normalizePath` would return it unchanged). */
export function isNormalizedPath(path: string): boolean {
  const normalized = normalizePath(path);
  return normalized.ok && normalized.value === path;
}

function assertNormalized(path: string, role: string): void {
  assert(isNormalizedPath(path), () => `${role} ${JSON.stringify(path)} is not a normalized path`);
}

/** The segments of a normalized path, root first; [] for the root. */
export function pathSegments(path: string): string[] {
  assertNormalized(path, "path");
  return path === rootPath ? [] : path.slice(1).split("/");
}

/** The directory holding a normalized path other than the root ("/a/b" → "/a", "/a" → "/"). */
export function parentPath(path: string): string {
  assertNormalized(path, "path");
  assert(path !== rootPath, "the root has no parent");
  const slash = path.lastIndexOf("/");
  return slash === 0 ? rootPath : path.slice(0, slash);
}

/** The last segment of a normalized path ("/a/b.csv" → "b.csv"); "" for the root. */
export function baseName(path: string): string {
  assertNormalized(path, "path");
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * True when the normalized `path` is the normalized directory `dir` itself or lies below it.
 * Segment-aware: "/ab" is not under "/a". Everything is under the root.
 */
export function isUnder(dir: string, path: string): boolean {
  assertNormalized(dir, "directory");
  assertNormalized(path, "path");
  if (dir === rootPath || path === dir) return true;
  return path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f;
}

/**
 * `relative` (user input: "a/b", "./a//b/", "" for `dir` itself) resolved below the
 * normalized directory `dir`, normalized; an INVALID_ARGUMENT error when `relative` starts
 * with "/", holds ".." or a forbidden character, or the result is too long. The result is
 * always under `dir`.
 */
export function joinPath(dir: string, relative: string): Result<string, PfsError> {
  assertNormalized(dir, "directory");
  if (relative.startsWith("/")) {
    return err(invalidInput("path", relative, 'it is relative, so it must not start with "/"'));
  }
  const joined = normalizeOrReason(`${dir}/${relative}`);
  if (!joined.ok) {
    return err(invalidInput("path", relative, `joined below ${JSON.stringify(dir)}, it ${joined.error}`));
  }
  assert(isUnder(dir, joined.value), () => `${joined.value} escaped ${dir}`);
  return joined;
}

/**
 * The path of the normalized `path` relative to the normalized directory `dir` it is under,
 * without a leading "/" ("/a", "/a/b/c" → "b/c"); "" when they are equal. Safe to join to a
 * local directory: it has no "..", no empty segment and does not start with "/".
 */
export function relativePath(dir: string, path: string): string {
  assert(isUnder(dir, path), () => `${JSON.stringify(path)} is not under ${JSON.stringify(dir)}`);
  if (path === dir) return "";
  return dir === rootPath ? path.slice(1) : path.slice(dir.length + 1);
}
