// Support for the pfs API e2e tests: a typed raw grpc-js client of pfs.API (unary calls, a
// PutFile stream, a GetFile stream collected into bytes), the pfs addresses of a cluster's
// nodes (each pfsd listens on --pfs-address 127.0.0.1:0 and registers the port it got under
// /pfs/nodes/, so members started by startCluster with one shared flag list need no port
// juggling), and a pfsd process started on its own (for --etcd-endpoints, which serves no
// etcd port for startCluster to wait on).
import { type ChildProcess, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import {
  type ChannelCredentials, type Client as GrpcClient, type ServiceError, credentials,
} from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { pack } from "tar-stream";
import { type PfsMessages, type PfsMethodName, loadPfsService } from "../../pkg/proto/index.js";
import { pfsdScript } from "../support/member-cluster.js";

const ApiClient = loadPfsService().Client;

/** A failed call: its gRPC code and message. */
export interface CallFailure { readonly code: number; readonly details: string }

export class PfsClient {
  readonly #client: GrpcClient;

  /** A client of `address`; plaintext unless `channelCredentials` (a node serving TLS). */
  constructor(readonly address: string, channelCredentials?: ChannelCredentials) {
    this.#client = new ApiClient(address, channelCredentials ?? credentials.createInsecure(), {
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
  }

  #method(name: string): (...args: unknown[]) => unknown {
    const method = (this.#client as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    if (method === undefined) throw new Error(`no method ${name}`);
    return method.bind(this.#client);
  }

  call<M extends PfsMethodName>(name: M, request: Partial<PfsMessages[M][0]>):
    Promise<PfsMessages[M][1]> {
    return new Promise((resolve, reject) => {
      this.#method(name)(request, { deadline: Date.now() + 30_000 },
        (error: ServiceError | null, response: PfsMessages[M][1]) => {
          if (error !== null) reject(error); else resolve(response);
        });
    });
  }

  /** Resolves with the failure of a call that must fail. */
  async failure<M extends PfsMethodName>(name: M, request: Partial<PfsMessages[M][0]>):
    Promise<CallFailure> {
    try {
      await this.call(name, request);
    } catch (error: unknown) {
      const failure = error as ServiceError;
      return { code: failure.code, details: failure.details };
    }
    throw new Error(`${name} succeeded but should have failed`);
  }

  /** A PutFile stream: header, then `data` in messages of at most 64 KiB. */
  putFile(header: { repo: string; commit: string; path: string; append?: boolean;
    format?: "RAW" | "TAR" }, data: Iterable<Uint8Array> | AsyncIterable<Uint8Array>):
    Promise<PfsMessages["PutFile"][1]> {
    return new Promise((resolve, reject) => {
      const stream = this.#method("PutFile")(
        (error: ServiceError | null, response: PfsMessages["PutFile"][1]) => {
          if (error !== null) reject(error); else resolve(response);
        }) as Writable;
      void (async () => {
        stream.write({ header: { commit: { repo: header.repo, commit: header.commit },
          path: header.path, append: header.append ?? false, format: header.format ?? "RAW" } });
        for await (const piece of data) {
          for (let start = 0; start < piece.length; start += 65_536) {
            const ok = stream.write({ data: Buffer.from(piece.subarray(start, start + 65_536)) });
            if (!ok) await new Promise((done) => stream.once("drain", done));
          }
        }
        stream.end();
      })().catch(reject);
    });
  }

  /** The bytes GetFile streams. */
  async getFile(repo: string, commit: string, path: string, offset = 0, length = 0):
    Promise<Buffer> {
    const stream = this.#method("GetFile")({ file: { commit: { repo, commit }, path },
      offset: String(offset), length: String(length) }) as AsyncIterable<{ data: Buffer }>;
    const pieces: Buffer[] = [];
    for await (const message of stream) pieces.push(message.data);
    return Buffer.concat(pieces);
  }

  /** The raw GetFile stream (its events: data, error, end), with a deadline. */
  getFileStream(repo: string, commit: string, path: string, deadline: number):
    NodeJS.EventEmitter {
    return this.#method("GetFile")({ file: { commit: { repo, commit }, path }, offset: "0",
      length: "0" }, { deadline }) as NodeJS.EventEmitter;
  }

  /** The first `count` commit ids SubscribeCommit streams; then the stream is cancelled. */
  async subscribe(repo: string, branch: string, count: number): Promise<string[]> {
    const stream = this.#method("SubscribeCommit")({ repo, branch, new_only: false }) as
      AsyncIterable<{ id: string }> & { cancel(): void };
    const ids: string[] = [];
    try {
      for await (const commit of stream) {
        ids.push(commit.id);
        if (ids.length >= count) break;
      }
    } finally {
      stream.cancel();
    }
    return ids;
  }

  close(): void {
    this.#client.close();
  }
}

/** A tar archive of `entries` (name → content), optionally with one raw header appended. */
export async function tarOf(entries: readonly { name: string; data?: string;
  type?: "file" | "symlink" | "link" | "directory"; linkname?: string }[]): Promise<Buffer> {
  const archive = pack();
  for (const entry of entries) {
    const header = { name: entry.name, type: entry.type ?? "file",
      ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }) };
    if (header.type === "file") archive.entry(header, entry.data ?? "");
    else archive.entry(header, "");
  }
  archive.finalize();
  const pieces: Buffer[] = [];
  for await (const piece of archive as AsyncIterable<Buffer>) pieces.push(piece);
  return Buffer.concat(pieces);
}

/** The pfs addresses registered under /pfs/nodes/ once `count` nodes have registered. */
export async function pfsAddresses(etcdUrls: readonly string[], count: number,
  timeoutMs = 30_000): Promise<string[]> {
  const client = new Etcd3({ hosts: [...etcdUrls] });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = await client.getAll().prefix("/pfs/nodes/").strings();
      const addresses = Object.values(nodes)
        .map((value) => (JSON.parse(value) as { address: string }).address).sort();
      if (addresses.length >= count) return addresses;
      if (Date.now() > deadline) throw new Error(`only ${addresses.length} of ${count} pfs nodes`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
}

/** A pfsd process started directly with `args`; its stderr is kept for failure messages. */
export interface PfsdProcess {
  readonly child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  stop(): Promise<number>;
}

export function spawnPfsd(args: readonly string[]): PfsdProcess {
  const child = spawn(process.execPath, [pfsdScript, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (piece: Buffer) => { stderr = (stderr + piece.toString()).slice(-50_000); });
  const exited = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => { resolve(code ?? (signal === null ? 1 : 128)); });
  });
  process.once("exit", () => { child.kill("SIGKILL"); });
  return {
    child, stderr: () => stderr, exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
