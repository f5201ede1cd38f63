/**
 * `PfsClient`: a typed client of the pfs API (service pfs.API, pkg/proto/pfs.proto) over
 * grpc-js, one method per RPC.
 *
 * - Every call that moves no data has a deadline (`callDeadlineMsDefault` unless the options
 *   say otherwise); `putFile`, `getFile`, `subscribeCommit` and `waitCommit` have none,
 *   because their length depends on the data or on other clients, not on the server's health.
 *   They first wait for the channel to connect, within that same deadline, so a server that
 *   is down or never speaks gRPC fails them as fast as a data-less call.
 * - `putFile` streams from any async iterable of bytes with backpressure: it writes the next
 *   message only once gRPC has taken the previous ones, so memory stays flat whatever the size.
 *   A source that fails cancels the call, so the server discards what it staged.
 * - `getFile` pipes the server's stream into a Writable with backpressure. A stream that
 *   fails part way (the server's error, a dropped connection) or a Writable that fails cancels
 *   the call and rejects; the Writable is then destroyed, never ended (a connection that
 *   never came up rejects before `out` is touched: the caller disposes of it).
 * - Every failure is a `PfsError` (client-error.ts): the server's code and message.
 *
 * Messages are the decoded wire forms of pfs-proto (snake_case, int64 as decimal strings).
 */
import { once } from "node:events";
import { type Writable, finished } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type CallOptions, type Client, type ClientReadableStream, type ClientWritableStream,
  type ChannelCredentials, type ServiceError, connectivityState, credentials,
} from "@grpc/grpc-js";
import { type PfsError, assert } from "../../common/index.js";
import { clientError, notConnectedError } from "./client-error.js";
import { transportHint } from "./client-tls.js";
import { callDeadlineMsDefault, grpcMessageBytesMax, putMessageBytes } from "./limits.js";
import {
  type BranchInfoMessage, type CommitInfoMessage, type CommitRefMessage,
  type DeleteFileResponse, type DeleteRepoResponse, type FileDiffMessage, type FileInfoMessage,
  type FileRefMessage, type GetFileResponse, type PfsMessages, type PfsMethodName,
  type PutFileHeaderMessage, type PutFileRequest, type PutFileResponse, type RepoInfoMessage,
  type CopyFileResponse, type CollectGarbageResponse, loadPfsService, type pfsMethods,
} from "./proto.js";

/** The RPCs that take one request and answer one response. */
type UnaryMethod = {
  [M in PfsMethodName]: (typeof pfsMethods)[M] extends "unary" ? M : never;
}[PfsMethodName];

type UnaryFunction = (request: unknown, options: CallOptions,
  callback: (error: ServiceError | null, response?: unknown) => void) => unknown;
type ClientStreamFunction = (options: CallOptions,
  callback: (error: ServiceError | null, response?: unknown) => void) => unknown;
type ServerStreamFunction = (request: unknown, options: CallOptions) => unknown;

/** How a client connects and how long its data-less calls may take. */
export interface PfsClientOptions {
  /** host:port of a pfsd's --pfs-address. */
  readonly address: string;
  /** Deadline of each call that moves no data; `callDeadlineMsDefault` when absent. */
  readonly callDeadlineMs?: number;
  /** The channel's credentials (`clientCredentials`, client-tls.ts); plaintext when absent. */
  readonly credentials?: ChannelCredentials;
}

/** Called with the byte count of each piece a put sends or a get receives. */
export type ByteListener = (bytes: number) => void;

/** A running SubscribeCommit: its commits in order, and a way to stop it. */
export interface CommitSubscription {
  readonly commits: AsyncIterable<CommitInfoMessage>;
  /** Ends the subscription; the iteration then ends without an error. */
  cancel(): void;
}

/** A commit by repo and id or branch (with optional ancestry), as the API takes it. */
export function commitRef(repo: string, commit: string): CommitRefMessage {
  return { repo, commit };
}

/** A file by repo, commit (or branch) and path, as the API takes it. */
export function fileRef(repo: string, commit: string, path: string): FileRefMessage {
  return { commit: { repo, commit }, path };
}

/** Splits each piece of `source` into Buffers of at most `putMessageBytes`. */
async function* messagePieces(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Buffer> {
  for await (const piece of source) {
    const bytes = typeof piece === "string" ? Buffer.from(piece) : Buffer.from(
      piece.buffer, piece.byteOffset, piece.byteLength);
    for (let start = 0; start < bytes.length; start += putMessageBytes) {
      yield bytes.subarray(start, Math.min(bytes.length, start + putMessageBytes));
    }
  }
}

export class PfsClient {
  readonly address: string;
  readonly #client: Client;
  readonly #callDeadlineMs: number;
  /** Whether the channel is TLS (for the hints of connection failures). */
  readonly #secure: boolean;

  constructor(options: PfsClientOptions) {
    const deadline = options.callDeadlineMs ?? callDeadlineMsDefault;
    assert(Number.isSafeInteger(deadline) && deadline > 0, () => `call deadline ${deadline}`);
    assert(options.address !== "", "empty pfs address");
    const { Client: ApiClient } = loadPfsService();
    this.address = options.address;
    this.#callDeadlineMs = deadline;
    const channelCredentials = options.credentials ?? credentials.createInsecure();
    this.#secure = channelCredentials._isSecure();
    this.#client = new ApiClient(options.address, channelCredentials, {
      "grpc.max_receive_message_length": grpcMessageBytesMax,
      "grpc.max_send_message_length": grpcMessageBytesMax,
    });
  }

  /** Closes the channel; calls still running fail. */
  close(): void {
    this.#client.close();
  }

  #method(name: PfsMethodName): (...args: unknown[]) => unknown {
    const method = (this.#client as unknown as Record<string, unknown>)[name];
    assert(typeof method === "function", () => `pfs.API client lacks ${name}`);
    return (method as (...args: unknown[]) => unknown).bind(this.#client);
  }

  /** One unary call with the data-less deadline (or `deadlineMs`, Infinity = none). */
  #unary<M extends UnaryMethod>(name: M, request: PfsMessages[M][0],
    deadlineMs: number = this.#callDeadlineMs): Promise<PfsMessages[M][1]> {
    const call = this.#method(name) as UnaryFunction;
    const options: CallOptions =
      deadlineMs === Infinity ? {} : { deadline: Date.now() + deadlineMs };
    return new Promise((resolve, reject) => {
      call(request, options, (error, response) => {
        if (error !== null) reject(clientError(error, name, this.address, this.#secure));
        else resolve(response as PfsMessages[M][1]);
      });
    });
  }

  /**
   * The TLS hint for a channel whose connection attempts fail (a plaintext client of a TLS
   * server is closed at once); none for one still connecting (a server that never answers).
   */
  #failingHint(): string {
    const state = this.#client.getChannel().getConnectivityState(false);
    return state === connectivityState.TRANSIENT_FAILURE ? transportHint("", this.#secure) : "";
  }

  /**
   * Resolves once the channel is connected; rejects with UNAVAILABLE if it is not within the
   * data-less deadline. The data calls start with it (see the module comment).
   */
  #connected(method: PfsMethodName): Promise<void> {
    const deadlineMs = this.#callDeadlineMs;
    return new Promise((resolve, reject) => {
      this.#client.waitForReady(Date.now() + deadlineMs, (error) => {
        if (error === undefined) resolve();
        else reject(notConnectedError(method, this.address, deadlineMs, this.#failingHint()));
      });
    });
  }

  // ---- repos -----------------------------------------------------------------------------

  createRepo(name: string, description = ""): Promise<RepoInfoMessage> {
    return this.#unary("CreateRepo", { name, description });
  }

  inspectRepo(name: string): Promise<RepoInfoMessage> {
    return this.#unary("InspectRepo", { name });
  }

  async listRepo(): Promise<RepoInfoMessage[]> {
    return (await this.#unary("ListRepo", {})).repos;
  }

  deleteRepo(name: string): Promise<DeleteRepoResponse> {
    return this.#unary("DeleteRepo", { name });
  }

  // ---- commits ---------------------------------------------------------------------------

  /**
   * Starts a commit on `branch` (created when missing); `parent` "" = the branch head.
   * `provenance`: the finished commits it is computed from, "repo@id" (NOT_FOUND or
   * FAILED_PRECONDITION when one is missing or not finished).
   */
  startCommit(repo: string, branch: string, parent = "", description = "",
    provenance: readonly string[] = []): Promise<CommitInfoMessage> {
    return this.#unary("StartCommit",
      { repo, branch, parent, description, provenance: [...provenance] });
  }

  /** Finishes the commit, or fails it when `error` is not "". */
  finishCommit(commit: CommitRefMessage, error = ""): Promise<CommitInfoMessage> {
    return this.#unary("FinishCommit", { commit, error });
  }

  inspectCommit(commit: CommitRefMessage): Promise<CommitInfoMessage> {
    return this.#unary("InspectCommit", { commit });
  }

  /** Commits newest first; `branch` "" = every commit of the repo; `limit` 0 = server's. */
  async listCommit(repo: string, branch: string, limit = 0): Promise<CommitInfoMessage[]> {
    return (await this.#unary("ListCommit", { repo, branch, limit })).commits;
  }

  /**
   * Blocks until the commit is finished or failed: no deadline unless `deadlineMs` is given
   * (the connection itself must come up within the data-less deadline).
   */
  async waitCommit(commit: CommitRefMessage, deadlineMs = Infinity): Promise<CommitInfoMessage> {
    await this.#connected("WaitCommit");
    return this.#unary("WaitCommit", { commit }, deadlineMs);
  }

  /** Deletes an open commit and what it staged. */
  deleteCommit(commit: CommitRefMessage): Promise<CommitInfoMessage> {
    return this.#unary("DeleteCommit", { commit });
  }

  /** The branch's finished commits (history first unless `newOnly`), until cancelled. */
  subscribeCommit(repo: string, branch: string, newOnly = false): CommitSubscription {
    const state: { cancelled: boolean; call?: ClientReadableStream<CommitInfoMessage> } =
      { cancelled: false };
    const open = async (): Promise<ClientReadableStream<CommitInfoMessage> | undefined> => {
      await this.#connected("SubscribeCommit");
      if (state.cancelled) return undefined;
      state.call = (this.#method("SubscribeCommit") as ServerStreamFunction)(
        { repo, branch, new_only: newOnly }, {}) as ClientReadableStream<CommitInfoMessage>;
      return state.call;
    };
    const address = this.address;
    const secure = this.#secure;
    async function* commits(): AsyncGenerator<CommitInfoMessage> {
      const call = await open();
      if (call === undefined) return;
      try {
        for await (const commit of call) yield commit as CommitInfoMessage;
      } catch (error: unknown) {
        if (!state.cancelled) throw clientError(error, "SubscribeCommit", address, secure);
      }
    }
    return {
      commits: commits(),
      cancel: () => {
        state.cancelled = true;
        state.call?.cancel();
      },
    };
  }

  // ---- branches --------------------------------------------------------------------------

  /** Creates or re-points `branch` at `head` (null = no commit). */
  createBranch(repo: string, branch: string, head: CommitRefMessage | null):
    Promise<BranchInfoMessage> {
    return this.#unary("CreateBranch", { repo, branch, head });
  }

  inspectBranch(repo: string, branch: string): Promise<BranchInfoMessage> {
    return this.#unary("InspectBranch", { repo, branch });
  }

  async listBranch(repo: string): Promise<BranchInfoMessage[]> {
    return (await this.#unary("ListBranch", { repo })).branches;
  }

  deleteBranch(repo: string, branch: string): Promise<BranchInfoMessage> {
    return this.#unary("DeleteBranch", { repo, branch });
  }

  // ---- files -----------------------------------------------------------------------------

  /**
   * Streams `source` as one PutFile: RAW (the file's content) or TAR (entries below the
   * header's path). Resolves once the server acknowledged it (staged durably, or committed
   * when the header names a branch without an open commit). If `source` throws, the call is
   * cancelled and that error is rethrown.
   */
  async putFile(header: PutFileHeaderMessage, source: AsyncIterable<Uint8Array | string>,
    onBytes?: ByteListener): Promise<PutFileResponse> {
    await this.#connected("PutFile");
    let answer: ((error: ServiceError | null, response?: unknown) => void) | undefined;
    const ended: { failure?: PfsError } = {};
    const done = new Promise<PutFileResponse>((resolve, reject) => {
      answer = (error, response) => {
        if (error === null) {
          resolve(response as PutFileResponse);
          return;
        }
        ended.failure = clientError(error, "PutFile", this.address, this.#secure);
        reject(ended.failure);
      };
    });
    assert(answer !== undefined, "promise executor runs synchronously");
    const call = (this.#method("PutFile") as ClientStreamFunction)({}, answer) as
      ClientWritableStream<PutFileRequest>;
    // Watch `done` from the start, so a failure while the source is still being read is
    // observed (the loop below races against it) and never unhandled.
    done.catch(() => undefined);
    try {
      await this.#writeOrFail(call, { part: "header", header }, done);
      for await (const data of messagePieces(source)) {
        // A server that refused the put early stops the upload here, not at the source's end.
        if (ended.failure !== undefined) throw ended.failure;
        await this.#writeOrFail(call, { part: "data", data }, done);
        onBytes?.(data.length);
      }
    } catch (error: unknown) {
      // The source's own error (a local read failure, an abort) is what the caller needs.
      call.cancel();
      throw error;
    }
    call.end();
    return done;
  }

  /** Writes one message; when gRPC's buffer is full, waits for it to drain (or the call to end). */
  async #writeOrFail(call: ClientWritableStream<PutFileRequest>, message: PutFileRequest,
    done: Promise<unknown>): Promise<void> {
    if (call.write(message)) return;
    await Promise.race([once(call, "drain"), done]);
  }

  /**
   * Streams the file's bytes in [offset, offset + length) (length 0 = to the end), or a
   * directory as a tar stream, into `out`, which is ended. Resolves with the byte count.
   */
  async getFile(file: FileRefMessage, out: Writable,
    range: { readonly offset?: bigint; readonly length?: bigint } = {},
    onBytes?: ByteListener): Promise<bigint> {
    const offset = range.offset ?? 0n;
    const length = range.length ?? 0n;
    assert(offset >= 0n && length >= 0n, () => `byte range ${offset}+${length}`);
    await this.#connected("GetFile");
    const call = (this.#method("GetFile") as ServerStreamFunction)(
      { file, offset: offset.toString(), length: length.toString() }, {}) as
      ClientReadableStream<GetFileResponse>;
    let total = 0n;
    // A Writable that fails or is destroyed while the server is quiet would leave the pipeline
    // waiting on the call forever: cancelling the call ends it.
    const stopWatchingOut = finished(out, (error) => {
      if (error !== undefined && error !== null) call.cancel();
    });
    try {
      await pipeline(call, async function* (messages: AsyncIterable<GetFileResponse>) {
        for await (const message of messages) {
          total += BigInt(message.data.length);
          onBytes?.(message.data.length);
          yield message.data;
        }
      }, out);
    } catch (error: unknown) {
      call.cancel();
      throw clientError(error, "GetFile", this.address, this.#secure);
    } finally {
      stopWatchingOut();
    }
    return total;
  }

  inspectFile(file: FileRefMessage): Promise<FileInfoMessage> {
    return this.#unary("InspectFile", { file });
  }

  /** The entries directly below a directory (or the file itself), by path. */
  async listFile(file: FileRefMessage): Promise<FileInfoMessage[]> {
    return (await this.#unary("ListFile", { file })).files;
  }

  async globFile(commit: CommitRefMessage, pattern: string): Promise<FileInfoMessage[]> {
    return (await this.#unary("GlobFile", { commit, pattern })).files;
  }

  /** What differs between two commits below a path; `oldFile` null = the new one's parent. */
  async diffFile(newFile: FileRefMessage, oldFile: FileRefMessage | null, shallow = false):
    Promise<FileDiffMessage[]> {
    return (await this.#unary("DiffFile",
      { new_file: newFile, old_file: oldFile, shallow })).diffs;
  }

  deleteFile(file: FileRefMessage, recursive = false): Promise<DeleteFileResponse> {
    return this.#unary("DeleteFile", { file, recursive });
  }

  copyFile(src: FileRefMessage, dst: FileRefMessage, append = false): Promise<CopyFileResponse> {
    return this.#unary("CopyFile", { src, dst, append });
  }

  // ---- maintenance -----------------------------------------------------------------------

  /**
   * Collects garbage on every node now: the chunks and bytes freed. No deadline: a collection
   * reads every manifest of every shard, so its length follows the data.
   */
  collectGarbage(): Promise<CollectGarbageResponse> {
    return this.#unary("CollectGarbage", {}, Infinity);
  }
}
