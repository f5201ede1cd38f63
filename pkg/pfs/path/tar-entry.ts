/**
 * Safety of tar entries for `put file --untar` (DESIGN.md §3, §7 guarantee 5): which entries
 * of an archive pfs accepts and where each one lands. Pure: it reads a header, not the data.
 *
 * Accepted: regular files (`file`, `contiguous-file`, and a header with no type, which
 * tar-stream packs as a file) and directories (accepted and implicit: pfs stores no directory
 * entries, so the caller only skips them). Refused, with INVALID_ARGUMENT: symlinks and hard
 * links (they could point outside the target, and pfs has no links), character and block
 * devices and FIFOs, metadata records the tar reader should have consumed (pax and GNU long
 * name headers), unknown types, and names that are empty, absolute, hold ".." or a forbidden
 * character, or are too long once placed under the target.
 *
 * Invariant: an accepted entry's path is normalized and under `targetPrefix`.
 */
import { type PfsError, type Result, assert, assertNever, err, ok } from "../../common/index.js";
import { invalidInput } from "./invalid-input.js";
import { isNormalizedPath, isUnder, normalizeOrReason } from "./path.js";

/**
 * The entry types tar-stream's reader reports (its headers.js; its typings list only the
 * first eight, the reader also yields the metadata records).
 */
export type TarEntryType =
  | "file" | "link" | "symlink" | "character-device" | "block-device" | "directory" | "fifo"
  | "contiguous-file" | "pax-header" | "pax-global-header" | "gnu-long-path"
  | "gnu-long-link-path";

/** The fields of a tar header that decide an entry's fate (tar-stream's `Header` is one). */
export interface TarEntryHeader {
  readonly name: string;
  /** tar-stream reads an unknown type flag as null; a header built in code may omit it. */
  readonly type?: TarEntryType | null | undefined;
  readonly linkname?: string | null | undefined;
}

/** Where an accepted entry lands: a file to write, or a directory (nothing to write). */
export interface TarEntryTarget {
  readonly kind: "file" | "directory";
  readonly path: string;
}

/**
 * The destination of `header`'s entry below the normalized directory `targetPrefix`, or an
 * INVALID_ARGUMENT error that quotes the entry's name and says why it is refused.
 */
export function checkTarEntry(
  header: TarEntryHeader, targetPrefix: string,
): Result<TarEntryTarget, PfsError> {
  assert(isNormalizedPath(targetPrefix),
    () => `tar target ${JSON.stringify(targetPrefix)} is not a normalized path`);
  const fail = (reason: string): Result<TarEntryTarget, PfsError> =>
    err(invalidInput("tar entry", header.name, reason));
  const kind = entryKind(header);
  if (!kind.ok) return fail(kind.error);
  if (header.name === "") return fail("its name is empty");
  if (header.name.startsWith("/")) {
    return fail("its name is absolute; entries must be relative to the target directory");
  }
  const joined = normalizeOrReason(`${targetPrefix}/${header.name}`);
  if (!joined.ok) return fail(`placed below ${JSON.stringify(targetPrefix)}, its path ${joined.error}`);
  assert(isUnder(targetPrefix, joined.value), () => `${joined.value} escaped ${targetPrefix}`);
  if (kind.value === "file" && joined.value === targetPrefix) {
    return fail("it is a file whose name names only the target directory");
  }
  return ok({ kind: kind.value, path: joined.value });
}

/** Whether `header` is a file or a directory, or the reason its type is refused. */
function entryKind(header: TarEntryHeader): Result<TarEntryTarget["kind"], string> {
  const type = header.type;
  if (type === undefined) return ok("file");
  if (type === null) return err("it has an unknown type flag");
  const target = header.linkname === null || header.linkname === undefined
    ? "" : ` to ${JSON.stringify(header.linkname)}`;
  switch (type) {
    case "file":
    case "contiguous-file":
      return ok("file");
    case "directory":
      return ok("directory");
    case "symlink":
      return err(`it is a symlink${target}; pfs stores no links`);
    case "link":
      return err(`it is a hard link${target}; pfs stores no links`);
    case "character-device":
    case "block-device":
    case "fifo":
      return err(`it is a ${type}; pfs stores only files and directories`);
    case "pax-header":
    case "pax-global-header":
    case "gnu-long-path":
    case "gnu-long-link-path":
      return err(`it is a ${type} record, which the tar reader should have consumed`);
    default:
      return assertNever(type, "tar entry type");
  }
}
