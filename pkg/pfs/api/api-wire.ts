/**
 * The codec between the model (pkg/pfs/model.ts, MetaStore records) and pfs.API messages:
 * states become enum names, times and sizes decimal strings (STYLE rule 10), absent messages
 * clear INVALID_ARGUMENT errors. Pure.
 */
import { PfsError, assertNever } from "../../common/index.js";
import type { BranchRecord } from "../meta/index.js";
import type { CommitInfo, CommitState, FileEntry, RepoInfo } from "../model.js";
import type {
  BranchInfoMessage, CommitInfoMessage, CommitRefMessage, FileInfoMessage, FileRefMessage,
  RepoInfoMessage, WireCommitState,
} from "../../proto/index.js";
import type { ShardDirectoryChild } from "../shard/shard-api.js";

export function repoToWire(repo: RepoInfo): RepoInfoMessage {
  return { name: repo.name, description: repo.description, created_ms: String(repo.createdMs) };
}

export function branchToWire(branch: BranchRecord): BranchInfoMessage {
  return { repo: branch.repo, name: branch.name, head: branch.head, open: branch.open };
}

function stateToWire(state: CommitState): WireCommitState {
  switch (state) {
    case "open": return "OPEN";
    case "finishing": return "FINISHING";
    case "finished": return "FINISHED";
    case "failed": return "FAILED";
    default: return assertNever(state, "commit state");
  }
}

export function commitToWire(commit: CommitInfo): CommitInfoMessage {
  return {
    repo: commit.repo, id: commit.id, branch: commit.branch, parent: commit.parent,
    state: stateToWire(commit.state), description: commit.description,
    started_ms: String(commit.startedMs), finished_ms: String(commit.finishedMs),
    size_bytes: String(commit.sizeBytes), error: commit.error,
    provenance: [...commit.provenance],
  };
}

export function fileToWire(entry: FileEntry, commit: string, chunks: boolean): FileInfoMessage {
  return {
    path: entry.path, type: "FILE", size_bytes: String(entry.size), hash: entry.hash,
    chunks: chunks ? entry.chunks.map((chunk) => ({ id: chunk.id, size: String(chunk.size) })) : [],
    commit,
  };
}

export function childToFileInfo(child: ShardDirectoryChild, commit: string): FileInfoMessage {
  return {
    path: child.path, type: child.kind === "file" ? "FILE" : "DIR",
    size_bytes: String(child.size), hash: child.hash, chunks: [], commit,
  };
}

/** The commit reference of a request, required. */
export function requireCommitRef(ref: CommitRefMessage | null, field: string): CommitRefMessage {
  if (ref === null) throw new PfsError("INVALID_ARGUMENT", `${field} is required`);
  return ref;
}

/** The file reference of a request, required with its commit. */
export function requireFileRef(ref: FileRefMessage | null, field: string):
  { commit: CommitRefMessage; path: string } {
  if (ref === null) throw new PfsError("INVALID_ARGUMENT", `${field} is required`);
  return { commit: requireCommitRef(ref.commit, `${field}.commit`), path: ref.path };
}

/** A wire uint64 as a safe integer (INVALID_ARGUMENT when it is not one). */
export function requestCount(text: string, field: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new PfsError("INVALID_ARGUMENT", `${field} ${JSON.stringify(text)} is not a count`);
  }
  return value;
}
