/**
 * What an append to a file of an open commit needs to know before it writes: the file's
 * current content (in the commit as staged so far, over its parent) and a sha256 state that
 * has already consumed those bytes, so that hashing the appended bytes after them gives the
 * sha256 of the whole new content.
 *
 * Decision: the old bytes are read back (each chunk hash-verified) and hashed again. Node's
 * hash objects cannot be saved to disk, and keeping a live state per file in memory would not
 * survive a restart or help a file written by an earlier commit; re-reading is always correct
 * at a cost linear in the file's current size (the appended bytes are hashed once, as they
 * stream). The current content comes from replaying the commit's staging log over the parent
 * with the storage layer's own `materialize`, so an append sees exactly what finish will. A
 * delete counts the files it removes the same way (`stagedCount`).
 */
import { type Hash, createHash } from "node:crypto";
import { type ChunkSource, readFile } from "../chunk/index.js";
import type { FileEntry } from "../model.js";
import {
  type EntrySource, type StagingLog, type Manifest, isAtOrUnder, materialize,
} from "../storage/index.js";

/** The file at `path` as staged in `log` over `parent`, or undefined when it has none. */
export async function stagedEntry(log: StagingLog, parent: Manifest, path: string):
  Promise<FileEntry | undefined> {
  // Only `path` matters: the parent's stream is narrowed to the paths starting with it, so
  // materializing reads a few of its entries rather than all of them.
  const narrowed: EntrySource = {
    get: (wanted) => parent.get(wanted),
    entries: () => parent.entries(path),
  };
  for await (const entry of materialize(narrowed, log.ops())) {
    if (entry.path === path) return entry;
  }
  return undefined;
}

/**
 * How many files of the commit as staged in `log` over `parent` are at `path` (and, with
 * `recursive`, below it), as a delete of `path` would remove them.
 */
export async function stagedCount(log: StagingLog, parent: Manifest, path: string,
  recursive: boolean): Promise<number> {
  const narrowed: EntrySource = {
    get: (wanted) => parent.get(wanted),
    entries: () => parent.entries(path),
  };
  let count = 0;
  for await (const entry of materialize(narrowed, log.ops())) {
    if (entry.path === path || (recursive && isAtOrUnder(entry.path, path))) count += 1;
  }
  return count;
}

/** A sha256 state that has consumed the bytes of `entry` (verified), or an empty one. */
export async function hashOfContent(store: ChunkSource, entry: FileEntry | undefined):
  Promise<Hash> {
  const hash = createHash("sha256");
  if (entry === undefined) return hash;
  for await (const piece of readFile(store, entry.chunks)) hash.update(piece);
  return hash;
}
