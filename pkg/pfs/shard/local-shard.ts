/**
 * `LocalShard`: one shard replica on local disk (the `ShardReplica` contract, shard-api.ts),
 * built from a chunk store in `<dir>/chunks` (pkg/pfs/chunk) and a commit store in
 * `<dir>/commits` (pkg/pfs/storage).
 *
 * Writes. A put streams its source through the content-defined chunker into a chunk write
 * session (memory: the session's bounded in-flight bytes, whatever the file's size), commits
 * the session (the chunks are durable), then records the file in the commit's staging log
 * (durable when the call resolves; concurrent records share one fsync). An append does the same
 * after reading the file's current content to extend its sha256 (appended-content.ts), and
 * records only the new chunks with the whole new hash.
 *
 * Concurrency. Calls for different commits never wait on each other. Per commit, a
 * readers-writer lock: recording a put, a putEntry or a delete holds it shared (they commute
 * with one another in the log's order); an append holds it exclusively from reading the current
 * content to recording (nothing may change the file in between), and so do finish and abort
 * (writes already recording complete first). Streaming a put's data holds no lock.
 *
 * Garbage collection. A shard-wide gate (another readers-writer lock) closes the race between
 * writers and the collector: a writer holds it shared from committing its chunk session (the
 * moment its chunks stop being pinned) until its record is durable, and `putEntry` holds it
 * while it checks its chunks exist and records them; the collector holds it exclusively from
 * beginning the collection to the end of the sweep. So every chunk is, during a sweep, either
 * pinned by an open session, marked as put since the collection began, or named by a record the
 * reference scan read. A finish holds the gate shared too: it moves a commit's references from
 * its staging log to its manifest, and a scan must not read the manifests before it and the
 * logs after it. Lock order: a commit's lock, then the gate. Chunks pushed by
 * `putChunks` are unreferenced until a `putEntry` names them: a collection between the two
 * frees them, and the `putEntry` then fails with NOT_FOUND (the caller pushes again).
 */
import { type Hash } from "node:crypto";
import * as path from "node:path";
import { type Logger, PfsError, silentLogger } from "../../common/index.js";
import {
  ChunkStore, type ChunkSource, type ChunkWriteSession, type ChunkingOptions, type WrittenFile,
  defaultChunking, readFile, sha256Hex, writeFile,
} from "../chunk/index.js";
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";
import { compileGlob, isNormalizedPath } from "../path/index.js";
import {
  CommitStore, type Manifest, type StoredCommit, comparePaths, diffManifests, emptyManifest,
  isAtOrUnder, readManifestBytes,
} from "../storage/index.js";
import { hashOfContent, stagedCount, stagedEntry } from "./appended-content.js";
import { shardChunkIdsPerCallMax, shardPutChunksBytesMax } from "./limits.js";
import { KeyedReadWriteLock, ReadWriteLock } from "./read-write-lock.js";
import type {
  ShardByteRange, ShardCommit, ShardDeleteOptions, ShardDirectoryChild, ShardFileChange,
  ShardFinishResult, ShardReplica,
} from "./shard-api.js";

/** Options of `LocalShard.open`. */
export interface LocalShardOptions {
  /** The replica's directory (created if missing): `chunks/` and `commits/` go below it. */
  readonly dir: string;
  /** The shard number, 0..S-1. */
  readonly shard: number;
  readonly logger?: Logger;
  /** How files are cut into chunks; the cluster-wide default unless a test asks otherwise. */
  readonly chunking?: ChunkingOptions;
  /**
   * A test seam: awaited by `collectGarbage` between computing the references and sweeping,
   * so a test can run writes exactly there (where a missing gate would lose their chunks).
   */
  readonly beforeSweep?: () => Promise<void>;
  /**
   * Fetches a good copy of a chunk from another replica (see `setRepairChunk`); absent: a
   * damaged chunk is DATA_CORRUPTED and stays damaged.
   */
  readonly repairChunk?: RepairChunk;
}

/**
 * Fetches the bytes of chunk `id` from another replica (its `readChunk`, which never repairs).
 * The shard checks they hash to `id` before using them.
 */
export type RepairChunk = (id: Sha256Hex) => Promise<Uint8Array>;

function commitKey(commit: ShardCommit): string {
  return `${commit.repo}/${commit.id}`;
}

/** Throws INVALID_ARGUMENT unless `value` is a normalized path (a file path unless `root`). */
function checkPath(value: string, what: string, root: boolean): void {
  if (!isNormalizedPath(value) || (!root && value === "/")) {
    throw new PfsError("INVALID_ARGUMENT", `${what} ${JSON.stringify(value.slice(0, 200))} is ` +
      `not a normalized ${root ? "path" : "file path"}`);
  }
}

export class LocalShard implements ShardReplica {
  readonly shard: number;
  readonly #chunks: ChunkStore;
  readonly #commits: CommitStore;
  readonly #chunking: ChunkingOptions;
  readonly #beforeSweep: () => Promise<void>;
  readonly #logger: Logger;
  #repairChunk: RepairChunk | undefined;
  /** Where file reads get chunk bytes: the store, with a damaged chunk repaired if it can be. */
  readonly #chunkSource: ChunkSource = { get: (id) => this.#readRepairing(id) };
  readonly #commitLocks = new KeyedReadWriteLock();
  /** Shared: a writer between committing its chunks and recording them. Exclusive: GC. */
  readonly #gcGate = new ReadWriteLock();
  #closed = false;

  private constructor(shard: number, chunks: ChunkStore, commits: CommitStore,
    options: LocalShardOptions) {
    this.shard = shard;
    this.#chunks = chunks;
    this.#commits = commits;
    this.#chunking = options.chunking ?? defaultChunking;
    this.#beforeSweep = options.beforeSweep ?? (() => Promise.resolve());
    this.#logger = options.logger ?? silentLogger;
    this.#repairChunk = options.repairChunk;
  }

  /**
   * Sets (or, with undefined, removes) how a chunk that fails its hash check on a file read
   * (getFile, and an append reading the file's current content) is repaired: `repair` fetches
   * it from another replica; the bytes must hash to the id, then they replace the local copy
   * durably (ChunkStore.replace) and are served. `readChunk` never repairs.
   */
  setRepairChunk(repair: RepairChunk | undefined): void {
    this.#repairChunk = repair;
  }

  /** Opens (creating) the replica in `options.dir`, recovering what a crash left there. */
  static async open(options: LocalShardOptions): Promise<LocalShard> {
    if (!Number.isSafeInteger(options.shard) || options.shard < 0) {
      throw new PfsError("INVALID_ARGUMENT", `shard number ${options.shard} is not >= 0`);
    }
    const logger = options.logger ?? silentLogger;
    const dir = path.resolve(options.dir);
    const chunks = await ChunkStore.open({ dir: path.join(dir, "chunks"), logger });
    const commits = await CommitStore.open({ dir: path.join(dir, "commits"), logger });
    return new LocalShard(options.shard, chunks, commits, options);
  }

  #checkOpen(): void {
    if (this.#closed) throw new PfsError("FAILED_PRECONDITION", `shard ${this.shard} is closed`);
  }

  // ---- writes ---------------------------------------------------------------------------

  async putFile(commit: ShardCommit, parent: CommitId, filePath: string,
    data: AsyncIterable<Uint8Array>, options: { readonly append?: boolean } = {}):
    Promise<FileEntry> {
    this.#checkOpen();
    checkPath(filePath, "file path", false);
    const log = await this.#commits.openStaging(commit.repo, commit.id);
    if (options.append !== true) {
      const session = this.#chunks.openSession();
      const written = await this.#chunkInto(session, data, undefined);
      const entry: FileEntry = { path: filePath, ...written };
      await this.#commitLocks.with(commitKey(commit), false,
        () => this.#record(session, () => log.put(entry)));
      return entry;
    }
    return await this.#commitLocks.with(commitKey(commit), true, async () => {
      const parentManifest = await this.#openParent(commit.repo, parent);
      let base: FileEntry | undefined;
      try {
        base = await stagedEntry(log, parentManifest, filePath);
      } finally {
        await parentManifest.close();
      }
      const hash = await hashOfContent(this.#chunkSource, base);
      const session = this.#chunks.openSession();
      const added = await this.#chunkInto(session, data, hash);
      const entry: FileEntry = {
        path: filePath, size: (base?.size ?? 0) + added.size, hash: hash.digest("hex"),
        chunks: [...(base?.chunks ?? []), ...added.chunks],
      };
      await this.#record(session, () => log.append(filePath, added.chunks, entry.hash));
      return entry;
    });
  }

  /**
   * Chunks `data` into `session` (aborted on failure); feeds every piece to `hash` too when
   * given. Resolves once every chunk's write is under way; the caller commits the session.
   */
  async #chunkInto(session: ChunkWriteSession, data: AsyncIterable<Uint8Array>,
    hash: Hash | undefined): Promise<WrittenFile> {
    const source = hash === undefined ? data : hashing(data, hash);
    try {
      return await writeFile(session, source, { chunking: this.#chunking });
    } catch (error) {
      await session.abort();
      throw error;
    }
  }

  /** Runs `step` holding the GC gate shared (no collection scans or sweeps meanwhile). */
  async #insideGate<T>(step: () => Promise<T>): Promise<T> {
    const release = await this.#gcGate.acquireShared();
    try {
      return await step();
    } finally {
      release();
    }
  }

  /** Commits `session` and runs `write` (the staging record) inside the GC gate. */
  async #record(session: ChunkWriteSession, write: () => Promise<void>): Promise<void> {
    await this.#insideGate(async () => {
      await session.commit();
      await write();
    });
  }

  async #openParent(repo: string, parent: CommitId): Promise<Manifest> {
    return parent === "" ? emptyManifest() : await this.#openFinished({ repo, id: parent });
  }

  /** Opens the manifest of a finished commit; NOT_FOUND `{ missing: "commit" }` if absent. */
  async #openFinished(commit: ShardCommit): Promise<Manifest> {
    try {
      return await this.#commits.manifest(commit.repo, commit.id);
    } catch (error) {
      if (error instanceof PfsError && error.code === "NOT_FOUND") throw this.#missingCommit(commit);
      throw error;
    }
  }

  #missingCommit(commit: ShardCommit): PfsError {
    return new PfsError("NOT_FOUND", `commit ${commit.repo}@${commit.id} is not on this replica ` +
      `of shard ${this.shard}`, { missing: "commit", repo: commit.repo, commit: commit.id });
  }

  async putEntry(commit: ShardCommit, filePath: string, entry: FileEntry): Promise<FileEntry> {
    this.#checkOpen();
    checkPath(filePath, "file path", false);
    const log = await this.#commits.openStaging(commit.repo, commit.id);
    const recorded: FileEntry = { ...entry, path: filePath };
    await this.#commitLocks.with(commitKey(commit), false, async () => {
      const release = await this.#gcGate.acquireShared();
      try {
        const missing = await this.#missing(entry.chunks.map((chunk) => chunk.id), false);
        if (missing.length > 0) {
          throw new PfsError("NOT_FOUND", `${missing.length} chunks of ${filePath} are not in ` +
            `shard ${this.shard}, e.g. ${missing[0] ?? ""}`, { chunk: missing[0] ?? "" });
        }
        await log.put(recorded);
      } finally {
        release();
      }
    });
    return recorded;
  }

  async deleteFile(commit: ShardCommit, filePath: string, options: ShardDeleteOptions = {}):
    Promise<number> {
    this.#checkOpen();
    checkPath(filePath, "path", true);
    const recursive = options.recursive ?? true;
    const log = await this.#commits.openStaging(commit.repo, commit.id);
    // Exclusive: the count and the delete see the same staged state.
    return await this.#commitLocks.with(commitKey(commit), true, async () => {
      const parent = await this.#openParent(commit.repo, options.parent ?? "");
      let count: number;
      try {
        count = await stagedCount(log, parent, filePath, recursive);
      } finally {
        await parent.close();
      }
      // A recursive delete of nothing is harmless to log; a non-recursive one must not reach
      // the files of a directory at the path.
      if (recursive || count > 0) await log.delete(filePath);
      return count;
    });
  }

  async finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult> {
    this.#checkOpen();
    // Inside the GC gate: a finish moves the commit's references from its staging log to its
    // manifest, and a reference scan that read the manifests before and the logs after would
    // see neither (and free the commit's chunks).
    const summary = await this.#commitLocks.with(commitKey(commit), true,
      () => this.#insideGate(() => this.#commits.finish(commit.repo, commit.id, parent)));
    return { files: summary.entryCount, sizeBytes: summary.totalSizeBytes };
  }

  async abortCommit(commit: ShardCommit): Promise<void> {
    this.#checkOpen();
    await this.#commitLocks.with(commitKey(commit), true,
      () => this.#commits.abort(commit.repo, commit.id));
  }

  async deleteRepo(repo: string): Promise<void> {
    this.#checkOpen();
    await this.#commits.deleteRepo(repo);
  }

  // ---- reads ----------------------------------------------------------------------------

  /** Runs `read` over the manifest of the finished `commit`, closing it afterwards. */
  async #withManifest<T>(commit: ShardCommit, read: (manifest: Manifest) => Promise<T>):
    Promise<T> {
    this.#checkOpen();
    const manifest = await this.#openFinished(commit);
    try {
      return await read(manifest);
    } finally {
      await manifest.close();
    }
  }

  async inspectFile(commit: ShardCommit, filePath: string): Promise<FileEntry> {
    checkPath(filePath, "file path", false);
    const entry = await this.#withManifest(commit, (manifest) => manifest.get(filePath));
    if (entry === undefined) {
      throw new PfsError("NOT_FOUND", `file ${commit.repo}@${commit.id}:${filePath} not found`,
        { missing: "file", path: filePath });
    }
    return entry;
  }

  async *getFile(commit: ShardCommit, filePath: string, range: ShardByteRange = { start: 0 }):
    AsyncGenerator<Uint8Array> {
    const entry = await this.inspectFile(commit, filePath);
    if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start > entry.size ||
      (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start))) {
      throw new PfsError("INVALID_ARGUMENT", `byte range [${range.start}, ${range.end ?? "end"}) ` +
        `is not within ${filePath}'s ${entry.size} bytes`, { path: filePath });
    }
    const end = Math.min(range.end ?? entry.size, entry.size);
    yield* readFile(this.#chunkSource, entry.chunks, { start: range.start, end });
  }

  async listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]> {
    checkPath(directory, "directory", true);
    return await this.#withManifest(commit, async (manifest) => {
      const children: ShardDirectoryChild[] = [];
      for await (const child of manifest.children(directory)) {
        children.push({ path: child.path, kind: child.kind, size: child.sizeBytes,
          hash: child.entry?.hash ?? "" });
      }
      // The manifest lists a directory as its name + "/", so "/d" comes after "/d.csv" there;
      // the contract sorts by path.
      return children.sort((a, b) => comparePaths(a.path, b.path));
    });
  }

  async glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]> {
    const compiled = compileGlob(pattern);
    if (!compiled.ok) throw compiled.error;
    const glob = compiled.value;
    return await this.#withManifest(commit, async (manifest) => {
      const matches: FileEntry[] = [];
      for await (const entry of manifest.glob((file) => glob.matches(file), glob.prefix)) {
        matches.push(entry);
      }
      return matches;
    });
  }

  async *walk(commit: ShardCommit, directory: string): AsyncGenerator<FileEntry> {
    checkPath(directory, "directory", true);
    this.#checkOpen();
    const manifest = await this.#openFinished(commit);
    try {
      yield* manifest.under(directory);
    } finally {
      await manifest.close();
    }
  }

  async diff(commit: ShardCommit, base: CommitId, directory: string):
    Promise<ShardFileChange[]> {
    checkPath(directory, "directory", true);
    return await this.#withManifest(commit, async (after) => {
      const before = await this.#openParent(commit.repo, base);
      try {
        const changes: ShardFileChange[] = [];
        const prefix = directory === "/" ? "" : directory;
        for await (const change of diffManifests(before, after, prefix)) {
          if (!isAtOrUnder(change.path, directory)) continue;
          changes.push({
            path: change.path, change: change.kind,
            oldSize: change.kind === "added" ? 0 : change.before.size,
            newSize: change.kind === "deleted" ? 0 : change.after.size,
          });
        }
        return changes;
      } finally {
        await before.close();
      }
    });
  }

  // ---- sealed commits between replicas ----------------------------------------------------

  async hasCommit(commit: ShardCommit): Promise<boolean> {
    this.#checkOpen();
    if (!(await this.#commits.hasManifest(commit.repo, commit.id))) return false;
    try {
      // Header, footer and index: a damaged copy counts as absent, so a catch-up replaces it.
      const manifest = await this.#commits.manifest(commit.repo, commit.id);
      await manifest.close();
      return true;
    } catch (error) {
      if (!(error instanceof PfsError && error.code === "DATA_CORRUPTED")) throw error;
      this.#logger.warn("a sealed manifest here is damaged", { shard: this.shard, error });
      return false;
    }
  }

  async readManifest(commit: ShardCommit): Promise<Uint8Array> {
    this.#checkOpen();
    let bytes: Buffer;
    try {
      bytes = await this.#commits.manifestBytes(commit.repo, commit.id);
    } catch (error) {
      if (error instanceof PfsError && error.code === "NOT_FOUND") throw this.#missingCommit(commit);
      throw error;
    }
    readManifestBytes(bytes, `manifest of ${commitKey(commit)} on shard ${this.shard}`);
    return bytes;
  }

  async installManifest(commit: ShardCommit, manifest: Uint8Array): Promise<void> {
    this.#checkOpen();
    const contents = readManifestBytes(manifest,
      `manifest of ${commitKey(commit)} received by shard ${this.shard}`);
    // Exclusive: writes still recording into the commit's log finish (and later ones fail)
    // before the log goes. In the GC gate: the chunks checked stay until the manifest names them.
    await this.#commitLocks.with(commitKey(commit), true, () => this.#insideGate(async () => {
      const stored = await this.#storedCopy(commit, manifest);
      if (stored === "same") {
        await this.#commits.installManifest(commit.repo, commit.id, manifest);
        return;
      }
      const missing = await this.#absentChunks(contents.chunkIds);
      if (missing.length > 0) {
        throw new PfsError("NOT_FOUND", `${missing.length} of the ${contents.chunkIds.length} ` +
          `chunks of ${commitKey(commit)} are not in shard ${this.shard}, e.g. ${missing[0] ?? ""}`,
        { missing: "chunks", chunks: missing.length, chunk: missing[0] ?? "" });
      }
      await this.#commits.installManifest(commit.repo, commit.id, manifest,
        { replace: stored === "damaged" });
      if (stored === "damaged") {
        this.#logger.warn("replaced a damaged sealed manifest", { shard: this.shard,
          repo: commit.repo, commit: commit.id });
      }
    }));
  }

  /**
   * How the manifest stored for `commit` compares with `manifest`: none here, the same bytes,
   * or damaged (replaceable). Intact but different bytes are DATA_CORRUPTED: a sealed commit
   * never changes, so one of the two replicas is wrong and nothing here is overwritten.
   */
  async #storedCopy(commit: ShardCommit, manifest: Uint8Array):
    Promise<"absent" | "same" | "damaged"> {
    if (!(await this.#commits.hasManifest(commit.repo, commit.id))) return "absent";
    const stored = await this.#commits.manifestBytes(commit.repo, commit.id);
    if (stored.equals(manifest)) return "same";
    try {
      readManifestBytes(stored, `manifest of ${commitKey(commit)} on shard ${this.shard}`);
    } catch (error) {
      if (error instanceof PfsError && error.code === "DATA_CORRUPTED") return "damaged";
      throw error;
    }
    throw new PfsError("DATA_CORRUPTED", `commit ${commitKey(commit)} is sealed on shard ` +
      `${this.shard} with a different manifest (${stored.length} bytes here, ` +
      `${manifest.length} received)`, { repo: commit.repo, commit: commit.id });
  }

  /** The ids of `ids` the chunk store lacks (any number of them; each looked up once). */
  async #absentChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    const absent: Sha256Hex[] = [];
    for (const id of new Set(ids)) if (!(await this.#chunks.has(id))) absent.push(id);
    return absent;
  }

  /**
   * Chunk `id` for a file read: from the store, or, when the copy there is damaged or gone and
   * a repair is set, from another replica — checked against the id, written over the local
   * copy durably, then served. If the repair fails the original error stands; bad bytes are
   * never served.
   */
  async #readRepairing(id: Sha256Hex): Promise<Uint8Array> {
    try {
      return await this.#chunks.get(id);
    } catch (error) {
      const repair = this.#repairChunk;
      if (repair === undefined || !isDamagedChunk(error, id)) throw error;
      const bytes = await repair(id).catch((repairError: unknown) => {
        this.#logger.warn("could not repair a damaged chunk", { shard: this.shard, chunk: id,
          error: repairError });
        return null;
      });
      if (bytes === null) throw error;
      if (sha256Hex(bytes) !== id) {
        this.#logger.warn("a repair brought bytes that do not match the chunk id",
          { shard: this.shard, chunk: id });
        throw error;
      }
      await this.#chunks.replace(id, bytes).then(
        () => { this.#logger.warn("repaired a damaged chunk", { shard: this.shard, chunk: id }); },
        (replaceError: unknown) => {
          // The bytes are good: serve them; the next read tries the repair again.
          this.#logger.error("could not write a repaired chunk", { shard: this.shard, chunk: id,
            error: replaceError });
        });
      return bytes;
    }
  }

  // ---- chunks ---------------------------------------------------------------------------

  async missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    this.#checkOpen();
    // Held: the caller is about to push the missing ones and record a file naming them all.
    return this.#missing(ids, true);
  }

  /** Which of `ids` the store lacks; with `hold`, every one is held (ChunkStore.hasAndHold). */
  async #missing(ids: readonly Sha256Hex[], hold: boolean): Promise<Sha256Hex[]> {
    checkChunkCount(ids.length);
    const missing: Sha256Hex[] = [];
    for (const id of new Set(ids)) {
      const present = hold ? await this.#chunks.hasAndHold(id) : await this.#chunks.has(id);
      if (!present) missing.push(id);
    }
    return missing;
  }

  async readChunk(id: Sha256Hex): Promise<Uint8Array> {
    this.#checkOpen();
    return await this.#chunks.get(id);
  }

  async putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void> {
    this.#checkOpen();
    checkChunkCount(chunks.length);
    const total = chunks.reduce((sum, chunk) => sum + chunk.bytes.length, 0);
    if (total > shardPutChunksBytesMax) {
      throw new PfsError("LIMIT_EXCEEDED", `putChunks of ${total} bytes is more than ` +
        `${shardPutChunksBytesMax}`, { bytes: total });
    }
    const session = this.#chunks.openSession();
    try {
      await Promise.all(chunks.map((chunk) => session.add(chunk.bytes, chunk.ref)));
      // Held while still pinned: the putEntry naming them comes in a later call.
      await this.#chunks.hold(chunks.map((chunk) => chunk.ref.id));
    } catch (error) {
      await session.abort();
      throw error;
    }
    await session.commit();
  }

  // ---- maintenance ----------------------------------------------------------------------

  async collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }> {
    this.#checkOpen();
    const release = await this.#gcGate.acquireExclusive();
    try {
      const collection = this.#chunks.beginGarbageCollection();
      let referenced: Set<Sha256Hex>;
      try {
        referenced = await this.#commits.referencedChunks();
        await this.#beforeSweep();
      } catch (error) {
        collection.cancel();
        throw error;
      }
      const result = await collection.sweep(referenced);
      return { chunksFreed: result.chunksFreed, bytesFreed: result.bytesFreed };
    } finally {
      release();
    }
  }

  /** Every commit with a manifest or staging log on this replica (see CommitStore). */
  async storedCommits(): Promise<StoredCommit[]> {
    this.#checkOpen();
    return await this.#commits.storedCommits();
  }

  /**
   * Drops a commit's manifest and staging log (a failed commit, or one the metadata no longer
   * has), waiting for writes recording into it; its chunks become garbage. Idempotent.
   */
  async dropCommit(commit: ShardCommit): Promise<void> {
    this.#checkOpen();
    await this.#commitLocks.with(commitKey(commit), true,
      () => this.#commits.drop(commit.repo, commit.id));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commits.close();
  }
}

/** Yields the pieces of `data` unchanged, feeding each to `hash` first. */
async function* hashing(data: AsyncIterable<Uint8Array>, hash: Hash):
  AsyncGenerator<Uint8Array> {
  for await (const piece of data) {
    hash.update(piece);
    yield piece;
  }
}

/** True for the store's error about chunk `id` itself: damaged bytes or a missing file. */
function isDamagedChunk(error: unknown, id: Sha256Hex): boolean {
  return error instanceof PfsError && error.details["chunk"] === id &&
    (error.code === "DATA_CORRUPTED" || error.code === "NOT_FOUND");
}

function checkChunkCount(count: number): void {
  if (count > shardChunkIdsPerCallMax) {
    throw new PfsError("LIMIT_EXCEEDED", `${count} chunks in one call is more than ` +
      `${shardChunkIdsPerCallMax}`, { chunks: count });
  }
}
