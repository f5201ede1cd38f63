/**
 * The file system's data model (DESIGN.md §3): the types every part of pkg/pfs shares.
 *
 * - A **repo** is a named, versioned set of files; a **branch** is a movable pointer to a
 *   commit (default `master`); a **commit** moves open → finishing → finished, or failed.
 * - A **file** is a path, a size, the sha256 of its whole content, and the list of its chunks
 *   in order. Directories are implicit: a directory exists while a file exists below it.
 * - A **chunk** is a run of bytes cut by content-defined chunking, named by the lowercase hex
 *   sha256 of its bytes; chunks are stored once per shard replica whatever refers to them.
 *
 * Paths inside a commit are normalized: absolute ("/a/b.csv"), "/"-separated, no empty, "." or
 * ".." segments, no NUL byte and no trailing "/" (pkg/pfs/path validates and normalizes).
 */

/** The lowercase hex sha256 of some bytes (64 characters). */
export type Sha256Hex = string;

/** A commit's id: 32 lowercase hex characters, random (like Pachyderm's UUIDs without dashes). */
export type CommitId = string;

/** The branch a repo starts with and the one an address without a branch means. */
export const defaultBranch = "master";

/** The states of a commit. Only `open` accepts writes; `finished` and `failed` are final. */
export type CommitState = "open" | "finishing" | "finished" | "failed";

/** One chunk of a file: its id (the sha256 of its bytes) and its length in bytes. */
export interface ChunkRef {
  readonly id: Sha256Hex;
  readonly size: number;
}

/** A file as a commit's manifest records it. `hash` is the sha256 of the whole content. */
export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly hash: Sha256Hex;
  readonly chunks: readonly ChunkRef[];
}

/** A repo's metadata. Times are milliseconds since the epoch. */
export interface RepoInfo {
  readonly name: string;
  readonly description: string;
  readonly createdMs: number;
}

/** A branch: its repo, its name and the commit it points to ("" before its first commit). */
export interface BranchInfo {
  readonly repo: string;
  readonly name: string;
  readonly head: CommitId;
}

/** A commit's metadata. `parent` is "" for a repo's first commit on a branch. */
export interface CommitInfo {
  readonly repo: string;
  readonly id: CommitId;
  readonly branch: string;
  readonly parent: CommitId;
  readonly state: CommitState;
  readonly description: string;
  readonly startedMs: number;
  /** When it became finished or failed; 0 while open or finishing. */
  readonly finishedMs: number;
  /** Total bytes of its files; known once finished. */
  readonly sizeBytes: number;
  /** Why it failed; "" unless failed. */
  readonly error: string;
  /** The commits it was computed from (pipelines, DESIGN.md §5), as "repo@id". */
  readonly provenance: readonly string[];
}
