/**
 * `MemoryShard`: a ShardReplica held in memory (STYLE rule 4: the in-memory implementation
 * next to the real one). Chunks are fixed-size pieces named by their sha256; a commit is a
 * sorted-on-read map of path → entry, started from its parent's files at its first write and
 * sealed by `finishCommit`. Nothing survives the process: pfsd uses it only when told to
 * (tests, and until the on-disk LocalShard is wired in), never silently.
 *
 * Invariants: a sealed commit never changes; every chunk an entry names is in `#chunks`.
 */
import { createHash } from "node:crypto";
import { PfsError, assert } from "../../common/index.js";
import { compileGlob, isUnder, parentPath } from "../path/index.js";
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";
import type {
  ShardByteRange, ShardCommit, ShardDirectoryChild, ShardFileChange, ShardFinishResult,
  ShardReplica,
} from "../shard/shard-api.js";
import { streamMessageBytesMax } from "./limits.js";

/** A staged change of an open commit, applied over the parent when it is sealed. */
type StagedChange =
  | { readonly kind: "put"; readonly entry: FileEntry }
  | { readonly kind: "delete"; readonly path: string };

/** A commit on this shard: staged changes while open, its files once sealed. */
interface CommitFiles {
  files: Map<string, FileEntry>;
  readonly staged: StagedChange[];
  sealed: boolean;
}

function applyChange(files: Map<string, FileEntry>, change: StagedChange): void {
  if (change.kind === "put") {
    files.set(change.entry.path, change.entry);
    return;
  }
  for (const path of [...files.keys()]) if (isUnder(change.path, path)) files.delete(path);
}

function sha256(bytes: Uint8Array): Sha256Hex {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `body`'s result as a promise; a throw becomes a rejection. */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error: unknown) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The items of an array as an async iterable. */
async function* eachOf<T>(items: readonly T[]): AsyncIterable<T> {
  await Promise.resolve();
  yield* items;
}

function byPath<T extends { readonly path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export class MemoryShard implements ShardReplica {
  readonly shard: number;
  readonly #chunks = new Map<Sha256Hex, Buffer>();
  readonly #commits = new Map<string, CommitFiles>();

  constructor(shard: number) {
    this.shard = shard;
  }

  #key(repo: string, id: string): string {
    return `${repo}\u0000${id}`;
  }

  #open(commit: ShardCommit): CommitFiles {
    const key = this.#key(commit.repo, commit.id);
    let files = this.#commits.get(key);
    if (files === undefined) {
      files = { files: new Map(), staged: [], sealed: false };
      this.#commits.set(key, files);
    }
    if (files.sealed) {
      throw new PfsError("FAILED_PRECONDITION",
        `commit ${commit.repo}@${commit.id} is sealed on shard ${this.shard}`);
    }
    return files;
  }

  #sealed(commit: ShardCommit): CommitFiles {
    const files = this.#commits.get(this.#key(commit.repo, commit.id));
    return files?.sealed === true ? files : { files: new Map(), staged: [], sealed: true };
  }

  #store(bytes: Buffer): ChunkRef {
    const id = sha256(bytes);
    this.#chunks.set(id, Buffer.from(bytes));
    return { id, size: bytes.length };
  }

  async putFile(commit: ShardCommit, parent: CommitId, path: string,
    data: AsyncIterable<Uint8Array>, options?: { readonly append?: boolean }): Promise<FileEntry> {
    const pieces: Buffer[] = [];
    for await (const piece of data) pieces.push(Buffer.from(piece));
    const files = this.#open(commit);
    const current = new Map<string, FileEntry>();
    const base = this.#sealed({ repo: commit.repo, id: parent }).files.get(path);
    if (base !== undefined) current.set(path, base);
    for (const change of files.staged) applyChange(current, change);
    const old = options?.append === true ? current.get(path) : undefined;
    const oldBytes = old === undefined ? [] : old.chunks.map((chunk) => this.#chunkBytes(chunk.id));
    const all = Buffer.concat([...oldBytes, ...pieces]);
    const chunks: ChunkRef[] = [];
    for (let start = 0; start < all.length; start += streamMessageBytesMax) {
      chunks.push(this.#store(all.subarray(start, start + streamMessageBytesMax)));
    }
    const entry: FileEntry = { path, size: all.length, hash: sha256(all), chunks };
    files.staged.push({ kind: "put", entry });
    return entry;
  }

  putEntry(commit: ShardCommit, path: string, entry: FileEntry): Promise<FileEntry> {
    return settle(() => {
      for (const chunk of entry.chunks) {
        if (!this.#chunks.has(chunk.id)) throw new PfsError("NOT_FOUND", `chunk ${chunk.id} missing`);
      }
      const placed = { ...entry, path };
      this.#open(commit).staged.push({ kind: "put", entry: placed });
      return placed;
    });
  }

  deleteFile(commit: ShardCommit, path: string): Promise<void> {
    return settle(() => {
      this.#open(commit).staged.push({ kind: "delete", path });
    });
  }

  finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult> {
    return settle(() => {
      const key = this.#key(commit.repo, commit.id);
      const files = this.#commits.get(key) ?? this.#open(commit);
      if (!files.sealed) {
        const sealed = new Map(this.#sealed({ repo: commit.repo, id: parent }).files);
        for (const change of files.staged.splice(0)) applyChange(sealed, change);
        files.files = sealed;
        files.sealed = true;
      }
      let sizeBytes = 0;
      for (const entry of files.files.values()) sizeBytes += entry.size;
      return { files: files.files.size, sizeBytes };
    });
  }

  abortCommit(commit: ShardCommit): Promise<void> {
    return settle(() => {
      const key = this.#key(commit.repo, commit.id);
      if (this.#commits.get(key)?.sealed === false) this.#commits.delete(key);
    });
  }

  deleteRepo(repo: string): Promise<void> {
    return settle(() => {
      for (const key of [...this.#commits.keys()]) {
        if (key.startsWith(`${repo}\u0000`)) this.#commits.delete(key);
      }
    });
  }

  inspectFile(commit: ShardCommit, path: string): Promise<FileEntry> {
    return settle(() => {
      const entry = this.#sealed(commit).files.get(path);
      if (entry === undefined) throw new PfsError("NOT_FOUND", `file ${path} not found`);
      return entry;
    });
  }

  #chunkBytes(id: Sha256Hex): Buffer {
    const bytes = this.#chunks.get(id);
    assert(bytes !== undefined, () => `chunk ${id} missing`);
    return bytes;
  }

  async* getFile(commit: ShardCommit, path: string, range?: ShardByteRange):
    AsyncIterable<Uint8Array> {
    const entry = await this.inspectFile(commit, path);
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? entry.size, entry.size);
    let offset = 0;
    for (const chunk of entry.chunks) {
      const from = Math.max(start, offset);
      const to = Math.min(end, offset + chunk.size);
      if (from < to) yield this.#chunkBytes(chunk.id).subarray(from - offset, to - offset);
      offset += chunk.size;
    }
  }

  listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]> {
    return settle(() => {
      const children = new Map<string, ShardDirectoryChild>();
      for (const entry of this.#sealed(commit).files.values()) {
        if (entry.path === directory || !isUnder(directory, entry.path)) continue;
        let child = entry.path;
        while (parentPath(child) !== directory) child = parentPath(child);
        const kind = child === entry.path ? "file" : "directory";
        const before = children.get(child);
        children.set(child, { path: child, kind, size: (before?.size ?? 0) + entry.size,
          hash: kind === "file" ? entry.hash : "" });
      }
      return [...children.values()].sort(byPath);
    });
  }

  glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]> {
    return settle(() => {
      const glob = compileGlob(pattern);
      if (!glob.ok) throw glob.error;
      return [...this.#sealed(commit).files.values()]
        .filter((entry) => glob.value.matches(entry.path)).sort(byPath);
    });
  }

  walk(commit: ShardCommit, directory: string): AsyncIterable<FileEntry> {
    const entries = [...this.#sealed(commit).files.values()]
      .filter((entry) => isUnder(directory, entry.path)).sort(byPath);
    return eachOf(entries);
  }

  diff(commit: ShardCommit, base: CommitId, directory: string): Promise<ShardFileChange[]> {
    return settle(() => {
      const now = this.#sealed(commit).files;
      const before = base === "" ? new Map<string, FileEntry>()
        : this.#sealed({ repo: commit.repo, id: base }).files;
      const changes: ShardFileChange[] = [];
      for (const [path, entry] of now) {
        if (!isUnder(directory, path)) continue;
        const old = before.get(path);
        if (old === undefined) changes.push({ path, change: "added", oldSize: 0, newSize: entry.size });
        else if (old.hash !== entry.hash) {
          changes.push({ path, change: "changed", oldSize: old.size, newSize: entry.size });
        }
      }
      for (const [path, old] of before) {
        if (isUnder(directory, path) && !now.has(path)) {
          changes.push({ path, change: "deleted", oldSize: old.size, newSize: 0 });
        }
      }
      return changes.sort(byPath);
    });
  }

  missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    return settle(() => {
      return ids.filter((id) => !this.#chunks.has(id));
    });
  }

  readChunk(id: Sha256Hex): Promise<Uint8Array> {
    return settle(() => {
      const bytes = this.#chunks.get(id);
      if (bytes === undefined) throw new PfsError("NOT_FOUND", `chunk ${id} not found`);
      return bytes;
    });
  }

  putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void> {
    return settle(() => {
      for (const chunk of chunks) {
        if (sha256(chunk.bytes) !== chunk.ref.id || chunk.bytes.length !== chunk.ref.size) {
          throw new PfsError("INVALID_ARGUMENT", `chunk ${chunk.ref.id} does not match its bytes`);
        }
      }
      for (const chunk of chunks) this.#chunks.set(chunk.ref.id, Buffer.from(chunk.bytes));
    });
  }

  collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }> {
    return settle(() => {
      return { chunksFreed: 0, bytesFreed: 0 };
    });
  }

  close(): Promise<void> {
    return settle(() => {
      this.#commits.clear();
      this.#chunks.clear();
    });
  }
}
