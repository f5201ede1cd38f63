/**
 * The commit storage of one shard replica, in one directory:
 *
 *     <dir>/manifests/<repo>/<commitId>      one immutable manifest per finished commit
 *     <dir>/staging/<repo>/<commitId>.log    one staging log per open commit
 *     <dir>/trash/                           repos being deleted (emptied on open)
 *
 * Lifecycle of a commit here: `openStaging` creates (or reopens and recovers) its log; writes
 * go to the log; `finish` materializes the log over the parent's manifest, publishes the
 * manifest atomically, and only then removes the log. A crash between the two leaves both;
 * finishing again finds the manifest, removes the log and returns the same manifest
 * (idempotent). A commit whose log is absent finishes as an unchanged copy of its parent (a
 * commit that wrote nothing to this shard). `abort` drops an open commit's log.
 *
 * Concurrency: operations on one commit run one at a time (a per-commit queue); a log is
 * opened once and shared by every writer, so their appends share fsyncs. Names: repos are
 * [A-Za-z0-9_-]+ (at most `repoNameBytesMax` bytes), commit ids 32 lowercase hex characters;
 * anything else is INVALID_ARGUMENT.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { type Logger, PfsError, silentLogger } from "../../common/index.js";
import type { CommitId } from "../model.js";
import {
  exists, isNotFound, makeDirDurable, openExisting, publishTemporary, removeDurable, syncDir,
  temporaryMarker, writeTemporary,
} from "../durable-fs.js";
import { type Manifest, emptyManifest, openManifest } from "./manifest.js";
import { materialize } from "./materialize.js";
import { checkManifestTransferSize } from "./manifest-bytes.js";
import { type ManifestSummary, writeManifest } from "./manifest-writer.js";
import { repoNameBytesMax } from "./limits.js";
import {
  type StagingLog, type StagingRecovery, createStagingLog, openStagingLog,
} from "./staging-log.js";
import type { StagingOp } from "./staging-record.js";

const repoNamePattern = /^[A-Za-z0-9_-]+$/;
const commitIdPattern = /^[0-9a-f]{32}$/;
const logSuffix = ".log";

function checkRepo(repo: string): void {
  if (!repoNamePattern.test(repo) || repo.length > repoNameBytesMax) {
    throw new PfsError("INVALID_ARGUMENT", `repo name "${repo.slice(0, 300)}" is invalid`);
  }
}

function checkCommit(repo: string, commitId: string): void {
  checkRepo(repo);
  if (!commitIdPattern.test(commitId)) {
    throw new PfsError("INVALID_ARGUMENT", `commit id "${commitId.slice(0, 100)}" is invalid`);
  }
}

/**
 * A commit with data in this store: its manifest (finished here), its staging log (open here),
 * or both (a finish that crashed before removing the log), and when either file last changed.
 */
export interface StoredCommit {
  readonly repo: string;
  readonly id: CommitId;
  readonly finished: boolean;
  readonly staged: boolean;
  /** The latest modification time of its files, in ms since the epoch. */
  readonly modifiedMs: number;
}

/** Options of `CommitStore.open`. */
export interface CommitStoreOptions {
  /** The shard replica's storage directory; created if missing. */
  readonly dir: string;
  readonly logger?: Logger;
}

/** The commit storage of one shard replica. Owned by its shard service; `close()` once. */
export class CommitStore {
  readonly dir: string;
  readonly #logger: Logger;
  /** Open staging logs by "repo/commitId". */
  readonly #logs = new Map<string, StagingLog>();
  /** The tail of each commit's operation queue by "repo/commitId". */
  readonly #queues = new Map<string, Promise<unknown>>();
  #trashCounter = 0;

  private constructor(dir: string, logger: Logger) {
    this.dir = dir;
    this.#logger = logger;
  }

  /** Opens (creating) the store and removes leftovers of interrupted writes and deletes. */
  static async open(options: CommitStoreOptions): Promise<CommitStore> {
    const store = new CommitStore(path.resolve(options.dir), options.logger ?? silentLogger);
    for (const sub of ["manifests", "staging", "trash"]) {
      await makeDirDurable(path.join(store.dir, sub));
    }
    await store.#cleanLeftovers();
    return store;
  }

  async #cleanLeftovers(): Promise<void> {
    const trash = path.join(this.dir, "trash");
    for (const name of await fs.readdir(trash)) {
      await fs.rm(path.join(trash, name), { recursive: true, force: true });
    }
    for (const sub of ["manifests", "staging"]) {
      for (const repo of await fs.readdir(path.join(this.dir, sub))) {
        const repoDir = path.join(this.dir, sub, repo);
        for (const name of await fs.readdir(repoDir)) {
          if (!name.includes(temporaryMarker)) continue;
          this.#logger.info("removing a leftover temporary file", { file: name, repo });
          await fs.rm(path.join(repoDir, name), { force: true });
        }
      }
    }
  }

  /** Where the manifest of a finished commit lives. Throws INVALID_ARGUMENT for bad names. */
  manifestPath(repo: string, commitId: CommitId): string {
    checkCommit(repo, commitId);
    return path.join(this.dir, "manifests", repo, commitId);
  }

  /** Where the staging log of an open commit lives. Throws INVALID_ARGUMENT for bad names. */
  stagingPath(repo: string, commitId: CommitId): string {
    checkCommit(repo, commitId);
    return path.join(this.dir, "staging", repo, commitId + logSuffix);
  }

  /** Runs `step` after every earlier operation on the same commit has settled. */
  async #serially<T>(repo: string, commitId: string, step: () => Promise<T>): Promise<T> {
    const key = `${repo}/${commitId}`;
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const run = previous.then(step, step);
    const settled = run.then(() => undefined, () => undefined);
    this.#queues.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    }
  }

  /**
   * The staging log of the open commit `commitId`, created if new or reopened and recovered
   * (torn tail cut) after a restart. Every caller gets the same log until finish or abort.
   * Errors: INVALID_ARGUMENT for bad names; FAILED_PRECONDITION if the commit is finished.
   */
  async openStaging(repo: string, commitId: CommitId): Promise<StagingLog> {
    checkCommit(repo, commitId);
    return await this.#serially(repo, commitId, async () => {
      const key = `${repo}/${commitId}`;
      const open = this.#logs.get(key);
      if (open !== undefined) return open;
      if (await exists(this.manifestPath(repo, commitId))) {
        throw new PfsError("FAILED_PRECONDITION", `commit ${repo}@${commitId} is finished`);
      }
      const file = this.stagingPath(repo, commitId);
      let log: StagingLog;
      try {
        const recovery = await openStagingLog(file, this.#logger);
        log = recovery.log;
      } catch (error) {
        if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
        await makeDirDurable(path.dirname(file));
        log = await createStagingLog(file);
      }
      this.#logs.set(key, log);
      return log;
    });
  }

  /** Seals and closes the open log of a commit, if any, and forgets it. */
  async #closeLog(repo: string, commitId: string): Promise<void> {
    const key = `${repo}/${commitId}`;
    const log = this.#logs.get(key);
    if (log === undefined) return;
    this.#logs.delete(key);
    await log.close();
  }

  /**
   * Finishes commit `commitId` of `repo` whose parent is `parentId` ("" for none, as in
   * `CommitInfo.parent`): writes its
   * manifest (parent + staging log) atomically and durably, then removes the log. Writes still
   * in flight complete first; later writes are refused. Idempotent: if the manifest exists
   * (a finish that crashed before removing the log), the log is removed and that manifest's
   * summary returned. Errors: INVALID_ARGUMENT for bad names; NOT_FOUND if the parent's
   * manifest is missing; DATA_CORRUPTED if the parent or the log is damaged.
   */
  async finish(repo: string, commitId: CommitId, parentId: CommitId):
    Promise<ManifestSummary> {
    checkCommit(repo, commitId);
    if (parentId !== "") checkCommit(repo, parentId);
    if (parentId === commitId) {
      throw new PfsError("INVALID_ARGUMENT", `commit ${commitId} cannot be its own parent`);
    }
    return await this.#serially(repo, commitId, async () => {
      await this.#closeLog(repo, commitId);
      const target = this.manifestPath(repo, commitId);
      const log = this.stagingPath(repo, commitId);
      if (!(await exists(target))) await this.#materialize(repo, target, log, parentId);
      await removeDurable(log);
      const manifest = await openManifest(target);
      await manifest.close();
      return { entryCount: manifest.entryCount, totalSizeBytes: manifest.totalSizeBytes };
    });
  }

  async #materialize(repo: string, target: string, logFile: string, parentId: string):
    Promise<void> {
    const parentFile = parentId === "" ? "" : this.manifestPath(repo, parentId);
    const parent = parentId === "" ? emptyManifest() : await openManifest(parentFile);
    try {
      await makeDirDurable(path.dirname(target));
      const recovery = await openLogIfPresent(logFile, this.#logger);
      try {
        if (parentFile !== "" && (recovery?.recordCount ?? 0) === 0) {
          // Nothing written here: the manifest is the parent's, byte for byte. A hard link
          // shares the immutable file instead of copying a possibly huge manifest.
          await fs.link(parentFile, target);
          await syncDir(path.dirname(target));
          return;
        }
        const ops = recovery === null ? [] : recovery.log.ops();
        await writeManifest(target, materialize(parent, ops));
      } finally {
        await recovery?.log.close();
      }
    } finally {
      await parent.close();
    }
  }

  /**
   * Installs the manifest of the finished commit `commitId` as received from another replica
   * (its file's bytes): written to a temporary file and fsynced, checked in full (every CRC
   * and block), then published atomically and durably; then the commit's staging log, if any,
   * is dropped (the commit is sealed here now). If the commit's manifest is here already,
   * nothing changes (a finished commit is immutable) unless `options.replace` (the caller
   * found the copy here damaged): then the new bytes are published over it. Errors:
   * INVALID_ARGUMENT for bad names; DATA_CORRUPTED if `bytes` are not a whole, intact manifest
   * (nothing published).
   */
  async installManifest(repo: string, commitId: CommitId, bytes: Uint8Array,
    options: { readonly replace?: boolean } = {}): Promise<ManifestSummary> {
    const target = this.manifestPath(repo, commitId);
    return await this.#serially(repo, commitId, async () => {
      if (options.replace === true || !(await exists(target))) {
        await makeDirDurable(path.dirname(target));
        const temporary = await writeTemporary(target, bytes);
        try {
          const received = await openManifest(temporary, { verifyBlocks: true });
          await received.close();
          await publishTemporary(temporary, target);
        } finally {
          await fs.rm(temporary, { force: true });
        }
      }
      await this.#removeLog(repo, commitId, "install");
      const manifest = await openManifest(target);
      await manifest.close();
      return { entryCount: manifest.entryCount, totalSizeBytes: manifest.totalSizeBytes };
    });
  }

  /** True when the finished commit `commitId` has a manifest file here (not checked). */
  async hasManifest(repo: string, commitId: CommitId): Promise<boolean> {
    return await exists(this.manifestPath(repo, commitId));
  }

  /**
   * The bytes of the manifest of the finished commit `commitId`, as stored (not checked here:
   * the caller checks them, see `readManifestBytes`). Errors: NOT_FOUND if it is not finished
   * here; LIMIT_EXCEEDED past `manifestTransferBytesMax`.
   */
  async manifestBytes(repo: string, commitId: CommitId): Promise<Buffer> {
    const file = this.manifestPath(repo, commitId);
    const handle = await openExisting(file, "r", "manifest");
    try {
      checkManifestTransferSize((await handle.stat()).size, `manifest ${file}`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  /**
   * Drops the open commit `commitId` (failed or deleted): refuses further writes and removes
   * its staging log durably. Does nothing if it has no log. A finished commit's manifest is
   * untouched: FAILED_PRECONDITION.
   */
  async abort(repo: string, commitId: CommitId): Promise<void> {
    checkCommit(repo, commitId);
    await this.#serially(repo, commitId, async () => {
      await this.#removeLog(repo, commitId, "abort");
      if (await exists(this.manifestPath(repo, commitId))) {
        throw new PfsError("FAILED_PRECONDITION", `commit ${repo}@${commitId} is finished`);
      }
    });
  }

  /**
   * Drops every file of commit `commitId` here, its staging log and its manifest, durably: for
   * a commit the metadata no longer has, or has as failed (garbage collection decides that;
   * this store does not know commit states). Open writers of its log fail afterwards. Does
   * nothing for a commit with no files. Errors: INVALID_ARGUMENT for bad names.
   */
  async drop(repo: string, commitId: CommitId): Promise<void> {
    checkCommit(repo, commitId);
    await this.#serially(repo, commitId, async () => {
      await this.#removeLog(repo, commitId, "drop");
      await removeDurable(this.manifestPath(repo, commitId));
    });
  }

  /** Closes (a failure is only logged: the log goes anyway) and durably removes a log. */
  async #removeLog(repo: string, commitId: CommitId, why: string): Promise<void> {
    await this.#closeLog(repo, commitId).catch((error: unknown) => {
      this.#logger.warn(`staging log failed before ${why}`, { repo, commitId, error });
    });
    await removeDurable(this.stagingPath(repo, commitId));
  }

  /**
   * Every commit with a manifest or a staging log here, by repo then id, with the time its
   * files last changed. A file removed while listing is left out.
   */
  async storedCommits(): Promise<StoredCommit[]> {
    const stored: StoredCommit[] = [];
    for (const repo of await this.repos()) {
      const finished = new Set(await this.finishedCommits(repo));
      const staged = new Set(await this.openCommits(repo));
      for (const id of [...new Set([...finished, ...staged])].sort()) {
        const times = await Promise.all([
          finished.has(id) ? modifiedMsOf(this.manifestPath(repo, id)) : -1,
          staged.has(id) ? modifiedMsOf(this.stagingPath(repo, id)) : -1,
        ]);
        const modifiedMs = Math.max(...times);
        if (modifiedMs < 0) continue;
        stored.push({ repo, id, finished: times[0] !== -1, staged: times[1] !== -1, modifiedMs });
      }
    }
    return stored;
  }

  /**
   * Opens the manifest of the finished commit `commitId`; the caller closes it. Errors:
   * NOT_FOUND if it is not finished here; DATA_CORRUPTED if damaged.
   */
  async manifest(repo: string, commitId: CommitId, options: { verifyBlocks?: boolean } = {}):
    Promise<Manifest> {
    return await openManifest(this.manifestPath(repo, commitId), options);
  }

  /** The finished commits of `repo` held here, sorted. */
  async finishedCommits(repo: string): Promise<CommitId[]> {
    checkRepo(repo);
    return (await listNames(path.join(this.dir, "manifests", repo)))
      .filter((name) => commitIdPattern.test(name));
  }

  /** The commits of `repo` with a staging log here, sorted. */
  async openCommits(repo: string): Promise<CommitId[]> {
    checkRepo(repo);
    return (await listNames(path.join(this.dir, "staging", repo)))
      .filter((name) => name.endsWith(logSuffix))
      .map((name) => name.slice(0, -logSuffix.length))
      .filter((name) => commitIdPattern.test(name));
  }

  /** The repos with any manifest or staging log here, sorted. */
  async repos(): Promise<string[]> {
    const names = new Set([
      ...await listNames(path.join(this.dir, "manifests")),
      ...await listNames(path.join(this.dir, "staging")),
    ]);
    return [...names].filter((name) => repoNamePattern.test(name)).sort();
  }

  /**
   * Deletes every manifest and staging log of `repo`. Open logs are closed first (their
   * writes then fail). The repo's directories move to trash atomically and durably, then are
   * removed; a crash in between leaves them in trash, emptied on the next open.
   */
  async deleteRepo(repo: string): Promise<void> {
    checkRepo(repo);
    for (const [key, log] of [...this.#logs]) {
      if (!key.startsWith(`${repo}/`)) continue;
      this.#logs.delete(key);
      await log.close().catch(() => undefined);
    }
    const trash = path.join(this.dir, "trash");
    for (const sub of ["manifests", "staging"]) {
      const from = path.join(this.dir, sub, repo);
      const to = path.join(trash, `${sub}-${repo}-${process.pid}-${this.#trashCounter++}`);
      try {
        await fs.rename(from, to);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      await syncDir(path.dirname(from));
      await syncDir(trash);
      await fs.rm(to, { recursive: true, force: true });
    }
  }

  /**
   * Every chunk id referenced by any manifest or staging log here: what garbage collection
   * must keep. Reads every block and record (checking their CRCs). Ids written to a log after
   * this scan passed it are not included; the chunk store's GC protects chunks written since
   * its start, which covers them.
   */
  async referencedChunks(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const repo of await this.repos()) {
      for (const commitId of await this.finishedCommits(repo)) {
        const manifest = await this.manifest(repo, commitId);
        try {
          for await (const entry of manifest.entries()) addChunks(ids, entry.chunks);
        } finally {
          await manifest.close();
        }
      }
      for (const commitId of await this.openCommits(repo)) {
        await this.#logChunks(repo, commitId, ids);
      }
    }
    return ids;
  }

  async #logChunks(repo: string, commitId: string, ids: Set<string>): Promise<void> {
    const open = this.#logs.get(`${repo}/${commitId}`);
    if (open !== undefined) {
      for await (const op of open.ops()) addOpChunks(ids, op);
      return;
    }
    await this.#serially(repo, commitId, async () => {
      const recovery = await openLogIfPresent(this.stagingPath(repo, commitId), this.#logger);
      if (recovery === null) return;
      try {
        for await (const op of recovery.log.ops()) addOpChunks(ids, op);
      } finally {
        await recovery.log.close();
      }
    });
  }

  /** Closes every open staging log (waiting for their accepted writes). */
  async close(): Promise<void> {
    const logs = [...this.#logs.values()];
    this.#logs.clear();
    for (const log of logs) await log.close().catch(() => undefined);
  }
}

/** Opens and recovers the staging log `file`, or null when there is none. */
async function openLogIfPresent(file: string, logger: Logger): Promise<StagingRecovery | null> {
  try {
    return await openStagingLog(file, logger);
  } catch (error) {
    if (error instanceof PfsError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

function addChunks(ids: Set<string>, chunks: readonly { readonly id: string }[]): void {
  for (const chunk of chunks) ids.add(chunk.id);
}

function addOpChunks(ids: Set<string>, op: StagingOp): void {
  if (op.kind === "put") addChunks(ids, op.entry.chunks);
  else if (op.kind === "append") addChunks(ids, op.chunks);
  else if (op.kind === "copy") addChunks(ids, op.from.chunks);
}

/** The modification time of `file` in ms, or -1 when it does not exist. */
async function modifiedMsOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch (error) {
    if (isNotFound(error)) return -1;
    throw error;
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}
