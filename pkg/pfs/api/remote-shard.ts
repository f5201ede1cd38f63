/**
 * `RemoteShard`: a ShardReplica on another node, reached through that node's pfs.Shard service.
 * Unary calls get a deadline (shardCallDeadlineMs); data streams have none but honour flow
 * control, so putFile and getFile move any size in flat memory. A put sends no data before the
 * replica says ready (see `putFile`), so a refused put can be sent elsewhere whole. A failed call
 * becomes the PfsError the other node raised (grpc-errors.ts), or UNAVAILABLE when it could not
 * answer; a NOT_FOUND keeps what was missing (`details.missing`: "commit", "file" or "chunks")
 * from the `missingKey` trailer (shard-service.ts). Manifests travel as streams of data messages
 * under the unary deadline and are held whole (at most storage's manifestTransferBytesMax).
 */
import type {
  Client, ClientReadableStream, ClientWritableStream, Metadata, ServiceError,
} from "@grpc/grpc-js";
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";
import { PfsError } from "../../common/index.js";
import type {
  PfsShardMessages, PfsShardMethodName, ShardFileEntryMessage, ShardInstallManifestRequest,
  ShardPutFileRequest,
} from "../../proto/index.js";
import type {
  ShardByteRange, ShardCommit, ShardDeleteOptions, ShardDirectoryChild, ShardFileChange,
  ShardFinishResult, ShardReplica,
} from "../shard/shard-api.js";
import { gcLimits } from "../gc/index.js";
import { errorOfStatus } from "./grpc-errors.js";
import { shardCallDeadlineMs } from "./limits.js";
import {
  changeOfWire, childOfWire, commitToWire, entryOfWire, entryToWire, freedOfWire,
  manifestOfParts, missingKey, oneBuffer, putReadyKey, safeCount,
} from "./shard-wire.js";
import { putReadyWaitMs } from "./put-limits.js";
import { boundedPieces, writeMessage } from "./stream-kit.js";

const { gcCallDeadlineMs } = gcLimits;

/** The PfsError of a failed call (grpc-errors.ts), with the missing kind its trailer names. */
function remoteError(error: unknown, what: string): PfsError {
  const rebuilt = errorOfStatus(error, what);
  const missing = (error as Partial<ServiceError>).metadata?.get(missingKey)[0];
  if (typeof missing !== "string" || error instanceof PfsError) return rebuilt;
  return new PfsError(rebuilt.code, rebuilt.message, { ...rebuilt.details, missing });
}

/** A put's options: ShardReplica's, and a signal to give up while waiting for ready. */
export interface RemotePutOptions {
  readonly append?: boolean;
  /**
   * Aborting it before the replica answered ready fails the put with UNAVAILABLE, its data
   * untouched (the router: the election named another master); after ready it does nothing.
   */
  readonly giveUp?: AbortSignal;
}

/**
 * Resolves when `stream`'s response header says ready (`putReadyKey`); rejects with the call's
 * error (`failed`), or UNAVAILABLE when `giveUp` aborts or putReadyWaitMs pass first.
 */
function readyOf(stream: ClientWritableStream<ShardPutFileRequest>, failed: Promise<never>,
  giveUp: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMetadata = (metadata: Metadata): void => {
      if (metadata.get(putReadyKey).length > 0) done(undefined);
    };
    const onGiveUp = (): void => {
      done(new PfsError("UNAVAILABLE", `${what}: gave up before the replica was ready ` +
        "(the shard has another master now); retry on the current master"));
    };
    const timer = setTimeout(() => {
      done(new PfsError("UNAVAILABLE", `${what} sent no ready within ${putReadyWaitMs} ms; ` +
        "retry on the current master"));
    }, putReadyWaitMs);
    timer.unref();
    function done(error: Error | undefined): void {
      clearTimeout(timer);
      stream.off("metadata", onMetadata);
      giveUp?.removeEventListener("abort", onGiveUp);
      if (error === undefined) resolve();
      else reject(error);
    }
    stream.on("metadata", onMetadata);
    giveUp?.addEventListener("abort", onGiveUp);
    failed.catch((error: unknown) => {
      done(error instanceof Error ? error : new PfsError("INTERNAL", String(error)));
    });
    if (giveUp?.aborted === true) onGiveUp();
  });
}

type UnaryMethod = (request: unknown, options: { deadline: number },
  callback: (error: ServiceError | null, response?: unknown) => void) => unknown;

export class RemoteShard implements ShardReplica {
  readonly shard: number;
  readonly #client: Client;
  readonly #address: string;

  /** `client` is a pfs.Shard client connected to `address` (owned by the caller). */
  constructor(shard: number, client: Client, address: string) {
    this.shard = shard;
    this.#client = client;
    this.#address = address;
  }

  #method(name: string): UnaryMethod {
    const method = (this.#client as unknown as Record<string, UnaryMethod | undefined>)[name];
    if (method === undefined) throw new Error(`pfs.Shard client lacks ${name}`);
    return method.bind(this.#client);
  }

  #call<M extends PfsShardMethodName>(name: M, request: Omit<PfsShardMessages[M][0], "shard">,
    deadlineMs: number = shardCallDeadlineMs): Promise<PfsShardMessages[M][1]> {
    const method = this.#method(name);
    return new Promise((resolve, reject) => {
      method({ ...request, shard: this.shard }, { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error !== null) reject(remoteError(error, this.#what(name)));
          else resolve(response as PfsShardMessages[M][1]);
        });
    });
  }

  #what(name: string): string {
    return `shard ${this.shard} on ${this.#address} (${name})`;
  }

  /**
   * Streams a file to the replica (its master). The call opens with the header alone and reads
   * nothing of `data` until the replica answers ready (`putReadyKey`: it is master and took the
   * commit's staged-on mark). A refusal before ready (its error, UNAVAILABLE when the node is
   * down, when `options.giveUp` aborts, or when no ready came within putReadyWaitMs) rejects
   * with `data` untouched, so the caller may send the same put elsewhere. After ready, a
   * failure rejects too, but `data` was partly consumed and partly sent; nothing of it is
   * recorded (a put is recorded whole or not at all), yet it cannot be resent from here.
   */
  async putFile(commit: ShardCommit, parent: CommitId, path: string,
    data: AsyncIterable<Uint8Array>, options: RemotePutOptions = {}): Promise<FileEntry> {
    const start = this.#method("PutFile") as unknown as (callback: (error: ServiceError | null,
      response?: ShardFileEntryMessage) => void) => ClientWritableStream<ShardPutFileRequest>;
    let settle: (result: Promise<ShardFileEntryMessage>) => void = () => undefined;
    const answer = new Promise<ShardFileEntryMessage>((resolve, reject) => {
      settle = (result) => { result.then(resolve, reject); };
    });
    // The other node may fail the call while data is still flowing (it died, say): then stop
    // writing at once (a write to its closed stream would wait for a 'drain' that never comes)
    // and report its error. `failed` never resolves; it rejects when the answer does.
    const failed = new Promise<never>((_, reject) => { answer.catch(reject); });
    failed.catch(() => undefined);
    const stream = start((error, response) => {
      settle(error !== null || response === undefined
        ? Promise.reject(remoteError(error, this.#what("PutFile")))
        : Promise.resolve(response));
    });
    const ready = readyOf(stream, failed, options.giveUp, this.#what("PutFile"));
    ready.catch(() => undefined);
    try {
      await Promise.race([failed, writeMessage(stream, { part: "header", header: {
        shard: this.shard, commit: commitToWire(commit), parent, path,
        append: options.append ?? false,
      } })]);
      await ready;
      for await (const piece of boundedPieces(data)) {
        await Promise.race([failed, writeMessage(stream, { part: "data", data: piece })]);
      }
      stream.end();
    } catch (error: unknown) {
      stream.cancel();
      answer.catch(() => undefined);
      throw error;
    }
    return entryOfWire(await answer);
  }

  async putEntry(commit: ShardCommit, path: string, entry: FileEntry): Promise<FileEntry> {
    return entryOfWire(await this.#call("PutEntry",
      { commit: commitToWire(commit), path, entry: entryToWire(entry) }));
  }

  async deleteFile(commit: ShardCommit, path: string, options: ShardDeleteOptions = {}):
    Promise<number> {
    const answer = await this.#call("DeleteFile", { commit: commitToWire(commit), path,
      parent: options.parent ?? "", file_only: options.recursive === false });
    return safeCount(answer.files, "deleted files");
  }

  async finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult> {
    const result = await this.#call("FinishCommit", { commit: commitToWire(commit), parent });
    const files = safeCount(result.files, "files");
    const sizeBytes = safeCount(result.size_bytes, "size");
    if (result.fence_key === "") return { files, sizeBytes };
    return {
      files, sizeBytes,
      fence: { key: result.fence_key, revision: safeCount(result.fence_revision, "fence revision") },
    };
  }

  async abortCommit(commit: ShardCommit): Promise<void> {
    await this.#call("AbortCommit", { commit: commitToWire(commit), parent: "" });
  }

  async deleteRepo(repo: string): Promise<void> {
    await this.#call("DeleteRepo", { repo });
  }

  async inspectFile(commit: ShardCommit, path: string): Promise<FileEntry> {
    return entryOfWire(await this.#call("InspectFile", { commit: commitToWire(commit), path }));
  }

  #serverStream<T>(name: "GetFile" | "Walk", request: object): ClientReadableStream<T> {
    const method = this.#method(name) as unknown as (request: object) => ClientReadableStream<T>;
    return method({ ...request, shard: this.shard });
  }

  async* getFile(commit: ShardCommit, path: string, range?: ShardByteRange):
    AsyncIterable<Uint8Array> {
    const stream = this.#serverStream<{ data: Buffer }>("GetFile", {
      commit: commitToWire(commit), path, ranged: range !== undefined,
      start: String(range?.start ?? 0), bounded: range?.end !== undefined,
      end: String(range?.end ?? 0),
    });
    try {
      for await (const message of stream as AsyncIterable<{ data: Buffer }>) yield message.data;
    } catch (error: unknown) {
      throw remoteError(error, this.#what("GetFile"));
    } finally {
      stream.cancel();
    }
  }

  async listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]> {
    const response = await this.#call("ListDirectory",
      { commit: commitToWire(commit), path: directory });
    return response.children.map(childOfWire);
  }

  async glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]> {
    const response = await this.#call("Glob", { commit: commitToWire(commit), pattern });
    return response.entries.map(entryOfWire);
  }

  async* walk(commit: ShardCommit, directory: string): AsyncIterable<FileEntry> {
    const stream = this.#serverStream<ShardFileEntryMessage>("Walk",
      { commit: commitToWire(commit), path: directory });
    try {
      for await (const message of stream as AsyncIterable<ShardFileEntryMessage>) {
        yield entryOfWire(message);
      }
    } catch (error: unknown) {
      throw remoteError(error, this.#what("Walk"));
    } finally {
      stream.cancel();
    }
  }

  async diff(commit: ShardCommit, base: CommitId, directory: string): Promise<ShardFileChange[]> {
    const response = await this.#call("Diff", { commit: commitToWire(commit), base, directory });
    return response.changes.map(changeOfWire);
  }

  async hasCommit(commit: ShardCommit): Promise<boolean> {
    return (await this.#call("HasCommit", { commit: commitToWire(commit), parent: "" })).present;
  }

  async readManifest(commit: ShardCommit): Promise<Uint8Array> {
    const method = this.#method("ReadManifest") as unknown as (request: object,
      options: { deadline: number }) => ClientReadableStream<{ data: Buffer }>;
    const stream = method({ shard: this.shard, commit: commitToWire(commit), parent: "" },
      { deadline: Date.now() + shardCallDeadlineMs });
    try {
      return await manifestOfParts(dataOf(stream as AsyncIterable<{ data: Buffer }>));
    } catch (error: unknown) {
      throw remoteError(error, this.#what("ReadManifest"));
    } finally {
      stream.cancel();
    }
  }

  async installManifest(commit: ShardCommit, manifest: Uint8Array): Promise<void> {
    const start = this.#method("InstallManifest") as unknown as (options: { deadline: number },
      callback: (error: ServiceError | null) => void) =>
      ClientWritableStream<ShardInstallManifestRequest>;
    let stream: ClientWritableStream<ShardInstallManifestRequest> | undefined;
    const answer = new Promise<void>((resolve, reject) => {
      stream = start({ deadline: Date.now() + shardCallDeadlineMs }, (error) => {
        if (error === null) resolve();
        else reject(remoteError(error, this.#what("InstallManifest")));
      });
    });
    answer.catch(() => undefined);
    if (stream === undefined) throw new PfsError("INTERNAL", "InstallManifest started no stream");
    const writer = stream;
    // Rejects when the other node fails the call early: stop writing then (see putFile).
    const failed = answer.then(() => new Promise<never>(() => undefined));
    failed.catch(() => undefined);
    try {
      await Promise.race([failed, writeMessage(writer, { part: "header", header: {
        shard: this.shard, commit: commitToWire(commit), parent: "" } })]);
      for await (const piece of boundedPieces(oneBuffer(manifest))) {
        await Promise.race([failed, writeMessage(writer, { part: "data", data: piece })]);
      }
      writer.end();
    } catch (error: unknown) {
      writer.cancel();
      throw error;
    }
    await answer;
  }

  async missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    return (await this.#call("MissingChunks", { ids: [...ids] })).ids;
  }

  async readChunk(id: Sha256Hex): Promise<Uint8Array> {
    return (await this.#call("ReadChunk", { id })).data;
  }

  async putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void> {
    await this.#call("PutChunks", { chunks: chunks.map((chunk) => ({
      ref: { id: chunk.ref.id, size: String(chunk.ref.size) }, bytes: Buffer.from(chunk.bytes),
    })) });
  }

  /**
   * Asks the node holding the replica to collect its garbage (it reconciles the replica with
   * the metadata first); a collection reads every manifest, so its deadline is long.
   */
  async collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }> {
    return freedOfWire(await this.#call("CollectGarbage", {}, gcCallDeadlineMs));
  }

  /** Nothing to close: the channel belongs to the router. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function* dataOf(messages: AsyncIterable<{ data: Buffer }>): AsyncIterable<Buffer> {
  for await (const message of messages) yield message.data;
}
