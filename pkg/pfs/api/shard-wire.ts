/**
 * The one codec between the shard model (pkg/pfs/model.ts, shard-api.ts) and the pfs.Shard
 * wire messages: 64-bit fields travel as decimal strings and become safe integers here, and
 * only here (STYLE rule 10). A value that is not a safe integer is DATA_CORRUPTED: it can only
 * come from a broken peer.
 */
import { PfsError } from "../../common/index.js";
import type { FileEntry } from "../model.js";
import { checkManifestTransferSize } from "../storage/index.js";
import type {
  ShardCollectGarbageResponse, ShardCommitMessage, ShardDirectoryChildMessage,
  ShardFileChangeMessage, ShardFileEntryMessage,
} from "../../proto/index.js";
import type {
  ShardCommit, ShardDirectoryChild, ShardFileChange,
} from "../shard/shard-api.js";

/** The trailer carrying a NOT_FOUND error's `details.missing` (shard-service, RemoteShard). */
export const missingKey = "pfs-missing";

/**
 * The response header a pfs.Shard PutFile sends once the replica passed its master and staging
 * checks and starts reading data (shard-service.ts); a client sends no data before it
 * (remote-shard.ts), so a put refused before it can be sent to another master whole.
 */
export const putReadyKey = "pfs-put-ready";

/** `bytes` as a stream of one piece (cut into messages by stream-kit's `boundedPieces`). */
export async function* oneBuffer(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  await Promise.resolve();
  yield bytes;
}

/**
 * The manifest bytes sent as the data `parts` of a stream, joined; LIMIT_EXCEEDED as soon as
 * they pass storage's manifestTransferBytesMax (nothing more is read).
 */
export async function manifestOfParts(parts: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  let total = 0;
  for await (const piece of parts) {
    total += piece.length;
    checkManifestTransferSize(total, "a manifest on the wire");
    pieces.push(piece);
  }
  return Buffer.concat(pieces, total);
}

/** A wire 64-bit integer as a safe integer. */
export function safeCount(text: string, what: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new PfsError("DATA_CORRUPTED", `${what} ${JSON.stringify(text)} is not a byte count`);
  }
  return value;
}

export function commitToWire(commit: ShardCommit): ShardCommitMessage {
  return { repo: commit.repo, id: commit.id };
}

export function commitOfWire(message: ShardCommitMessage | null): ShardCommit {
  if (message === null) throw new PfsError("INVALID_ARGUMENT", "a shard request names no commit");
  return { repo: message.repo, id: message.id };
}

export function entryToWire(entry: FileEntry): ShardFileEntryMessage {
  return {
    path: entry.path, size: String(entry.size), hash: entry.hash,
    chunks: entry.chunks.map((chunk) => ({ id: chunk.id, size: String(chunk.size) })),
  };
}

export function entryOfWire(message: ShardFileEntryMessage | null): FileEntry {
  if (message === null) throw new PfsError("INVALID_ARGUMENT", "a shard message has no entry");
  return {
    path: message.path, size: safeCount(message.size, "file size"), hash: message.hash,
    chunks: message.chunks.map((chunk) => ({ id: chunk.id, size: safeCount(chunk.size, "chunk size") })),
  };
}

export function childToWire(child: ShardDirectoryChild): ShardDirectoryChildMessage {
  return { path: child.path, kind: child.kind, size: String(child.size), hash: child.hash };
}

export function childOfWire(message: ShardDirectoryChildMessage): ShardDirectoryChild {
  const kind = message.kind === "file" || message.kind === "directory" ? message.kind : undefined;
  if (kind === undefined) throw new PfsError("DATA_CORRUPTED", `child kind ${message.kind}`);
  return { path: message.path, kind, size: safeCount(message.size, "size"), hash: message.hash };
}

export function changeToWire(change: ShardFileChange): ShardFileChangeMessage {
  return {
    path: change.path, change: change.change,
    old_size: String(change.oldSize), new_size: String(change.newSize),
  };
}

export function changeOfWire(message: ShardFileChangeMessage): ShardFileChange {
  const change = message.change;
  if (change !== "added" && change !== "deleted" && change !== "changed") {
    throw new PfsError("DATA_CORRUPTED", `change kind ${change}`);
  }
  return {
    path: message.path, change,
    oldSize: safeCount(message.old_size, "size"), newSize: safeCount(message.new_size, "size"),
  };
}

/** What a collection freed, as its wire response. */
export function freedToWire(freed: { readonly chunksFreed: number; readonly bytesFreed: number }):
  ShardCollectGarbageResponse {
  return { chunks_freed: String(freed.chunksFreed), bytes_freed: String(freed.bytesFreed) };
}

export function freedOfWire(message: ShardCollectGarbageResponse):
  { chunksFreed: number; bytesFreed: number } {
  return {
    chunksFreed: safeCount(message.chunks_freed, "chunks freed"),
    bytesFreed: safeCount(message.bytes_freed, "bytes freed"),
  };
}
