/**
 * The router (DESIGN.md §3–4, "any node serves any request"): shard → a `ShardReplica` that
 * sends each call where it belongs, so the API layer above does not know about replicas.
 *
 * - **Writes** (puts, deletes, finish, abort, chunk pushes) go to the shard's master, as the
 *   election's watch names it now (`ReplicaDirectory`, never a cache with its own lifetime);
 *   while a shard has no master they wait for one, at most `masterWaitMs`. A write that
 *   reached a replica which is no longer master, or could not reach it (UNAVAILABLE), is sent
 *   again to the next master until that wait runs out; the retry goes as soon as the directory
 *   names another master, or after candidateRetryMs when it does not. A put stream is resent
 *   only while none of its data was read: a master reads none before it answered ready
 *   (remote-shard.ts; the local HostedShard checks before it reads), and a put still waiting
 *   for ready gives up when the election names another master (a stopped master never
 *   answers). After ready a failure is the caller's, its data partly consumed.
 * - **Reads** of finished commits go to any replica the map names, this node's own first, the
 *   others in turn (spread by a per-shard counter). A replica that cannot answer (UNAVAILABLE),
 *   lacks the commit (NOT_FOUND: it has not caught up) or finds a chunk damaged
 *   (DATA_CORRUPTED) passes the read to the next; the read fails only when every replica did,
 *   with NOT_FOUND when one of them said so. A stream falls over only before its first item
 *   (it is one read: open and take the first item).
 * - This node's replicas are `ShardHost`'s hosted shards (no network); the others are
 *   `RemoteShard`s over one pfs.Shard channel per node address.
 */
import { type ChannelCredentials, type Client, credentials } from "@grpc/grpc-js";
import { type Logger, PfsError, assert, limits } from "../../common/index.js";
import { loadPfsShardService } from "../../proto/index.js";
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";
import {
  type ReplicaDirectory, type ShardHost, replicationLimits,
} from "../replication/index.js";
import type {
  ShardByteRange, ShardCommit, ShardDeleteOptions, ShardDirectoryChild, ShardFileChange,
  ShardFinishResult, ShardReplica,
} from "../shard/shard-api.js";
import { type RemotePutOptions, RemoteShard } from "./remote-shard.js";
import { FirstPull } from "./stream-kit.js";

/** What the API layer routes through: every shard as one ShardReplica (tests fake it). */
export interface ShardRouting {
  readonly shards: number;
  /** The replica to call for `shard`: writes reach its master, reads any replica. */
  replica(shard: number): Promise<ShardReplica>;
  /** Every shard's, in shard order. */
  all(): Promise<ShardReplica[]>;
}

export interface ShardRouterOptions {
  readonly directory: ReplicaDirectory;
  readonly host: ShardHost;
  /** This node's name (as registered). */
  readonly self: string;
  readonly logger: Logger;
  /** Longest wait for a shard's master, in ms (default replicationLimits.masterWaitMs). */
  readonly masterWaitMs?: number;
  /** What the pfs.Shard channels to other nodes use (pfs-tls.ts); plaintext when absent. */
  readonly credentials?: ChannelCredentials;
}

/** Errors after which another replica may still answer a read. */
function passesOn(error: unknown): boolean {
  return error instanceof PfsError &&
    (error.code === "UNAVAILABLE" || error.code === "NOT_FOUND" ||
      error.code === "DATA_CORRUPTED");
}

export class ShardRouter implements ShardRouting {
  readonly #options: ShardRouterOptions;
  readonly #clients = new Map<string, Client>();
  readonly #ShardClient = loadPfsShardService().Client;
  readonly #turns = new Map<number, number>();

  constructor(options: ShardRouterOptions) {
    assert(options.directory.shards >= 1, () => `shards ${options.directory.shards}`);
    this.#options = options;
  }

  get shards(): number {
    return this.#options.directory.shards;
  }

  get masterWaitMs(): number {
    return this.#options.masterWaitMs ?? replicationLimits.masterWaitMs;
  }

  #checkShard(shard: number): void {
    if (!Number.isSafeInteger(shard) || shard < 0 || shard >= this.shards) {
      throw new PfsError("INVALID_ARGUMENT", `shard ${shard} is not in [0, ${this.shards})`);
    }
  }

  /** The replica to call for `shard`: writes to its master, reads to any replica. */
  replica(shard: number): Promise<ShardReplica> {
    this.#checkShard(shard);
    return Promise.resolve(new RoutedShard(shard, this));
  }

  /** Every shard's routed replica, in shard order. */
  all(): Promise<ShardReplica[]> {
    return Promise.resolve(
      Array.from({ length: this.shards }, (_, shard) => new RoutedShard(shard, this)));
  }

  /** `node`'s replica of `shard`: this node's hosted one, or a RemoteShard while it is live. */
  on(node: string, shard: number): ShardReplica | undefined {
    if (node === this.#options.self) {
      return this.#options.host.holds(shard) ? this.#options.host.hosted(shard) : undefined;
    }
    const address = this.#options.directory.addressOf(node);
    return address === undefined ? undefined
      : new RemoteShard(shard, this.#client(address), address);
  }

  /** The shard's master replica, waiting for one at most `masterWaitMs`. */
  async master(shard: number): Promise<ShardReplica> {
    return (await this.#master(shard, this.masterWaitMs)).replica;
  }

  async #master(shard: number, waitMs: number): Promise<{ node: string; replica: ShardReplica }> {
    const { node, address } = await this.#options.directory.waitMaster(shard, waitMs);
    if (node === this.#options.self) return { node, replica: this.#options.host.hosted(shard) };
    return { node, replica: new RemoteShard(shard, this.#client(address), address) };
  }

  /** The replicas to read `shard` from, in the order to try them. */
  readOrder(shard: number): { node: string; replica: ShardReplica }[] {
    const { directory, self } = this.#options;
    const names = [...directory.replicasOf(shard)];
    const master = directory.masterOf(shard);
    if (master !== undefined && !names.includes(master)) names.push(master);
    const turn = this.#turns.get(shard) ?? 0;
    this.#turns.set(shard, (turn + 1) % Number.MAX_SAFE_INTEGER);
    const others = names.filter((name) => name !== self);
    const rotated = others.length === 0 ? []
      : [...others.slice(turn % others.length), ...others.slice(0, turn % others.length)];
    const order = names.includes(self) ? [self, ...rotated] : rotated;
    const replicas: { node: string; replica: ShardReplica }[] = [];
    for (const node of order) {
      const replica = this.on(node, shard);
      if (replica !== undefined) replicas.push({ node, replica });
    }
    return replicas;
  }

  /** Runs `read` on the replicas of `shard` in turn (see the module comment). */
  async read<T>(shard: number, what: string, read: (replica: ShardReplica) => Promise<T>):
    Promise<T> {
    const order = this.readOrder(shard);
    if (order.length === 0) {
      return this.write(shard, read);
    }
    let notFound: unknown;
    let last: unknown;
    for (const { node, replica } of order.slice(0, replicationLimits.readAttemptsMax)) {
      try {
        return await read(replica);
      } catch (error: unknown) {
        if (!passesOn(error)) throw error;
        if (error instanceof PfsError && error.code === "NOT_FOUND") notFound ??= error;
        else this.#options.logger.debug("a replica could not serve a read; trying the next",
          { shard, node, what, error });
        last = error;
      }
    }
    throw notFound ?? last;
  }

  /**
   * The items `open` streams from the first replica of `shard` that yields its first item (or
   * ends), found as `read` finds one; a failure after that is the caller's.
   */
  async* readStream<T>(shard: number, what: string,
    open: (replica: ShardReplica) => AsyncIterable<T>): AsyncIterable<T> {
    const { items, first } = await this.read(shard, what, async (replica) => {
      const items = open(replica)[Symbol.asyncIterator]();
      return { items, first: await items.next() };
    });
    let next = first;
    try {
      while (next.done !== true) {
        yield next.value;
        next = await items.next();
      }
    } finally {
      if (next.done !== true) await items.return?.();
    }
  }

  /**
   * Runs a write on the shard's master; when it fails with UNAVAILABLE and `again()` allows it
   * (default: always), on the next master, until `masterWaitMs` from the start. `write` gets a
   * signal that aborts when the directory names a master other than the one it was sent to.
   */
  async write<T>(shard: number, write: (master: ShardReplica, moved: AbortSignal) => Promise<T>,
    again: () => boolean = () => true): Promise<T> {
    const deadline = Date.now() + this.masterWaitMs;
    for (let attempt = 1; ; attempt += 1) {
      const { node, replica } = await this.#master(shard, Math.max(1, deadline - Date.now()));
      const moved = this.#watchMaster(shard, node);
      try {
        return await write(replica, moved.signal);
      } catch (error: unknown) {
        const retry = error instanceof PfsError && error.code === "UNAVAILABLE" &&
          Date.now() < deadline && again();
        if (!retry) throw error;
        this.#options.logger.debug("a write did not reach the master; sending it again",
          { shard, node, attempt, error });
        await this.#masterOtherThan(shard, node,
          Math.min(replicationLimits.candidateRetryMs, deadline - Date.now()));
      } finally {
        moved.stop();
      }
    }
  }

  /** A signal that aborts once the directory no longer names `node` master of `shard`. */
  #watchMaster(shard: number, node: string): { signal: AbortSignal; stop: () => void } {
    const { directory } = this.#options;
    const controller = new AbortController();
    const check = (): void => {
      if (directory.masterOf(shard) !== node) controller.abort();
    };
    const stop = directory.onChange(check);
    check();
    return { signal: controller.signal, stop };
  }

  /**
   * Resolves once the directory names a master of `shard` other than `node`, or after
   * `pauseMs` (a master that refused may still be settling into its term).
   */
  #masterOtherThan(shard: number, node: string, pauseMs: number): Promise<void> {
    const { directory } = this.#options;
    return new Promise((resolve) => {
      const moved = (): boolean => {
        const now = directory.masterOf(shard);
        return now !== undefined && now !== node;
      };
      if (moved()) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        remove();
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, pauseMs));
      timer.unref();
      const remove = directory.onChange(() => { if (moved()) done(); });
    });
  }

  #client(address: string): Client {
    let client = this.#clients.get(address);
    if (client === undefined) {
      const channelCredentials = this.#options.credentials ?? credentials.createInsecure();
      client = new this.#ShardClient(address, channelCredentials, {
        "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
        "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  /** Closes the channels (the host closes the local replicas). */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}

/** One shard as the API layer sees it: writes to the master, reads to any replica. */
class RoutedShard implements ShardReplica {
  readonly shard: number;
  readonly #router: ShardRouter;

  constructor(shard: number, router: ShardRouter) {
    this.shard = shard;
    this.#router = router;
  }

  // ---- writes -------------------------------------------------------------------------

  /** Resent to the next master while no data was read (see the module comment). */
  putFile(commit: ShardCommit, parent: CommitId, path: string,
    data: AsyncIterable<Uint8Array>, options?: { readonly append?: boolean }): Promise<FileEntry> {
    const source = new FirstPull(data);
    return this.#router.write(this.shard, (master, moved) => {
      const putOptions: RemotePutOptions = { ...options, giveUp: moved };
      return master.putFile(commit, parent, path, source, putOptions);
    }, () => !source.pulled);
  }

  putEntry(commit: ShardCommit, path: string, entry: FileEntry): Promise<FileEntry> {
    return this.#router.write(this.shard, (master) => master.putEntry(commit, path, entry));
  }

  deleteFile(commit: ShardCommit, path: string, options?: ShardDeleteOptions): Promise<number> {
    return this.#router.write(this.shard, (master) => master.deleteFile(commit, path, options));
  }

  finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult> {
    return this.#router.write(this.shard, (master) => master.finishCommit(commit, parent));
  }

  abortCommit(commit: ShardCommit): Promise<void> {
    return this.#router.write(this.shard, (master) => master.abortCommit(commit));
  }

  /** Every live replica drops the repo (one that is down is cleaned by its collector later). */
  async deleteRepo(repo: string): Promise<void> {
    const order = this.#router.readOrder(this.shard);
    const results = await Promise.allSettled(order.map(({ replica }) => replica.deleteRepo(repo)));
    for (const result of results) {
      if (result.status === "rejected" && !passesOn(result.reason)) throw result.reason;
    }
  }

  missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    return this.#router.write(this.shard, (master) => master.missingChunks(ids));
  }

  putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void> {
    return this.#router.write(this.shard, (master) => master.putChunks(chunks));
  }

  /** Refused: a manifest is installed on one replica by another (transfer.ts). */
  installManifest(commit: ShardCommit): Promise<void> {
    return Promise.reject(new PfsError("FAILED_PRECONDITION", `the manifest of ` +
      `${commit.repo}@${commit.id} is installed on one replica, not through the router`));
  }

  // ---- reads --------------------------------------------------------------------------

  inspectFile(commit: ShardCommit, path: string): Promise<FileEntry> {
    return this.#router.read(this.shard, "inspect", (replica) => replica.inspectFile(commit, path));
  }

  getFile(commit: ShardCommit, path: string, range?: ShardByteRange): AsyncIterable<Uint8Array> {
    return this.#router.readStream(this.shard, "get",
      (replica) => replica.getFile(commit, path, range));
  }

  listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]> {
    return this.#router.read(this.shard, "list",
      (replica) => replica.listDirectory(commit, directory));
  }

  glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]> {
    return this.#router.read(this.shard, "glob", (replica) => replica.glob(commit, pattern));
  }

  walk(commit: ShardCommit, directory: string): AsyncIterable<FileEntry> {
    return this.#router.readStream(this.shard, "walk",
      (replica) => replica.walk(commit, directory));
  }

  diff(commit: ShardCommit, base: CommitId, directory: string): Promise<ShardFileChange[]> {
    return this.#router.read(this.shard, "diff",
      (replica) => replica.diff(commit, base, directory));
  }

  readChunk(id: Sha256Hex): Promise<Uint8Array> {
    return this.#router.read(this.shard, "chunk", (replica) => replica.readChunk(id));
  }

  async hasCommit(commit: ShardCommit): Promise<boolean> {
    for (const { replica } of this.#router.readOrder(this.shard)) {
      if (await replica.hasCommit(commit).catch(() => false)) return true;
    }
    return false;
  }

  readManifest(commit: ShardCommit): Promise<Uint8Array> {
    return this.#router.read(this.shard, "manifest", (replica) => replica.readManifest(commit));
  }

  /** Collects on every live replica; the sums. */
  async collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }> {
    const freed = await Promise.all(this.#router.readOrder(this.shard)
      .map(({ replica }) => replica.collectGarbage()));
    return {
      chunksFreed: freed.reduce((sum, one) => sum + one.chunksFreed, 0),
      bytesFreed: freed.reduce((sum, one) => sum + one.bytesFreed, 0),
    };
  }

  async close(): Promise<void> {
    // Nothing of its own: the router and the host own the channels and replicas.
  }
}
