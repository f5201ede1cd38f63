/**
 * A tar stream put below a directory of an open commit, all or nothing. Each entry is checked
 * (pkg/pfs/path `checkTarEntry`: no links, devices or escapes) and its data is first staged in
 * a scratch commit on the entry's shard — a commit id no metadata knows. Only when the whole
 * archive was read and accepted are the staged entries recorded in the real commit (their
 * chunks are already in the right shard's store: `putEntry` moves no data); on any refusal or
 * error the scratch commits are dropped and the real commit is untouched. Memory stays flat:
 * each entry's data streams straight from the archive into its shard.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { LimitError, PfsError } from "../../common/index.js";
import { checkTarEntry, shardOf } from "../path/index.js";
import type { FileEntry } from "../model.js";
import type { ShardCommit, ShardReplica } from "../shard/shard-api.js";
import { shardLimits } from "../shard/index.js";
import { tarEntriesMax } from "./limits.js";
import type { ShardRouting } from "./shard-router.js";

export interface TarPutResult {
  readonly files: number;
  readonly bytes: number;
}

interface Staged {
  readonly replica: ShardReplica;
  readonly entry: FileEntry;
}

/** The data of a tar entry, as bytes. */
async function* bytesOf(entry: AsyncIterable<unknown>): AsyncIterable<Uint8Array> {
  for await (const piece of entry) {
    if (!(piece instanceof Uint8Array)) throw new PfsError("INTERNAL", "tar entry data is not bytes");
    yield piece;
  }
}

async function stageArchive(data: AsyncIterable<Uint8Array>, directory: string,
  scratch: ShardCommit, router: ShardRouting, staged: Map<string, Staged>,
  touched: Set<ShardReplica>): Promise<void> {
  const archive = extract();
  const feeding = pipeline(Readable.from(data), archive);
  feeding.catch(() => undefined);
  try {
    for await (const entry of archive) {
      const target = checkTarEntry(entry.header, directory);
      if (!target.ok) throw target.error;
      if (target.value.kind === "directory") {
        entry.resume();
        continue;
      }
      if (!staged.has(target.value.path) && staged.size >= tarEntriesMax) {
        throw new LimitError("tar entries (tarEntriesMax)", tarEntriesMax, staged.size + 1);
      }
      const replica = await router.replica(shardOf(target.value.path, router.shards));
      touched.add(replica);
      const written = await replica.putFile(scratch, "", target.value.path, bytesOf(entry));
      staged.set(target.value.path, { replica, entry: written });
    }
  } catch (error: unknown) {
    archive.destroy();
    throw error instanceof PfsError ? error
      : new PfsError("INVALID_ARGUMENT", `the tar stream is malformed: ${String(error)}`);
  }
  await feeding;
}

/**
 * Before anything is recorded: asks each shard for the staged chunks, which holds them from
 * garbage collection for a while (`missingChunks`, chunk-guard.ts), and refuses the whole put
 * if any is gone. A scratch commit has no metadata record, so a collection may take its log
 * for a leftover once it was untouched for the collector's grace (a long archive whose other
 * entries kept streaming); then nothing is recorded, rather than part of the archive.
 */
async function holdStagedChunks(staged: ReadonlyMap<string, Staged>): Promise<void> {
  const idsByReplica = new Map<ShardReplica, Set<string>>();
  for (const { replica, entry } of staged.values()) {
    const ids = idsByReplica.get(replica) ?? new Set<string>();
    for (const chunk of entry.chunks) ids.add(chunk.id);
    idsByReplica.set(replica, ids);
  }
  for (const [replica, ids] of idsByReplica) {
    const all = [...ids];
    for (let start = 0; start < all.length; start += shardLimits.shardChunkIdsPerCallMax) {
      const missing = await replica.missingChunks(
        all.slice(start, start + shardLimits.shardChunkIdsPerCallMax));
      if (missing.length > 0) {
        throw new PfsError("UNAVAILABLE", `the tar put lost ${missing.length} staged chunks of ` +
          `shard ${replica.shard} to garbage collection before it could record them; nothing ` +
          "was recorded: retry the put", { shard: replica.shard, chunk: missing[0] ?? "" });
      }
    }
  }
}

/** Puts the archive `data` below `directory` of the open `commit` (see the module comment). */
export async function putTar(data: AsyncIterable<Uint8Array>, directory: string,
  commit: ShardCommit, router: ShardRouting): Promise<TarPutResult> {
  const scratch: ShardCommit = { repo: commit.repo, id: randomBytes(16).toString("hex") };
  const staged = new Map<string, Staged>();
  const touched = new Set<ShardReplica>();
  try {
    await stageArchive(data, directory, scratch, router, staged, touched);
    await holdStagedChunks(staged);
    let bytes = 0;
    for (const [path, { replica, entry }] of staged) {
      await replica.putEntry(commit, path, entry);
      bytes += entry.size;
    }
    return { files: staged.size, bytes };
  } finally {
    await Promise.allSettled([...touched].map((replica) => replica.abortCommit(scratch)));
  }
}
