/**
 * The pfs.API handlers (pkg/proto/pfs.proto): each one validates its request, calls the
 * metadata store and the shards through the router, and maps errors to statuses
 * (grpc-errors.ts: the PfsError's code and message, or UNKNOWN for a bug, which is logged).
 * Commit resolution and lifecycle live in commit-resolver.ts; file reads in file-reads.ts;
 * file writes in put-file.ts. Streams honour gRPC flow control both ways.
 */
import type {
  ServerReadableStream, ServerWritableStream, sendUnaryData,
} from "@grpc/grpc-js";
import { type Logger, PfsError } from "../../common/index.js";
import type { MetaStore } from "../meta/index.js";
import type { PfsMetrics } from "../metrics/index.js";
import type { CommitInfo } from "../model.js";
import { rootPath } from "../path/index.js";
import { type ClusterOperations, serveClusterStatus, serveRemoveNode } from "../status/index.js";
import type {
  CommitInfoMessage, FileDiffMessage, PfsMessages, PfsMethodName,
  PfsServiceHandlers, PutFileRequest, PutFileResponse,
} from "../../proto/index.js";
import {
  branchToWire, childToFileInfo, commitToWire, fileToWire, repoToWire, requestCount,
  requireCommitRef, requireFileRef,
} from "./api-wire.js";
import type { AutoCommitOwner } from "./commit-recovery.js";
import { CommitResolver, shardCommitOf } from "./commit-resolver.js";
import {
  diffEntries, fileAt, globFiles, listChildren, readFile, tarDirectory,
} from "./file-reads.js";
import { statusOf } from "./grpc-errors.js";
import { listCommitsDefault } from "./limits.js";
import { copyFiles, deleteFiles, putData, requestPath } from "./put-file.js";
import type { ShardRouting } from "./shard-router.js";
import { boundedPieces, dataParts, endWithStatus, writeMessage } from "./stream-kit.js";

type Body<M extends PfsMethodName> = (request: PfsMessages[M][0]) => Promise<PfsMessages[M][1]>;

function unary<M extends PfsMethodName>(name: M, logger: Logger, body: Body<M>) {
  return (call: { request: PfsMessages[M][0] }, callback: sendUnaryData<PfsMessages[M][1]>):
    void => {
    body(call.request).then((response) => { callback(null, response); },
      (error: unknown) => { callback(statusOf(error, logger, name), null); });
  };
}

function failStream(call: ServerWritableStream<unknown, unknown>, logger: Logger, name: string):
  (error: unknown) => void {
  return (error) => { endWithStatus(call, statusOf(error, logger, name)); };
}

export interface PfsApiOptions extends ClusterOperations {
  readonly meta: MetaStore;
  readonly router: ShardRouting;
  readonly logger: Logger;
  /** Collects garbage on every node (pfs-node.ts); what CollectGarbage answers. */
  readonly collectGarbage: () => Promise<{ chunksFreed: number; bytesFreed: number }>;
  /** Names the auto-commits this node starts, for recovery after a crash (commit-recovery.ts). */
  readonly owner?: AutoCommitOwner;
  /** Counts the file bytes PutFile receives and GetFile sends. */
  readonly metrics?: PfsMetrics | undefined;
}

/** The pfs.API handlers. */
export function pfsApiHandlers(options: PfsApiOptions): PfsServiceHandlers {
  const { meta, router, logger } = options;
  const commits = new CommitResolver(meta, router, logger, options.owner);
  return {
    ...repoHandlers(meta, router, logger),
    ...commitHandlers(meta, commits, logger),
    ...branchHandlers(meta, commits, logger),
    PutFile: (call, callback) => {
      putFile(call, commits, router, options.metrics)
        .then((response) => { callback(null, response); },
          (error: unknown) => { callback(statusOf(error, logger, "PutFile"), null); });
    },
    GetFile: (call) => {
      getFile(call, commits, router, options.metrics)
        .catch(failStream(call, logger, "GetFile"));
    },
    ...fileReadHandlers(commits, router, logger),
    ...fileWriteHandlers(commits, router, logger),
    CollectGarbage: unary("CollectGarbage", logger, async () => {
      const freed = await options.collectGarbage();
      return { chunks_freed: String(freed.chunksFreed), bytes_freed: String(freed.bytesFreed) };
    }),
    ClusterStatus: unary("ClusterStatus", logger, () => serveClusterStatus(options)),
    RemoveNode: unary("RemoveNode", logger, (request) => serveRemoveNode(options, request)),
  };
}

function repoHandlers(meta: MetaStore, router: ShardRouting, logger: Logger) {
  return {
    CreateRepo: unary("CreateRepo", logger, async (request) =>
      repoToWire(await meta.createRepo(request.name, { description: request.description }))),
    InspectRepo: unary("InspectRepo", logger, async (request) =>
      repoToWire(await meta.inspectRepo(request.name))),
    ListRepo: unary("ListRepo", logger, async () =>
      ({ repos: (await meta.listRepos()).map(repoToWire) })),
    DeleteRepo: unary("DeleteRepo", logger, async (request) => {
      const deleted = await meta.deleteRepo(request.name);
      const replicas = await router.all();
      await Promise.all(replicas.map((replica) => replica.deleteRepo(request.name)));
      return {
        repo: repoToWire(deleted.repo), branches_deleted: deleted.branches.length,
        commits_deleted: deleted.commits.length,
      };
    }),
  };
}

function commitHandlers(meta: MetaStore, commits: CommitResolver, logger: Logger) {
  return {
    StartCommit: unary("StartCommit", logger, async (request) => commitToWire(
      await meta.startCommit(request.repo, request.branch, {
        description: request.description, provenance: request.provenance,
        ...(request.parent === "" ? {} : { parent: request.parent }),
      }))),
    FinishCommit: unary("FinishCommit", logger, async (request) => {
      const ref = requireCommitRef(request.commit, "commit");
      const commit = await meta.inspectCommit(ref.repo, ref.commit);
      // A finishing commit is one whose finish a crash cut off: finishing resumes it.
      if (commit.state !== "open" && commit.state !== "finishing") {
        throw new PfsError("FAILED_PRECONDITION",
          `commit ${commit.repo}@${commit.id} is ${commit.state}; only an open commit can finish`);
      }
      return commitToWire(request.error === "" ? await commits.finish(commit)
        : await commits.fail(commit, request.error));
    }),
    InspectCommit: unary("InspectCommit", logger, async (request) => {
      const ref = requireCommitRef(request.commit, "commit");
      return commitToWire(await meta.inspectCommit(ref.repo, ref.commit));
    }),
    ListCommit: unary("ListCommit", logger, async (request) => ({
      commits: (await meta.listCommits(request.repo,
        request.branch === "" ? undefined : request.branch,
        { limit: request.limit === 0 ? listCommitsDefault : request.limit })).map(commitToWire),
    })),
    SubscribeCommit: (call: ServerWritableStream<PfsMessages["SubscribeCommit"][0],
      CommitInfoMessage>) => {
      subscribe(call, meta).catch(failStream(call, logger, "SubscribeCommit"));
    },
    WaitCommit: unary("WaitCommit", logger, async (request) => {
      const ref = requireCommitRef(request.commit, "commit");
      return commitToWire(await meta.waitCommit(ref.repo, ref.commit));
    }),
    DeleteCommit: unary("DeleteCommit", logger, async (request) => {
      const ref = requireCommitRef(request.commit, "commit");
      const commit = await meta.inspectCommit(ref.repo, ref.commit);
      return commitToWire(await commits.discard(commit));
    }),
  };
}

async function subscribe(call: ServerWritableStream<PfsMessages["SubscribeCommit"][0],
  CommitInfoMessage>, meta: MetaStore): Promise<void> {
  const request = call.request;
  const abort = new AbortController();
  call.on("cancelled", () => { abort.abort(); });
  call.on("close", () => { abort.abort(); });
  // new_only: skip the history up to and including the head the branch has now.
  let skipThrough = request.new_only
    ? (await meta.inspectBranch(request.repo, request.branch)).head : "";
  try {
    for await (const commit of meta.subscribeCommits(request.repo, request.branch, abort.signal)) {
      if (skipThrough !== "") {
        if (commit.id === skipThrough) skipThrough = "";
        continue;
      }
      await writeMessage(call, commitToWire(commit));
    }
  } catch (error: unknown) {
    if (abort.signal.aborted) return;
    throw error;
  }
  call.end();
}

function branchHandlers(meta: MetaStore, commits: CommitResolver, logger: Logger) {
  return {
    CreateBranch: unary("CreateBranch", logger, async (request) => {
      const head = request.head === null || request.head.commit === "" ? ""
        : (await commits.readable({ repo: request.repo, commit: request.head.commit })).id;
      if (request.head !== null && request.head.repo !== "" && request.head.repo !== request.repo) {
        throw new PfsError("INVALID_ARGUMENT",
          `a branch of ${request.repo} cannot point at a commit of ${request.head.repo}`);
      }
      return branchToWire(await meta.createBranch(request.repo, request.branch, head));
    }),
    InspectBranch: unary("InspectBranch", logger, async (request) =>
      branchToWire(await meta.inspectBranch(request.repo, request.branch))),
    ListBranch: unary("ListBranch", logger, async (request) =>
      ({ branches: (await meta.listBranches(request.repo)).map(branchToWire) })),
    DeleteBranch: unary("DeleteBranch", logger, async (request) =>
      branchToWire(await meta.deleteBranch(request.repo, request.branch))),
  };
}

async function putFile(call: ServerReadableStream<PutFileRequest, PutFileResponse>,
  commits: CommitResolver, router: ShardRouting, metrics: PfsMetrics | undefined):
  Promise<PutFileResponse> {
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<PutFileRequest>;
  const first = await messages.next();
  if (first.done === true || first.value.part !== "header") {
    throw new PfsError("INVALID_ARGUMENT", "a PutFile stream must start with its header");
  }
  const header = first.value.header;
  const ref = requireCommitRef(header.commit, "header.commit");
  const path = requestPath(header.path === "" && header.format === "TAR" ? rootPath : header.path,
    "header.path");
  const parts = dataParts(messages);
  const { result, commit } = await commits.withWrite(ref, (target) =>
    putData(router, shardCommitOf(target), target.parent, path, header.format, header.append,
      metrics === undefined ? parts : metrics.countReceived("PutFile", parts)));
  return { commit: commit.id, files_written: result.files, bytes_written: String(result.bytes) };
}

async function getFile(call: ServerWritableStream<PfsMessages["GetFile"][0],
  PfsMessages["GetFile"][1]>, commits: CommitResolver, router: ShardRouting,
  metrics: PfsMetrics | undefined): Promise<void> {
  const send = (piece: Buffer): Promise<void> => {
    metrics?.sent("GetFile", piece.length);
    return writeMessage(call, { data: piece });
  };
  const ref = requireFileRef(call.request.file, "file");
  const path = requestPath(ref.path === "" ? rootPath : ref.path, "file.path");
  const offset = requestCount(call.request.offset, "offset");
  const length = requestCount(call.request.length, "length");
  const commit = shardCommitOf(await commits.readable(ref.commit));
  const file = await fileAt(router, commit, path);
  if (file !== undefined) {
    const range = { start: offset, ...(length === 0 ? {} : { end: offset + length }) };
    for await (const piece of boundedPieces(await readFile(router, commit, path, range))) {
      if (call.cancelled) return;
      await send(piece);
    }
  } else {
    // Refuse before the first byte: an error after data would reach the client as a cut stream.
    if ((await listChildren(router, commit, path)).length === 0) {
      throw new PfsError("NOT_FOUND", `no file or directory ${path} in ${commit.repo}@${commit.id}`);
    }
    if (offset !== 0 || length !== 0) {
      throw new PfsError("INVALID_ARGUMENT", `${path} is a directory: a byte range needs a file`);
    }
    await tarDirectory(router, commit, path, send);
  }
  call.end();
}

function fileReadHandlers(commits: CommitResolver, router: ShardRouting, logger: Logger) {
  return {
    InspectFile: unary("InspectFile", logger, async (request) => {
      const ref = requireFileRef(request.file, "file");
      const path = requestPath(ref.path, "file.path");
      const commit = await commits.readable(ref.commit);
      const file = await fileAt(router, shardCommitOf(commit), path);
      if (file !== undefined) return fileToWire(file, commit.id, true);
      const children = await listChildren(router, shardCommitOf(commit), path);
      if (children.length === 0 && path !== rootPath) {
        throw new PfsError("NOT_FOUND", `no file or directory ${path} in ${commit.repo}@${commit.id}`);
      }
      const size = children.reduce((sum, child) => sum + child.size, 0);
      return { path, type: "DIR", size_bytes: String(size), hash: "", chunks: [], commit: commit.id };
    }),
    ListFile: unary("ListFile", logger, async (request) => {
      const ref = requireFileRef(request.file, "file");
      const path = requestPath(ref.path === "" ? rootPath : ref.path, "file.path");
      const commit = await commits.readable(ref.commit);
      const file = await fileAt(router, shardCommitOf(commit), path);
      if (file !== undefined) return { files: [fileToWire(file, commit.id, false)] };
      const children = await listChildren(router, shardCommitOf(commit), path);
      if (children.length === 0 && path !== rootPath) {
        throw new PfsError("NOT_FOUND", `no file or directory ${path} in ${commit.repo}@${commit.id}`);
      }
      return { files: children.map((child) => childToFileInfo(child, commit.id)) };
    }),
    GlobFile: unary("GlobFile", logger, async (request) => {
      const commit = await commits.readable(requireCommitRef(request.commit, "commit"));
      const files = await globFiles(router, shardCommitOf(commit), request.pattern);
      return { files: files.map((file) => fileToWire(file, commit.id, false)) };
    }),
    DiffFile: unary("DiffFile", logger, async (request) => diffFile(request, commits, router)),
  };
}

async function diffFile(request: PfsMessages["DiffFile"][0], commits: CommitResolver,
  router: ShardRouting): Promise<PfsMessages["DiffFile"][1]> {
  const newRef = requireFileRef(request.new_file, "new_file");
  const path = requestPath(newRef.path === "" ? rootPath : newRef.path, "new_file.path");
  const newCommit = await commits.readable(newRef.commit);
  let base = newCommit.parent;
  if (request.old_file !== null && request.old_file.commit !== null) {
    const oldRef = requireFileRef(request.old_file, "old_file");
    if ((oldRef.commit.repo !== "" && oldRef.commit.repo !== newRef.commit.repo) ||
      (oldRef.path !== "" && requestPath(oldRef.path, "old_file.path") !== path)) {
      throw new PfsError("INVALID_ARGUMENT",
        "old_file must be the same path in the same repo (another commit)");
    }
    base = (await commits.readable({ repo: newRef.commit.repo, commit: oldRef.commit.commit })).id;
  }
  const changes = await diffEntries(router, shardCommitOf(newCommit), base, path,
    request.shallow);
  const diffs: FileDiffMessage[] = changes.map((change) => ({
    new_file: change.after === undefined ? null : fileToWire(change.after, newCommit.id, false),
    old_file: change.before === undefined ? null : fileToWire(change.before, base, false),
  }));
  return { diffs };
}

function fileWriteHandlers(commits: CommitResolver, router: ShardRouting, logger: Logger) {
  return {
    DeleteFile: unary("DeleteFile", logger, async (request) => {
      const ref = requireFileRef(request.file, "file");
      const path = requestPath(ref.path, "file.path");
      if (path === rootPath && !request.recursive) {
        throw new PfsError("INVALID_ARGUMENT", "deleting / needs recursive");
      }
      const { result, commit } = await commits.withWrite(ref.commit, (target: CommitInfo) =>
        deleteFiles(router, shardCommitOf(target), target.parent, path, request.recursive));
      return { commit: commit.id, files_deleted: result };
    }),
    CopyFile: unary("CopyFile", logger, async (request) => {
      const sourceRef = requireFileRef(request.src, "src");
      const targetRef = requireFileRef(request.dst, "dst");
      const sourcePath = requestPath(sourceRef.path, "src.path");
      const targetPath = requestPath(targetRef.path, "dst.path");
      const source = await commits.readable(sourceRef.commit);
      const { result, commit } = await commits.withWrite(targetRef.commit, (target) =>
        copyFiles(router, shardCommitOf(source), sourcePath, shardCommitOf(target),
          target.parent, targetPath, request.append));
      return { commit: commit.id, files_written: result };
    }),
  };
}
