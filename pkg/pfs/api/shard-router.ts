/**
 * The router (DESIGN.md §3, "any node serves any request"): shard → the ShardReplica to call.
 * A shard placed on this node is its local replica, opened once on first use; a shard placed
 * elsewhere is a RemoteShard over one pfs.Shard channel per node address. Placement comes from
 * ShardPlacement (lazy, by compare-and-swap), so every node routes a shard the same way.
 *
 * Errors: UNAVAILABLE when the shard's node is not live (its lease lapsed: no failover yet).
 */
import { type Client, credentials } from "@grpc/grpc-js";
import { type Logger, PfsError, assert, limits } from "../../common/index.js";
import { loadPfsShardService } from "../../proto/index.js";
import type { ShardPlacement } from "../placement/index.js";
import type { ShardReplica } from "../shard/shard-api.js";
import { RemoteShard } from "./remote-shard.js";

export interface ShardRouterOptions {
  readonly placement: ShardPlacement;
  /** This node's name (as registered). */
  readonly self: string;
  readonly shards: number;
  /** Opens this node's replica of a shard (called at most once per shard). */
  readonly openLocal: (shard: number) => Promise<ShardReplica>;
  readonly logger: Logger;
}

export class ShardRouter {
  readonly #options: ShardRouterOptions;
  readonly #local = new Map<number, Promise<ShardReplica>>();
  readonly #clients = new Map<string, Client>();
  readonly #ShardClient = loadPfsShardService().Client;

  constructor(options: ShardRouterOptions) {
    assert(options.shards >= 1, () => `shards ${options.shards}`);
    this.#options = options;
  }

  get shards(): number {
    return this.#options.shards;
  }

  /** The replica to call for `shard`, placing the shard first if it has no node yet. */
  async replica(shard: number): Promise<ShardReplica> {
    const owner = await this.#options.placement.ownerOf(shard);
    if (owner === this.#options.self) return this.#openLocal(shard);
    const address = this.#options.placement.addressOf(owner);
    if (address === undefined) {
      throw new PfsError("UNAVAILABLE",
        `shard ${shard} is on node ${owner}, which is not live; retry once it is back`);
    }
    return new RemoteShard(shard, this.#client(address), address);
  }

  /** Every shard's replica, in shard order. */
  async all(): Promise<ShardReplica[]> {
    const shards = Array.from({ length: this.#options.shards }, (_, shard) => shard);
    return Promise.all(shards.map((shard) => this.replica(shard)));
  }

  /** This node's replica of `shard`: FAILED_PRECONDITION unless the shard is placed here. */
  async local(shard: number): Promise<ShardReplica> {
    if (!Number.isSafeInteger(shard) || shard < 0 || shard >= this.#options.shards) {
      throw new PfsError("INVALID_ARGUMENT",
        `shard ${shard} is not in [0, ${this.#options.shards})`);
    }
    const owner = await this.#options.placement.ownerOf(shard);
    if (owner !== this.#options.self) {
      throw new PfsError("FAILED_PRECONDITION",
        `shard ${shard} is placed on node ${owner}, not on ${this.#options.self}`);
    }
    return this.#openLocal(shard);
  }

  #openLocal(shard: number): Promise<ShardReplica> {
    let opened = this.#local.get(shard);
    if (opened === undefined) {
      opened = this.#options.openLocal(shard);
      this.#local.set(shard, opened);
      opened.catch(() => { this.#local.delete(shard); });
    }
    return opened;
  }

  #client(address: string): Client {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = new this.#ShardClient(address, credentials.createInsecure(), {
        "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
        "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  /** Closes the channels and the local replicas. */
  async close(): Promise<void> {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
    const opened = [...this.#local.values()];
    this.#local.clear();
    for (const replica of await Promise.allSettled(opened)) {
      if (replica.status === "fulfilled") await replica.value.close();
    }
  }
}
