/**
 * Shard placement for one copy per shard (issue 5; replicas and failover come later):
 * `<root>/placement/<shard>` = the name of the node that holds the shard. A shard is placed
 * lazily, the first time any node needs it, by a create-if-absent transaction: the live node
 * (registered under `<root>/nodes/`) with the fewest shards wins, ties broken by a stable hash
 * (choose-node.ts). Every node keeps a watched copy of both prefixes, so routing reads no key.
 *
 * Invariants: a placement key, once created, is never changed here (so every node routes a
 * shard to the same node); a shard is only ever placed on a node that was live when decided.
 * Errors: UNAVAILABLE when no node is live or the store cannot be reached.
 */
import type { Etcd3 } from "etcd3";
import { type Logger, PfsError, assert } from "../../common/index.js";
import { chooseNode } from "./choose-node.js";
import { placementCasAttemptsMax, placementNoNodeWaitMs } from "./limits.js";
import { type NodeRecord, parseNodeRecord } from "./node-registry.js";
import { PrefixCache } from "./prefix-cache.js";

export interface ShardPlacementOptions {
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  /** The cluster's shard count S. */
  readonly shards: number;
  readonly logger: Logger;
}

export class ShardPlacement {
  readonly #client: Etcd3;
  readonly #root: string;
  readonly #shards: number;
  readonly #logger: Logger;
  readonly #nodes: PrefixCache;
  readonly #placement: PrefixCache;
  /** The tail of the chain of placement decisions (see ownerOf). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: ShardPlacementOptions) {
    this.#client = options.client;
    this.#root = options.root;
    this.#shards = options.shards;
    this.#logger = options.logger;
    this.#nodes = new PrefixCache(options.client, `${options.root}/nodes/`, options.logger);
    this.#placement = new PrefixCache(options.client, `${options.root}/placement/`,
      options.logger);
  }

  /** Reads and watches the nodes and the placement. */
  static async open(options: ShardPlacementOptions): Promise<ShardPlacement> {
    const placement = new ShardPlacement(options);
    await placement.#nodes.start();
    try {
      await placement.#placement.start();
    } catch (error: unknown) {
      await placement.#nodes.close();
      throw error;
    }
    return placement;
  }

  /** The live nodes, by name. */
  liveNodes(): NodeRecord[] {
    const nodes: NodeRecord[] = [];
    for (const [name, value] of this.#nodes.entries) {
      const record = parseNodeRecord(value);
      if (record === undefined || record.name !== name) {
        this.#logger.warn("ignoring a malformed node record", { name, value });
        continue;
      }
      nodes.push(record);
    }
    return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The pfs address of a live node, or undefined when it is not live. */
  addressOf(node: string): string | undefined {
    const value = this.#nodes.entries.get(node);
    return value === undefined ? undefined : parseNodeRecord(value)?.address;
  }

  /** The placement as known now: shard → node. */
  owners(): Map<number, string> {
    const owners = new Map<number, string>();
    for (const [suffix, node] of this.#placement.entries) {
      const shard = Number(suffix);
      const valid = Number.isSafeInteger(shard) && shard >= 0 && shard < this.#shards;
      if (valid) owners.set(shard, node);
    }
    return owners;
  }

  /** The node holding `shard`, placing it first when it has no node yet. */
  async ownerOf(shard: number): Promise<string> {
    assert(Number.isSafeInteger(shard) && shard >= 0 && shard < this.#shards,
      () => `shard ${shard} outside [0, ${this.#shards})`);
    const known = this.#placement.entries.get(String(shard));
    if (known !== undefined) return known;
    // One decision at a time in this process, so each one counts the ones made before it.
    const decided = this.#queue.then(() => this.#place(shard));
    this.#queue = decided.catch(() => undefined);
    return decided;
  }

  async #place(shard: number): Promise<string> {
    for (let attempt = 0; attempt < placementCasAttemptsMax; attempt += 1) {
      const live = await this.#waitForLiveNodes();
      const owners = this.owners();
      const already = owners.get(shard);
      if (already !== undefined) return already;
      const node = chooseNode(shard, live.map((record) => record.name), owners);
      const key = `${this.#root}/placement/${shard}`;
      const outcome = await this.#client.if(key, "Create", "==", 0)
        .then(this.#client.put(key).value(node))
        .else(this.#client.get(key))
        .commit();
      if (outcome.succeeded) {
        this.#placement.learn(String(shard), node);
        this.#logger.info("placed shard", { shard, node });
        return node;
      }
      const current = outcome.responses[0]?.response_range.kvs[0]?.value.toString("utf8");
      if (current !== undefined) {
        this.#placement.learn(String(shard), current);
        return current;
      }
    }
    throw new PfsError("UNAVAILABLE", `cannot place shard ${shard}: the placement kept changing`);
  }

  async #waitForLiveNodes(): Promise<NodeRecord[]> {
    const now = this.liveNodes();
    if (now.length > 0) return now;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new PfsError("UNAVAILABLE", "no pfs node is registered; cannot place a shard"));
      }, placementNoNodeWaitMs);
      timer.unref();
      const remove = this.#nodes.onChange(() => {
        const live = this.liveNodes();
        if (live.length === 0) return;
        clearTimeout(timer);
        remove();
        resolve(live);
      });
    });
  }

  async close(): Promise<void> {
    await this.#nodes.close();
    await this.#placement.close();
  }
}
