/**
 * `pfs sync DIR R@B[:/prefix]`: mirrors a local directory into a branch. First an initial
 * upload makes the branch's files below the prefix equal to the directory's (puts every file
 * as one tar stream, deletes what the directory no longer has); then, unless `once`, chokidar
 * watches the directory and each burst of changes, once quiet for `quietMs`, becomes one
 * commit with the added, changed and deleted files.
 *
 * Invariant: every commit sync starts is either finished or deleted before sync moves on or
 * returns, so interrupting it (the AbortSignal, SIGINT in the CLI) never leaves a half commit
 * visible: a burst is written inside one open commit, and an abort or a failure while it is
 * being written deletes that commit. Changes made while a burst is committed go into the next.
 */
import { createReadStream, existsSync } from "node:fs";
import { join, relative as relativeTo } from "node:path";
import { watch } from "chokidar";
import { PfsError } from "../../common/index.js";
import { rootPath } from "../path/index.js";
import type { SyncTarget } from "./cli-args.js";
import type { PfsClient } from "./client.js";
import { syncQuietMsDefault } from "./limits.js";
import { type LocalFile, tarOfFiles, walkDirectory } from "./local-files.js";
import type { FileInfoMessage } from "./proto.js";

export interface SyncOptions {
  readonly directory: string;
  readonly target: SyncTarget;
  /** Upload once and return instead of watching. */
  readonly once: boolean;
  /** Quiet period that ends a burst; `syncQuietMsDefault` when absent. */
  readonly quietMs?: number;
  /** Stops the sync: the open commit, if any, is deleted, and `syncDirectory` resolves. */
  readonly signal: AbortSignal;
  /** One line per commit and per notable event, for stderr. */
  readonly report: (line: string) => void;
}

/** The path in the branch of a path relative to the synced directory. */
function remotePath(prefix: string, relative: string): string {
  return prefix === rootPath ? `/${relative}` : `${prefix}/${relative}`;
}

/**
 * Runs `write` inside a fresh commit on the target branch, then finishes it. If `write` or the
 * finish fails, or `signal` fires before the finish, the commit is deleted and the error
 * rethrown. Resolves with the commit id.
 */
export async function inOneCommit(client: PfsClient, target: SyncTarget, signal: AbortSignal,
  write: (commit: string) => Promise<void>): Promise<string> {
  const started = await client.startCommit(target.repo, target.branch);
  const ref = { repo: target.repo, commit: started.id };
  try {
    await write(started.id);
    signal.throwIfAborted();
    await client.finishCommit(ref);
    return started.id;
  } catch (error: unknown) {
    await client.deleteCommit(ref).catch(() => undefined);
    throw error;
  }
}

/** The files of the branch head below the prefix (none before the branch's first commit). */
async function remoteFiles(client: PfsClient, target: SyncTarget): Promise<FileInfoMessage[]> {
  const branch = await client.inspectBranch(target.repo, target.branch).catch((error: unknown) => {
    if (error instanceof PfsError && error.code === "NOT_FOUND") return undefined;
    throw error;
  });
  if (branch === undefined || branch.head === "") return [];
  const pattern = target.prefix === rootPath ? "/**" : `${target.prefix}/**`;
  const files = await client.globFile({ repo: target.repo, commit: branch.head }, pattern);
  return files.filter((file) => file.type !== "DIR");
}

/** The initial upload: the branch below the prefix becomes the directory. Returns the commit. */
async function uploadAll(client: PfsClient, options: SyncOptions): Promise<string> {
  const { target, signal } = options;
  const files: LocalFile[] = await walkDirectory(options.directory);
  const local = new Set(files.map((file) => remotePath(target.prefix, file.relativePath)));
  const stale = (await remoteFiles(client, target)).filter((file) => !local.has(file.path));
  return inOneCommit(client, target, signal, async (commit) => {
    for (const file of stale) {
      signal.throwIfAborted();
      await client.deleteFile({ commit: { repo: target.repo, commit }, path: file.path });
    }
    if (files.length === 0) return;
    const source = untilAborted(tarOfFiles(files), signal);
    await client.putFile({ commit: { repo: target.repo, commit }, path: target.prefix,
      append: false, format: "TAR" }, source);
  });
}

/** `source`, failing with the signal's reason once it fires (checked between pieces). */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  for await (const piece of source) {
    signal.throwIfAborted();
    yield piece;
  }
}

/** One burst: relative paths that changed, to put (still there) or delete (gone). */
async function commitBurst(client: PfsClient, options: SyncOptions,
  changed: ReadonlySet<string>): Promise<string> {
  const { target, signal } = options;
  return inOneCommit(client, target, signal, async (commit) => {
    for (const relative of [...changed].sort()) {
      signal.throwIfAborted();
      const path = remotePath(target.prefix, relative);
      const file = { commit: { repo: target.repo, commit }, path };
      const local = join(options.directory, ...relative.split("/"));
      if (existsSync(local)) {
        await client.putFile({ ...file, append: false, format: "RAW" },
          untilAborted(createReadStream(local) as AsyncIterable<Buffer>, signal));
      } else {
        await client.deleteFile(file, true).catch((error: unknown) => {
          if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
        });
      }
    }
  });
}

/** Mirrors the directory into the branch (see the module comment). */
export async function syncDirectory(client: PfsClient, options: SyncOptions): Promise<void> {
  const first = await uploadAll(client, options);
  options.report(`synced ${options.directory} to ${options.target.repo}@${first}`);
  if (options.once) return;
  const quietMs = options.quietMs ?? syncQuietMsDefault;
  const watcher = watch(options.directory, { ignoreInitial: true, persistent: true });
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  if (options.signal.aborted) stop();
  options.signal.addEventListener("abort", () => { stop(); }, { once: true });
  const flush = (): void => {
    const burst = pending;
    pending = new Set();
    running = running.then(async () => {
      if (burst.size === 0 || options.signal.aborted || failure !== undefined) return;
      const commit = await commitBurst(client, options, burst);
      options.report(`committed ${burst.size} change(s) as ${options.target.repo}@${commit}`);
    }).catch((error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
      stop();
    });
  };
  const changed = (path: string): void => {
    const relative = relativeTo(options.directory, path).split(/[\\/]/).join("/");
    if (relative === "" || relative.startsWith("..")) return;
    pending.add(relative);
    clearTimeout(timer);
    timer = setTimeout(flush, quietMs);
    timer.unref();
  };
  for (const event of ["add", "change", "unlink", "unlinkDir"] as const) watcher.on(event, changed);
  await stopped;
  clearTimeout(timer);
  await watcher.close();
  await running;
  if (failure !== undefined) throw failure;
}
