/**
 * The contract of one shard replica (DESIGN.md §3–4): the file data of every path that hashes
 * to this shard (pkg/pfs/path `shardOf`), for every repo and commit. A replica keeps a chunk
 * store (pkg/pfs/chunk) and a commit store (pkg/pfs/storage: a staging log per open commit,
 * an immutable manifest per finished one). Metadata (repos, branches, commit states) is not
 * here: it lives in the coordination store (pkg/pfs/meta) and the API layer (pkg/pfs/api)
 * checks it before calling a replica — a replica trusts that `commit` is open for writes and
 * finished for reads of finished data.
 *
 * `LocalShard` (this folder) implements it on disk; the API layer reaches a shard on another
 * node through a gRPC client that implements the same interface, so the router does not care
 * where a shard lives. Every path is normalized (pkg/pfs/path `normalizePath`) by the caller
 * and belongs to this shard, except directory arguments (`listDirectory`, `glob`, `diff`,
 * `deleteFile` of a directory), which cover only this shard's part of the tree.
 *
 * Errors are PfsErrors: NOT_FOUND (no such file: details `{ missing: "file" }`; or no such
 * commit on this replica: details `{ missing: "commit" }`, when a read names a finished
 * commit whose manifest this replica lacks — another replica may have it),
 * FAILED_PRECONDITION (a write to a commit this shard has sealed), INVALID_ARGUMENT,
 * DATA_CORRUPTED (a chunk or manifest failed its hash or checksum).
 */
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";

/** A commit as a shard sees it: its repo and id. */
export interface ShardCommit {
  readonly repo: string;
  readonly id: CommitId;
}

/** A byte range of a file: [start, end), end clamped to the file's size; omitted = all. */
export interface ShardByteRange {
  readonly start: number;
  readonly end?: number;
}

/** A direct child of a directory: a file, or an implicit directory with its total size. */
export interface ShardDirectoryChild {
  readonly path: string;
  readonly kind: "file" | "directory";
  readonly size: number;
  /** The file's content hash; "" for a directory. */
  readonly hash: Sha256Hex;
}

/** One difference between two commits for one path. */
export interface ShardFileChange {
  readonly path: string;
  readonly change: "added" | "deleted" | "changed";
  /** Sizes before and after (0 when absent). */
  readonly oldSize: number;
  readonly newSize: number;
}

/** How `deleteFile` deletes and counts. */
export interface ShardDeleteOptions {
  /** The commit's parent ("" = none), so the count includes the files it inherits. */
  readonly parent?: CommitId;
  /** Delete a directory's files too (default true); false deletes only a file at the path. */
  readonly recursive?: boolean;
}

/** What sealing a commit's part on this shard produced. */
export interface ShardFinishResult {
  /** Files and total bytes in the commit on this shard (after applying its staging log). */
  readonly files: number;
  readonly sizeBytes: number;
  /**
   * The fencing token of the master that sealed it (pkg/pfs/replication): the commit may be
   * marked finished only while this election key exists with this create revision. Absent
   * from an unreplicated replica.
   */
  readonly fence?: { readonly key: string; readonly revision: number };
}

export interface ShardReplica {
  /** The shard number, 0..S-1. */
  readonly shard: number;

  // ---- writes to an open commit (each acknowledged only once fsynced) -------------------

  /**
   * Chunks `data` into the chunk store and records the file in `commit`'s staging log:
   * overwrite by default, or appended to the file's current content (in the commit as
   * staged so far, over its parent) when `append`. Resolves with the file as recorded.
   */
  putFile(commit: ShardCommit, parent: CommitId, path: string,
    data: AsyncIterable<Uint8Array>, options?: { readonly append?: boolean }): Promise<FileEntry>;
  /**
   * Records `entry` (chunks already in this shard's store, e.g. copied from another commit
   * or pushed with `putChunks`) under `path` in `commit`. NOT_FOUND if a chunk is missing.
   */
  putEntry(commit: ShardCommit, path: string, entry: FileEntry): Promise<FileEntry>;
  /**
   * Deletes a file, or (`recursive`, the default) a file or everything under a directory, in
   * `commit` (this shard's part). Resolves with how many files it removed from the commit as
   * staged so far over `options.parent` (default "": the count then covers only the files
   * this commit wrote). Without `recursive`, only a file at exactly `path` is deleted: a
   * directory there is left alone (count 0).
   */
  deleteFile(commit: ShardCommit, path: string, options?: ShardDeleteOptions): Promise<number>;
  /**
   * Seals `commit` on this shard: applies its staging log over `parent`'s manifest ("" = an
   * empty parent), writes the manifest atomically, drops the log. Idempotent: sealing a
   * sealed commit returns the same result.
   */
  finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult>;
  /** Drops an open commit's staged data (a failed or deleted commit). Idempotent. */
  abortCommit(commit: ShardCommit): Promise<void>;
  /** Drops everything of `repo` on this shard (its chunks are then garbage). */
  deleteRepo(repo: string): Promise<void>;

  // ---- reads of a finished commit ------------------------------------------------------

  /** The file at `path`, or NOT_FOUND. */
  inspectFile(commit: ShardCommit, path: string): Promise<FileEntry>;
  /** The file's bytes (hash-verified chunk by chunk), streamed; only the range's chunks. */
  getFile(commit: ShardCommit, path: string, range?: ShardByteRange): AsyncIterable<Uint8Array>;
  /** This shard's direct children of `directory` ("/" = root), sorted by path. */
  listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]>;
  /** This shard's files whose path matches the glob (pkg/pfs/path syntax), sorted. */
  glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]>;
  /** This shard's files under `directory` (all of them for "/"), sorted by path. */
  walk(commit: ShardCommit, directory: string): AsyncIterable<FileEntry>;
  /** Differences of this shard's files from `base` ("" = empty) to `commit`, sorted. */
  diff(commit: ShardCommit, base: CommitId, directory: string): Promise<ShardFileChange[]>;

  // ---- sealed commits between replicas (replication, catch-up) ----------------------------

  /** True when this replica holds the sealed manifest of `commit` (intact at a glance). */
  hasCommit(commit: ShardCommit): Promise<boolean>;
  /**
   * The sealed manifest of `commit` as stored (self-checking bytes, checked whole before they
   * are returned: DATA_CORRUPTED otherwise). NOT_FOUND with details `{ missing: "commit" }`
   * when this replica does not hold it; LIMIT_EXCEEDED past storage's manifestTransferBytesMax.
   */
  readManifest(commit: ShardCommit): Promise<Uint8Array>;
  /**
   * Installs a sealed manifest another replica produced: checks its checksums and format
   * (DATA_CORRUPTED otherwise), that every chunk it names is in this store (NOT_FOUND naming
   * how many are missing otherwise, details `{ missing: "chunks", chunks: count }` — the
   * caller pushes them and retries), then writes it atomically and durably (file + directory
   * fsync) and drops any staging log of that commit here. Idempotent: the same bytes again
   * change nothing; different bytes for a commit already sealed here are DATA_CORRUPTED
   * (commits are immutable) unless the copy here is itself damaged, which they then replace.
   * The chunks it names are held from garbage collection between the check and the write.
   */
  installManifest(commit: ShardCommit, manifest: Uint8Array): Promise<void>;

  // ---- chunks (copying between shards without a client re-upload) ---------------------

  /**
   * Which of `ids` this shard's store lacks. The ones it has are held from garbage collection
   * for a while (chunkHoldMs), so a `putEntry` that follows can still refer to them.
   */
  missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]>;
  /**
   * The bytes of one chunk, verified: DATA_CORRUPTED for a damaged local copy (never repaired
   * here, so two replicas asking each other cannot loop).
   */
  readChunk(id: Sha256Hex): Promise<Uint8Array>;
  /** Stores chunks (their ids are recomputed and must match: INVALID_ARGUMENT otherwise). */
  putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void>;

  // ---- maintenance ---------------------------------------------------------------------

  /** Frees the chunks no manifest or staging log of this shard references. */
  collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }>;
  /** Closes files; the replica is unusable afterwards. */
  close(): Promise<void>;
}
