/**
 * `ReplicaDirectory`: one node's live view of where every shard lives (DESIGN.md §4), for
 * routing: the replica map (`<root>/replica-map`, written by the placement controller), the
 * live nodes and their pfs addresses (`<root>/nodes/`, leased), and each shard's master (the
 * election `<root>/election/shard-master/<shard>/`). All three are watched, never cached with
 * a lifetime of their own: a router asks the directory on every call, so a new master is used
 * as soon as its election's watch event arrives (the early Pachyderm router cached masters for
 * minutes; DESIGN.md §4 and pachyderm-notes.md §1.5).
 *
 * Waiting: a call that needs a master while a shard has none (an election is running, or the
 * first map is not written yet) waits for the watch to report one, at most `masterWaitMs`,
 * then fails UNAVAILABLE naming the shard.
 */
import type { Etcd3, Watcher } from "etcd3";
import { type Clock, type Logger, PfsError, assert } from "../../common/index.js";
import { PrefixCache, parseNodeRecord } from "../placement/index.js";
import { unavailable } from "./leader-term.js";
import type { ReplicaMapKeys } from "./replica-map-store.js";
import { type ReplicaMap, decodeReplicaMap } from "./replica-map.js";
import { MasterObserver } from "./shard-master.js";

export interface ReplicaDirectoryOptions {
  readonly client: Etcd3;
  readonly root: string;
  readonly shards: number;
  readonly keys: ReplicaMapKeys;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class ReplicaDirectory {
  readonly #options: ReplicaDirectoryOptions;
  readonly #nodes: PrefixCache;
  readonly #observers: MasterObserver[] = [];
  readonly #listeners = new Set<() => void>();
  #map: ReplicaMap | undefined;
  #mapWatcher: Watcher | undefined;

  private constructor(options: ReplicaDirectoryOptions) {
    this.#options = options;
    this.#nodes = new PrefixCache(options.client, options.keys.nodes, options.logger);
  }

  /** Reads and watches the map, the nodes and every shard's master. */
  static async open(options: ReplicaDirectoryOptions): Promise<ReplicaDirectory> {
    assert(options.shards >= 1, () => `shards ${options.shards}`);
    const directory = new ReplicaDirectory(options);
    try {
      await directory.#nodes.start();
      directory.#nodes.onChange(() => { directory.#notify(); });
      await directory.#watchMap();
      for (let shard = 0; shard < options.shards; shard += 1) {
        const observer = await MasterObserver.open({
          client: options.client, root: options.root, shard, logger: options.logger,
        });
        directory.#observers.push(observer);
        observer.onChange(() => { directory.#notify(); });
      }
    } catch (error: unknown) {
      await directory.close();
      throw error;
    }
    return directory;
  }

  async #watchMap(): Promise<void> {
    const { client, keys } = this.#options;
    const response = await client.get(keys.map).exec().catch((error: unknown) => {
      throw unavailable(`cannot read ${keys.map}`, error);
    });
    const kv = response.kvs[0];
    if (kv !== undefined) this.#learnMap(kv.value.toString("utf8"));
    const watcher = await client.watch().key(keys.map)
      .startRevision((BigInt(response.header.revision) + 1n).toString()).create()
      .catch((error: unknown) => { throw unavailable(`cannot watch ${keys.map}`, error); });
    this.#mapWatcher = watcher;
    watcher.on("put", (put) => {
      this.#learnMap(put.value.toString("utf8"));
      this.#notify();
    });
    watcher.on("delete", () => {
      this.#options.logger.warn("the replica map was deleted; keeping the last one seen");
    });
    watcher.on("error", (error: unknown) => {
      this.#options.logger.warn("replica map watch error (the client re-establishes it)",
        { error });
    });
  }

  #learnMap(text: string): void {
    const decoded = decodeReplicaMap(text);
    if (!decoded.ok) {
      this.#options.logger.error("ignoring a malformed replica map", { error: decoded.error });
      return;
    }
    if (decoded.value.shards !== this.#options.shards) {
      this.#options.logger.error("ignoring a replica map for another shard count",
        { mapShards: decoded.value.shards, shards: this.#options.shards });
      return;
    }
    this.#map = decoded.value;
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  get shards(): number {
    return this.#options.shards;
  }

  /** The map in force, or undefined before the controller wrote the first one. */
  get map(): ReplicaMap | undefined {
    return this.#map;
  }

  /** The nodes the map places `shard` on (empty before the first map). */
  replicasOf(shard: number): readonly string[] {
    return this.#map?.placement[shard] ?? [];
  }

  /** The shard's master as its election's watch last said, or undefined. */
  masterOf(shard: number): string | undefined {
    return this.#observers[shard]?.current();
  }

  /** The shard's election queue: its master first, then the waiting candidates in order. */
  queueOf(shard: number): readonly string[] {
    return this.#observers[shard]?.queue() ?? [];
  }

  /** The pfs address of a live node, or undefined when its lease lapsed. */
  addressOf(node: string): string | undefined {
    const value = this.#nodes.entries.get(node);
    return value === undefined ? undefined : parseNodeRecord(value)?.address;
  }

  /** The live nodes' names. */
  liveNodes(): string[] {
    return [...this.#nodes.entries.keys()].sort();
  }

  /** Calls `listener` after any change of map, nodes or masters; returns its remover. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /**
   * The shard's master once it is known and live, waiting at most `waitMs`: UNAVAILABLE
   * after that, or at once when `signal` aborts.
   */
  async waitMaster(shard: number, waitMs: number): Promise<{ node: string; address: string }> {
    const ready = (): { node: string; address: string } | undefined => {
      const node = this.masterOf(shard);
      const address = node === undefined ? undefined : this.addressOf(node);
      return node === undefined || address === undefined ? undefined : { node, address };
    };
    const now = ready();
    if (now !== undefined) return now;
    return new Promise((resolve, reject) => {
      const timer = this.#options.clock.setTimer(waitMs, () => {
        remove();
        const master = this.masterOf(shard);
        reject(new PfsError("UNAVAILABLE", master === undefined
          ? `shard ${shard} has no master after ${waitMs} ms (replicas: ` +
            `${this.replicasOf(shard).join(", ") || "none placed yet"}); retry`
          : `shard ${shard}'s master ${master} is not live; retry`, { shard }));
      });
      const remove = this.onChange(() => {
        const found = ready();
        if (found === undefined) return;
        timer.cancel();
        remove();
        resolve(found);
      });
    });
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    const watcher = this.#mapWatcher;
    this.#mapWatcher = undefined;
    await watcher?.cancel();
    await Promise.all(this.#observers.splice(0).map((observer) => observer.close()));
    await this.#nodes.close();
  }
}
