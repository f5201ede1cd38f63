/**
 * The server side of pfs.Shard: the handlers that expose this node's local shard replicas to
 * the other nodes. Each handler finds the replica (`localShard`, which refuses a shard not
 * placed here with FAILED_PRECONDITION), decodes, calls, encodes; errors travel as statuses
 * with their pfs code (grpc-errors.ts) and, for NOT_FOUND, what is missing (`missingKey`
 * trailer: "commit", "file" or "chunks", from the error's `details.missing`), so a caller can
 * tell a replica lacking a commit from a file that does not exist. Data streams honour flow
 * control both ways; a manifest travels as a stream of data messages and is held whole (at
 * most storage's manifestTransferBytesMax). A put answers "ready" (a response header) before it
 * reads any data, once the replica accepted it (see `putFile`).
 */
import {
  Metadata, type ServerErrorResponse, type ServerReadableStream, type ServerWritableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { type Logger, PfsError } from "../../common/index.js";
import type {
  PfsShardMessages, PfsShardMethodName, PfsShardServiceHandlers, ShardCommitRequest,
  ShardDataMessage, ShardEmpty, ShardFileEntryMessage, ShardInstallManifestRequest,
  ShardPutFileHeaderMessage, ShardPutFileRequest,
} from "../../proto/index.js";
import type { FileEntry } from "../model.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { statusOf } from "./grpc-errors.js";
import {
  changeToWire, childToWire, freedToWire, commitOfWire, entryOfWire, entryToWire,
  manifestOfParts, missingKey, oneBuffer, putReadyKey, safeCount,
} from "./shard-wire.js";
import {
  FirstPull, boundedPieces, dataParts, endWithStatus, writeMessage,
} from "./stream-kit.js";

/** Finds the local replica of a shard placed on this node. */
export type LocalShardLookup = (shard: number) => Promise<ShardReplica>;

/** Collects a local replica's garbage (the node's collector: reconcile, then free chunks). */
export type LocalShardCollect =
  (replica: ShardReplica) => Promise<{ chunksFreed: number; bytesFreed: number }>;

type Unary<M extends PfsShardMethodName> =
  (request: PfsShardMessages[M][0], shard: ShardReplica) => Promise<PfsShardMessages[M][1]>;

/** The status of `error` (grpc-errors.ts `statusOf`), with what is missing when it says. */
function shardStatusOf(error: unknown, logger: Logger, method: string): ServerErrorResponse {
  const status = statusOf(error, logger, method);
  const missing = error instanceof PfsError ? error.details["missing"] : undefined;
  if (typeof missing === "string") status.metadata?.set(missingKey, missing);
  return status;
}

function unary<M extends PfsShardMethodName>(name: M, lookup: LocalShardLookup, logger: Logger,
  body: Unary<M>) {
  return (call: { request: PfsShardMessages[M][0] & { shard: number } },
    callback: sendUnaryData<PfsShardMessages[M][1]>): void => {
    lookup(call.request.shard).then((shard) => body(call.request, shard)).then(
      (response) => { callback(null, response); },
      (error: unknown) => { callback(shardStatusOf(error, logger, name), null); });
  };
}

/**
 * The header of a client stream of one header then data messages, and the data parts after
 * it; INVALID_ARGUMENT naming `what` when the stream does not start with a header.
 */
async function headerThenData<H,
  M extends { part: string; header?: H | null; data?: Buffer | null }>(
  call: AsyncIterable<M>, what: string): Promise<{ header: H; data: AsyncIterable<Buffer> }> {
  const messages = call[Symbol.asyncIterator]();
  const first = await messages.next();
  const header = first.done === true || first.value.part !== "header" ? null : first.value.header;
  if (header === null || header === undefined) {
    throw new PfsError("INVALID_ARGUMENT", `a ${what} stream must start with its header`);
  }
  return { header, data: dataParts(messages) };
}

/**
 * A put: the header, then the replica's checks (master term, staged-on mark: HostedShard does
 * them before it reads a byte), then the ready header (`putReadyKey`) the moment the replica
 * first asks for data, then the data. A refusal before ready is the call's error status with
 * none of the client's data read (the client sends none before ready), so the client may send
 * the put to another master; one after ready fails the call as well, but the client's data was
 * partly sent.
 */
async function putFile(call: ServerReadableStream<ShardPutFileRequest, ShardFileEntryMessage>,
  lookup: LocalShardLookup): Promise<ShardFileEntryMessage> {
  const { header, data } = await headerThenData<ShardPutFileHeaderMessage, ShardPutFileRequest>(
    call, "shard put");
  const shard = await lookup(header.shard);
  const ready = new Metadata();
  ready.set(putReadyKey, "1");
  const entry = await shard.putFile(commitOfWire(header.commit), header.parent, header.path,
    new FirstPull(data, () => { call.sendMetadata(ready); }), { append: header.append });
  return entryToWire(entry);
}

async function installManifest(
  call: ServerReadableStream<ShardInstallManifestRequest, ShardEmpty>, lookup: LocalShardLookup,
): Promise<void> {
  const { header, data } = await headerThenData<ShardCommitRequest, ShardInstallManifestRequest>(
    call, "manifest");
  const shard = await lookup(header.shard);
  await shard.installManifest(commitOfWire(header.commit), await manifestOfParts(data));
}

async function streamOut<T>(call: ServerWritableStream<unknown, T>, items: AsyncIterable<T>):
  Promise<void> {
  for await (const item of items) {
    if (call.cancelled) return;
    await writeMessage(call, item);
  }
  call.end();
}

async function* dataMessages(data: AsyncIterable<Uint8Array>): AsyncIterable<{ data: Buffer }> {
  for await (const piece of boundedPieces(data)) yield { data: piece };
}

async function* entryMessages(entries: AsyncIterable<FileEntry>):
  AsyncIterable<ShardFileEntryMessage> {
  for await (const entry of entries) yield entryToWire(entry);
}

/**
 * The pfs.Shard handlers over `lookup`; CollectGarbage runs `collect` (default: the replica's
 * own `collectGarbage`, which frees chunks without reconciling).
 */
export function shardServiceHandlers(lookup: LocalShardLookup, logger: Logger,
  collect: LocalShardCollect = (replica) => replica.collectGarbage()):
  PfsShardServiceHandlers {
  const fail = (call: ServerWritableStream<unknown, unknown>, name: string) =>
    (error: unknown): void => {
      endWithStatus(call, shardStatusOf(error, logger, name));
    };
  return {
    PutFile: (call, callback) => {
      putFile(call, lookup).then((entry) => { callback(null, entry); },
        (error: unknown) => { callback(shardStatusOf(error, logger, "PutFile"), null); });
    },
    PutEntry: unary("PutEntry", lookup, logger, async (request, shard) => entryToWire(
      await shard.putEntry(commitOfWire(request.commit), request.path,
        entryOfWire(request.entry)))),
    DeleteFile: unary("DeleteFile", lookup, logger, async (request, shard) => ({
      files: String(await shard.deleteFile(commitOfWire(request.commit), request.path,
        { parent: request.parent, recursive: !request.file_only })),
    })),
    FinishCommit: unary("FinishCommit", lookup, logger, async (request, shard) => {
      const result = await shard.finishCommit(commitOfWire(request.commit), request.parent);
      return {
        files: String(result.files), size_bytes: String(result.sizeBytes),
        fence_key: result.fence?.key ?? "", fence_revision: String(result.fence?.revision ?? 0),
      };
    }),
    AbortCommit: unary("AbortCommit", lookup, logger, async (request, shard) => {
      await shard.abortCommit(commitOfWire(request.commit));
      return {};
    }),
    DeleteRepo: unary("DeleteRepo", lookup, logger, async (request, shard) => {
      await shard.deleteRepo(request.repo);
      return {};
    }),
    InspectFile: unary("InspectFile", lookup, logger, async (request, shard) =>
      entryToWire(await shard.inspectFile(commitOfWire(request.commit), request.path))),
    GetFile: (call) => {
      const request = call.request;
      lookup(request.shard).then((shard) => {
        const range = request.ranged
          ? { start: safeCount(request.start, "start"),
            ...(request.bounded ? { end: safeCount(request.end, "end") } : {}) }
          : undefined;
        return streamOut(call, dataMessages(
          shard.getFile(commitOfWire(request.commit), request.path, range)));
      }).catch(fail(call, "GetFile"));
    },
    ListDirectory: unary("ListDirectory", lookup, logger, async (request, shard) => ({
      children: (await shard.listDirectory(commitOfWire(request.commit), request.path))
        .map(childToWire),
    })),
    Glob: unary("Glob", lookup, logger, async (request, shard) => ({
      entries: (await shard.glob(commitOfWire(request.commit), request.pattern)).map(entryToWire),
    })),
    Walk: (call) => {
      lookup(call.request.shard).then((shard) => streamOut(call,
        entryMessages(shard.walk(commitOfWire(call.request.commit), call.request.path))))
        .catch(fail(call, "Walk"));
    },
    Diff: unary("Diff", lookup, logger, async (request, shard) => ({
      changes: (await shard.diff(commitOfWire(request.commit), request.base, request.directory))
        .map(changeToWire),
    })),
    ...chunkHandlers(lookup, logger),
    ...manifestHandlers(lookup, logger),
    CollectGarbage: unary("CollectGarbage", lookup, logger, async (_request, shard) =>
      freedToWire(await collect(shard))),
  };
}

function manifestHandlers(lookup: LocalShardLookup, logger: Logger) {
  return {
    HasCommit: unary("HasCommit", lookup, logger, async (request, shard) => ({
      present: await shard.hasCommit(commitOfWire(request.commit)),
    })),
    ReadManifest: (call: ServerWritableStream<ShardCommitRequest, ShardDataMessage>) => {
      lookup(call.request.shard)
        .then((shard) => shard.readManifest(commitOfWire(call.request.commit)))
        .then((manifest) => streamOut(call, dataMessages(oneBuffer(manifest))))
        .catch((error: unknown) => {
          endWithStatus(call, shardStatusOf(error, logger, "ReadManifest"));
        });
    },
    InstallManifest: (call: ServerReadableStream<ShardInstallManifestRequest, ShardEmpty>,
      callback: sendUnaryData<ShardEmpty>) => {
      installManifest(call, lookup).then(() => { callback(null, {}); },
        (error: unknown) => { callback(shardStatusOf(error, logger, "InstallManifest"), null); });
    },
  };
}

function chunkHandlers(lookup: LocalShardLookup, logger: Logger) {
  return {
    MissingChunks: unary("MissingChunks", lookup, logger, async (request, shard) => ({
      ids: await shard.missingChunks(request.ids),
    })),
    ReadChunk: unary("ReadChunk", lookup, logger, async (request, shard) => ({
      data: Buffer.from(await shard.readChunk(request.id)),
    })),
    PutChunks: unary("PutChunks", lookup, logger, async (request, shard) => {
      await shard.putChunks(request.chunks.map((chunk) => {
        if (chunk.ref === null) throw new PfsError("INVALID_ARGUMENT", "a chunk has no ref");
        return { ref: { id: chunk.ref.id, size: safeCount(chunk.ref.size, "chunk size") },
          bytes: chunk.bytes };
      }));
      return {};
    }),
  };
}
