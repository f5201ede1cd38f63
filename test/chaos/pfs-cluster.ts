/**
 * The chaos harness's cluster: N real pfsd processes on loopback (startCluster from
 * test/support/member-cluster.ts: free ports, one data dir each in a temp dir removed by
 * `close`), every one an embedded Raft voter and a pfs node (`--pfs-address 127.0.0.1:0`, so
 * a node's pfs port changes on each restart and is re-read from its `/pfs/nodes/<name>`
 * record), with the replication flags (--replicas, --write-quorum, --master-lease-ttl,
 * --dead-time) on every node.
 *
 * What it can tell about the cluster, from the outside only: the Raft leader (each member's
 * Maintenance Status), a shard's master (the key with the lowest create revision under
 * `/pfs/election/shard-master/<shard>/`; its value is the node name), the replica map
 * (`/pfs/replica-map`), the offline records (`/pfs/node-health/`), which nodes hold a shard
 * (the replica map when one is stored, else the single-copy placement `/pfs/placement/<s>`),
 * and the files of a node's shard on disk (`<data-dir>/pfs/shard-<s>/{chunks,commits}`).
 *
 * Invariants: a node's cached pfs address is the one its running process registered (it is
 * re-read after every restart); only processes started here are ever signalled.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Client as GrpcClient, credentials } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs does not re-export replication (yet)
import {
  type ReplicaMap, ReplicaMapKeys, readOfflineRecords, readReplicaMap,
} from "../../pkg/pfs/replication/index.js";
import { loadPfsShardService } from "../../pkg/proto/index.js";
import { type ClusterMember, type MemberCluster, startCluster } from "../support/member-cluster.js";
import { addressOf } from "../e2e/pfs-crash-support.js";
import { PfsClient, type PfsdProcess, pfsAddresses, spawnPfsd } from "../e2e/pfs-api-support.js";
import { freePort } from "../compat/support/etcd-process.js";
import {
  clusterStartAttemptsMax, clusterStartRetryPauseMs, etcdCallDeadlineMs, nodeRestartMsMax,
} from "./limits.js";

/** The key root pfsd uses (metaRootDefault). */
export const pfsRoot = "/pfs";

export interface PfsClusterOptions {
  readonly nodes: number;
  readonly shards: number;
  readonly replicas: number;
  /** W; 0 lets pfsd take a majority of R. */
  readonly writeQuorum: number;
  readonly masterLeaseTtlSeconds: number;
  readonly deadTimeSeconds: number;
  /** More flags for every node. */
  readonly extraArgs?: readonly string[];
  /** Parent of the data dirs (default /dev/shm when there is one: fsync is free there). */
  readonly parentDir?: string;
}

/** The chaos tests' usual cluster: 5 nodes, 4 shards, R=3, W=2, 2 s leases, 6 s dead time. */
export const chaosClusterDefaults: PfsClusterOptions = {
  nodes: 5, shards: 4, replicas: 3, writeQuorum: 2, masterLeaseTtlSeconds: 2,
  deadTimeSeconds: 6,
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class PfsCluster {
  readonly #cluster: MemberCluster;
  readonly #etcd: Etcd3;
  readonly #addresses = new Map<string, string>();
  readonly #clients = new Map<string, PfsClient>();
  readonly #shardClients = new Map<string, GrpcClient>();
  readonly #keys = new ReplicaMapKeys(pfsRoot);
  /** Data dirs of nodes started outside the cluster (a joiner), by name. */
  readonly #adopted = new Map<string, string>();

  private constructor(cluster: MemberCluster, readonly options: PfsClusterOptions) {
    this.#cluster = cluster;
    this.#etcd = new Etcd3({
      hosts: cluster.members.map((member) => member.clientUrl),
      defaultCallOptions: (context) => context.isStream
        ? {} : { deadline: Date.now() + etcdCallDeadlineMs },
    });
  }

  /**
   * Starts the nodes; resolves once every one serves etcd and registered its pfs address. A
   * start that fails (on a loaded machine a member can miss startCluster's bound) is tried
   * again on fresh ports and dirs, up to clusterStartAttemptsMax times.
   */
  static async start(options: PfsClusterOptions): Promise<PfsCluster> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await PfsCluster.#startOnce(options);
      } catch (error: unknown) {
        if (attempt >= clusterStartAttemptsMax) throw error;
        await sleep(clusterStartRetryPauseMs);
      }
    }
  }

  static async #startOnce(options: PfsClusterOptions): Promise<PfsCluster> {
    const parentDir = options.parentDir ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
    const cluster = await startCluster({
      kind: "pfsd", size: options.nodes, ...(parentDir === undefined ? {} : { parentDir }),
      extraArgs: [
        "--pfs-address", "127.0.0.1:0", "--shards", String(options.shards),
        "--replicas", String(options.replicas), "--write-quorum", String(options.writeQuorum),
        "--master-lease-ttl", String(options.masterLeaseTtlSeconds),
        "--dead-time", String(options.deadTimeSeconds), "--log-level", "warn",
        ...(options.extraArgs ?? []),
      ],
    });
    const made = new PfsCluster(cluster, options);
    try {
      await pfsAddresses(made.etcdUrls, options.nodes, nodeRestartMsMax);
      for (const member of cluster.members) {
        made.#addresses.set(member.name, await addressOf(made.etcdUrls.join(","), member.name));
      }
    } catch (error: unknown) {
      await made.close();
      throw error;
    }
    return made;
  }

  get members(): readonly ClusterMember[] {
    return this.#cluster.members;
  }

  get names(): string[] {
    return this.#cluster.members.map((member) => member.name);
  }

  get etcdUrls(): string[] {
    return this.#cluster.members.map((member) => member.clientUrl);
  }

  /** A client of the whole cluster's store (closed by `close`). */
  get etcd(): Etcd3 {
    return this.#etcd;
  }

  member(name: string): ClusterMember {
    const member = this.#cluster.members.find((candidate) => candidate.name === name);
    if (member === undefined) throw new Error(`no node ${name}`);
    return member;
  }

  /** Names of the nodes whose process runs (stopped ones included). */
  running(): string[] {
    return this.#cluster.members.filter((member) => member.running).map((member) => member.name);
  }

  /** The pfs address `name` registered last. */
  address(name: string): string {
    const address = this.#addresses.get(name);
    if (address === undefined) throw new Error(`node ${name} has no pfs address`);
    return address;
  }

  /** A pfs.API client of `name`'s current address (made once per address). */
  client(name: string): PfsClient {
    const address = this.address(name);
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = new PfsClient(address);
      this.#clients.set(address, client);
    }
    return client;
  }

  /** A raw pfs.Shard client of `name`'s current address (made once per address). */
  shardClient(name: string): GrpcClient {
    const address = this.address(name);
    let client = this.#shardClients.get(address);
    if (client === undefined) {
      const Shard = loadPfsShardService().Client;
      client = new Shard(address, credentials.createInsecure(), {
        "grpc.max_receive_message_length": 16 * 1024 * 1024,
      });
      this.#shardClients.set(address, client);
    }
    return client;
  }

  async kill9(name: string): Promise<void> {
    await this.member(name).kill9();
  }

  /** SIGTERM (SIGKILL after the member's grace); resolves once it exited. */
  async terminate(name: string): Promise<void> {
    await this.member(name).stop();
  }

  sigstop(name: string): void {
    this.member(name).sigstop();
  }

  sigcont(name: string): void {
    this.member(name).sigcont();
  }

  /** Starts a stopped or killed node again on its data dir; resolves once it registered anew. */
  async restart(name: string): Promise<void> {
    const member = this.member(name);
    const stale = this.#addresses.get(name) ?? "";
    await member.restart();
    await member.waitServing(nodeRestartMsMax);
    this.#addresses.set(name, await addressOf(this.etcdUrls.join(","), name, stale));
  }

  /** The Raft leader's name, when a running member names one that answers too. */
  async raftLeader(): Promise<string | undefined> {
    const names = new Map<string, string>();
    const leaders: string[] = [];
    await Promise.all(this.#cluster.members.filter((member) => member.running)
      .map(async (member) => {
        const client = new Etcd3({ hosts: [member.clientUrl] });
        try {
          const status = await client.maintenance.status({ deadline: Date.now() + 2_000 });
          names.set(status.header.member_id, member.name);
          leaders.push(status.leader);
        } catch {
          // a member that does not answer names no leader
        } finally {
          client.close();
        }
      }));
    for (const leader of leaders) {
      const name = names.get(leader);
      if (name !== undefined) return name;
    }
    return undefined;
  }

  /** The master of `shard`: the value of the oldest key of its election; undefined if none. */
  async shardMaster(shard: number): Promise<string | undefined> {
    const response = await this.#etcd.getAll()
      .prefix(`${pfsRoot}/election/shard-master/${shard}/`).exec();
    let oldest: { revision: bigint; value: string } | undefined;
    for (const kv of response.kvs) {
      const revision = BigInt(kv.create_revision);
      if (oldest === undefined || revision < oldest.revision) {
        oldest = { revision, value: kv.value.toString("utf8") };
      }
    }
    return oldest?.value;
  }

  /** The stored replica map, undefined while none is (replication not running). */
  async replicaMap(): Promise<ReplicaMap | undefined> {
    return (await readReplicaMap(this.#etcd, this.#keys)).map;
  }

  /** Nodes with an offline record (offline or faulty), by the record's start time. */
  async offlineNodes(): Promise<Map<string, number>> {
    const records = await readOfflineRecords(this.#etcd, this.#keys);
    return new Map([...records].map(([node, record]) => [node, record.offlineSinceWallMs]));
  }

  /** The nodes holding `shard`: the replica map's, else the single-copy placement's. */
  async holders(shard: number): Promise<string[]> {
    const map = await this.replicaMap();
    if (map !== undefined) return [...(map.placement[shard] ?? [])];
    const node = await this.#etcd.get(`${pfsRoot}/placement/${shard}`).string();
    return node === null ? [] : [node];
  }

  /**
   * Starts a node `name` outside the cluster that joins it with `--join` (any member's client
   * URL), with the cluster's pfs flags, its data in `dataDir`; `adopt` makes it known here.
   */
  async spawnJoiner(name: string, dataDir: string): Promise<PfsdProcess> {
    const clientUrl = `http://127.0.0.1:${await freePort()}`;
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const options = this.options;
    return spawnPfsd([
      "--name", name, "--data-dir", dataDir,
      "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
      "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
      "--join", this.etcdUrls.join(","), "--pfs-address", "127.0.0.1:0",
      "--shards", String(options.shards), "--replicas", String(options.replicas),
      "--write-quorum", String(options.writeQuorum),
      "--master-lease-ttl", String(options.masterLeaseTtlSeconds),
      "--dead-time", String(options.deadTimeSeconds), "--log-level", "warn",
    ]);
  }

  /**
   * Makes a node started outside the cluster (a joiner) known by name: its pfs address (once
   * registered) and its data dir, for `client`, `holders` and the on-disk paths.
   */
  async adopt(name: string, dataDir: string): Promise<void> {
    this.#adopted.set(name, dataDir);
    this.#addresses.set(name, await addressOf(this.etcdUrls.join(","), name));
  }

  /** The directory of `name`'s replica of `shard`. */
  shardDir(name: string, shard: number): string {
    const dataDir = this.#adopted.get(name) ?? this.member(name).dataDir;
    return join(dataDir, "pfs", `shard-${shard}`);
  }

  /** Where `name` keeps the manifest of a finished commit of `shard`. */
  manifestPath(name: string, shard: number, repo: string, commit: string): string {
    return join(this.shardDir(name, shard), "commits", "manifests", repo, commit);
  }

  /** Where `name` keeps chunk `id` of `shard`. */
  chunkPath(name: string, shard: number, id: string): string {
    return join(this.shardDir(name, shard), "chunks", id.slice(0, 2), id.slice(2));
  }

  /** Restarts every node that is not running (continuing stopped ones first). */
  async healAll(): Promise<void> {
    for (const member of this.#cluster.members) member.sigcont();
    for (const member of this.#cluster.members) {
      if (!member.running) await this.restart(member.name);
    }
  }

  /** Waits `ms` (only e2e may sleep; this is e2e). */
  static sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  /** Closes every client, stops every node and removes the data dirs. */
  async close(): Promise<void> {
    for (const client of this.#clients.values()) client.close();
    for (const client of this.#shardClients.values()) client.close();
    this.#etcd.close();
    for (const member of this.#cluster.members) member.sigcont();
    await Promise.all(this.#cluster.members.map((member) => member.kill9()));
    await this.#cluster.stop();
  }
}
