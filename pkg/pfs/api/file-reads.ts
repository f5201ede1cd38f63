/**
 * Reads of a finished commit across shards: a file is read from the shard its path hashes to
 * (`shardOf`); a directory's listing, a glob and a diff fan out to every shard and merge by
 * path (a diff then looks up each changed file on its shard for its hash); a directory's
 * content streams as a tar archive built from every shard's files in path
 * order (a k-way merge of the shards' sorted walks), one file's bytes at a time, so memory
 * stays flat whatever the sizes.
 */
import { type EventEmitter, once } from "node:events";
import { PfsError } from "../../common/index.js";
import { isUnder, parentPath, relativePath, rootPath, shardOf } from "../path/index.js";
import type { FileEntry } from "../model.js";
import type {
  ShardByteRange, ShardCommit, ShardDirectoryChild, ShardFileChange,
} from "../shard/shard-api.js";
import { pack } from "tar-stream";
import { LimitError } from "../../common/index.js";
import { diffLookupsInFlightMax, listingFilesMax } from "./limits.js";
import type { ShardRouting } from "./shard-router.js";

function byPath<T extends { readonly path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function bounded<T>(items: T[]): T[] {
  if (items.length > listingFilesMax) {
    throw new LimitError("files in one listing (listingFilesMax)", listingFilesMax, items.length);
  }
  return items;
}

/** The file at `path`, or undefined when no file is there (it may be a directory). */
export async function fileAt(router: ShardRouting, commit: ShardCommit, path: string):
  Promise<FileEntry | undefined> {
  if (path === rootPath) return undefined;
  const replica = await router.replica(shardOf(path, router.shards));
  try {
    return await replica.inspectFile(commit, path);
  } catch (error: unknown) {
    if (error instanceof PfsError && error.code === "NOT_FOUND") return undefined;
    throw error;
  }
}

/** Every shard's direct children of `directory`, merged (directories summed) and sorted. */
export async function listChildren(router: ShardRouting, commit: ShardCommit, directory: string):
  Promise<ShardDirectoryChild[]> {
  const replicas = await router.all();
  const lists = await Promise.all(replicas.map((replica) =>
    replica.listDirectory(commit, directory)));
  const merged = new Map<string, ShardDirectoryChild>();
  for (const child of lists.flat()) {
    const seen = merged.get(child.path);
    merged.set(child.path, seen === undefined ? child
      : { ...seen, size: seen.size + child.size, kind: "directory", hash: "" });
  }
  return bounded([...merged.values()].sort(byPath));
}

/** Every shard's files matching `pattern`, sorted. */
export async function globFiles(router: ShardRouting, commit: ShardCommit, pattern: string):
  Promise<FileEntry[]> {
  const replicas = await router.all();
  const lists = await Promise.all(replicas.map((replica) => replica.glob(commit, pattern)));
  return bounded(lists.flat().sort(byPath));
}

/** Every shard's changes from `base` to `commit` below `directory`, sorted. */
export async function diffFiles(router: ShardRouting, commit: ShardCommit, base: string,
  directory: string, shallow: boolean): Promise<ShardFileChange[]> {
  const replicas = await router.all();
  const lists = await Promise.all(replicas.map((replica) =>
    replica.diff(commit, base, directory)));
  const changes = lists.flat().filter((change) =>
    isUnder(directory, change.path) && (!shallow || parentPath(change.path) === directory));
  return bounded(changes.sort(byPath));
}

/** One difference between two commits, with the file on each side (absent: none there). */
export interface FileDiff {
  readonly path: string;
  readonly before: FileEntry | undefined;
  readonly after: FileEntry | undefined;
}

/**
 * `diffFiles` with each side's file entry (so its hash): the entries are looked up on the
 * path's shard, at most diffLookupsInFlightMax at a time.
 */
export async function diffEntries(router: ShardRouting, commit: ShardCommit, base: string,
  directory: string, shallow: boolean): Promise<FileDiff[]> {
  const changes = await diffFiles(router, commit, base, directory, shallow);
  const baseCommit: ShardCommit = { repo: commit.repo, id: base };
  const lookup = async (change: ShardFileChange): Promise<FileDiff> => {
    const [before, after] = await Promise.all([
      change.change === "added" ? undefined : fileAt(router, baseCommit, change.path),
      change.change === "deleted" ? undefined : fileAt(router, commit, change.path),
    ]);
    if ((change.change !== "added" && before === undefined) ||
      (change.change !== "deleted" && after === undefined)) {
      throw new PfsError("DATA_CORRUPTED", `the diff of ${commit.repo}@${commit.id} names ` +
        `${change.path} (${change.change}) but a side lacks it`, { path: change.path });
    }
    return { path: change.path, before, after };
  };
  const diffs: FileDiff[] = [];
  for (let start = 0; start < changes.length; start += diffLookupsInFlightMax) {
    const batch = changes.slice(start, start + diffLookupsInFlightMax);
    diffs.push(...await Promise.all(batch.map(lookup)));
  }
  return diffs;
}

/** The bytes of the file at `path` in `range`. */
export async function readFile(router: ShardRouting, commit: ShardCommit, path: string,
  range?: ShardByteRange): Promise<AsyncIterable<Uint8Array>> {
  const replica = await router.replica(shardOf(path, router.shards));
  return replica.getFile(commit, path, range);
}

/** Every file under `directory`, from all shards, in path order. */
export async function* walkAll(router: ShardRouting, commit: ShardCommit, directory: string):
  AsyncIterable<FileEntry> {
  const replicas = await router.all();
  const iterators = replicas.map((replica) =>
    replica.walk(commit, directory)[Symbol.asyncIterator]());
  const heads = await Promise.all(iterators.map((iterator) => iterator.next()));
  for (;;) {
    let best = -1;
    for (let index = 0; index < heads.length; index += 1) {
      const head = heads[index];
      if (head === undefined || head.done === true) continue;
      const current = best < 0 ? undefined : heads[best];
      if (current === undefined || current.done === true || head.value.path < current.value.path) {
        best = index;
      }
    }
    const chosen = heads[best];
    const iterator = iterators[best];
    if (best < 0 || chosen === undefined || chosen.done === true || iterator === undefined) return;
    yield chosen.value;
    heads[best] = await iterator.next();
  }
}

/**
 * A tar archive of every file under `directory` (names relative to it), produced into
 * `sink` one file at a time with flow control. Resolves when the archive is complete.
 */
export async function tarDirectory(router: ShardRouting, commit: ShardCommit, directory: string,
  sink: (piece: Buffer) => Promise<void>): Promise<number> {
  const archive = pack();
  let files = 0;
  const producing = (async () => {
    for await (const entry of walkAll(router, commit, directory)) {
      const name = relativePath(directory, entry.path);
      let entryDone: (error?: Error | null) => void = () => undefined;
      const written = new Promise<void>((resolve, reject) => {
        entryDone = (error) => { if (error) reject(error); else resolve(); };
      });
      const writer = archive.entry({ name, size: entry.size, type: "file", mode: 0o644 },
        (error) => { entryDone(error); });
      for await (const piece of await readFile(router, commit, entry.path)) {
        if (!writer.write(Buffer.from(piece))) await once(writer as unknown as EventEmitter, "drain");
      }
      writer.end(Buffer.alloc(0));
      await written;
      files += 1;
    }
    archive.finalize();
  })();
  producing.catch((error: unknown) => { archive.destroy(error as Error); });
  for await (const piece of archive as AsyncIterable<Buffer>) await sink(piece);
  await producing;
  return files;
}
