/**
 * The bounds of pfs's naming layer (repo and branch names, paths, addresses, globs), each named
 * with its unit last and a comment on why it has this value (STYLE rule 8). The longest path,
 * `pfsPathBytesMax`, is shared with the rest of pfs and lives in pkg/common/limits.ts.
 * Exceeding one of these is bad input: an INVALID_ARGUMENT error that names the limit.
 */
import { assert, limits } from "../../common/index.js";

/** The longest path of a file, in bytes of UTF-8 (Linux PATH_MAX, so `get -r` can write it). */
export const pathBytesMax: number = limits.pfsPathBytesMax;

/**
 * The longest path segment (one file or directory name), in bytes of UTF-8: Linux NAME_MAX,
 * so every file pfs holds can be written to a local disk by `get file -r`.
 */
export const pathSegmentBytesMax: number = 255;

/**
 * The longest repo name, in bytes (ASCII only). A pipeline's output repo carries the
 * pipeline's name, which may become part of a Kubernetes object name (a 63-byte DNS label).
 */
export const repoNameBytesMax: number = 63;

/**
 * The longest branch name, in bytes (ASCII only): ample for people, and the same bound as the
 * metadata store's (pkg/pfs/meta `metaBranchNameCharsMax`), so every stored branch is addressable.
 */
export const branchNameBytesMax: number = 128;

/**
 * The largest ancestry in an address (`master^N`). Resolving it walks N parent links, one
 * metadata read each; past this a request is a mistake rather than a walk worth making. The
 * same bound as the metadata store's (pkg/pfs/meta `metaAncestryStepsMax`).
 */
export const ancestryStepsMax: number = 10_000;

/**
 * The longest glob pattern, in bytes of UTF-8: a path's worth plus room for escapes and
 * character classes. Matching costs O(pattern × path), so this bounds one match's work.
 */
export const globPatternBytesMax: number = 2 * pathBytesMax;

/** How much of a bad input an error message quotes, in characters; the rest is elided. */
export const quotedInputCharsMax: number = 120;

assert(pathSegmentBytesMax < pathBytesMax, "a path segment must fit in a path");
assert(globPatternBytesMax >= pathBytesMax, "a glob must be able to name any literal path");
assert(repoNameBytesMax <= branchNameBytesMax, "repo names are the tighter of the two");
