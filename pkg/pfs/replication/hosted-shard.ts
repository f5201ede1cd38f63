/**
 * `HostedShard`: this node's replica of one shard as the rest of the cluster sees it (DESIGN.md
 * §4): reads, chunk transfers, manifest installs and aborts go straight to the local replica;
 * writes to open commits and finishes are accepted only while this replica is the shard's
 * elected master, and the master's rules are kept here:
 *
 * - **Staged-on marks.** The first write of a commit on a shard records, in one transaction
 *   fenced by the master's term, `<root>/staged-on/<repo>/<id>/<shard>` = this replica's
 *   identity (node name and data-dir incarnation). Open-commit data has one copy, in the staging
 *   log of the replica that took it; a master elsewhere finds the mark naming another replica:
 *   that data is out of its reach (its node died or was deposed), so it refuses the write
 *   (FAILED_PRECONDITION) and the finish, and the commit never finishes without data it
 *   acknowledged. A master restarted on the same data dir keeps its staging logs (they are
 *   fsynced), so it may go on with the commits its previous run took.
 * - **Eager push.** A put's stream is cut into chunks as it passes (as the local replica cuts
 *   it), and the chunks of every recorded entry are offered too, to an `EagerPusher`
 *   (eager-push.ts), which pushes them to the other replicas in the background while the
 *   commit is still open; the user's write never waits for it nor fails because of it. A
 *   finish drops what is still queued and copies what the replicas lack itself.
 * - **Finish** seals the local part (or finds it sealed already, e.g. pushed here by the master
 *   before this one), pushes the chunks and the manifest to the other replicas of the map, waits
 *   for W fsynced acknowledgements counting its own (W capped at the replicas the map has, so an
 *   under-replicated shard keeps working), and returns its fence; the API marks the commit
 *   finished in a transaction that compares every sealing master's fence (meta-store.ts), so a
 *   master deposed meanwhile finishes nothing.
 * - **Confirmed terms.** A master acknowledges a write only while the store renewed its
 *   node's master session lease (master-session.ts) less than one master lease TTL ago. A
 *   master stopped past its lease (SIGSTOP) and resumed refuses at once, before any watch has
 *   told it; safety does not rest on this clock check (the fences and staged-on marks do), it
 *   only keeps a deposed master from acknowledging what can never finish.
 */
import type { Etcd3 } from "etcd3";
import { type Clock, type Logger, PfsError } from "../../common/index.js";
import { type ChunkingOptions, defaultChunking } from "../chunk/index.js";
import { MetaKeys } from "../meta/index.js";
import type { ChunkRef, CommitId, FileEntry, Sha256Hex } from "../model.js";
import type {
  ShardByteRange, ShardCommit, ShardDeleteOptions, ShardDirectoryChild, ShardFileChange,
  ShardFinishResult, ShardReplica,
} from "../shard/shard-api.js";
import { EagerPusher, type EagerPushStats } from "./eager-push.js";
import type { Fence } from "./leader-term.js";
import { electionSettleMs, electionSettlePollMs, stagedMarksMax } from "./limits.js";

/** The master's term as the host knows it: the fence and when the store last confirmed it. */
export interface MasterStanding {
  readonly fence: Fence;
  /** Monotonic ms (Clock.nowMs) of the last confirmation. */
  readonly confirmedMs: number;
}

/** Copies a sealed commit to peers; resolves with who acknowledged (transfer.ts). */
export type ReplicateCommit = (source: ShardReplica,
  peers: readonly { readonly node: string; readonly replica: ShardReplica }[],
  commit: ShardCommit, acksNeeded: number) => Promise<string[]>;

export interface HostedShardOptions {
  readonly client: Etcd3;
  readonly root: string;
  readonly node: string;
  /** This replica's identity in staged-on marks: node name and data-dir incarnation. */
  readonly identity: string;
  readonly local: ShardReplica;
  /** The term while this replica is master; undefined otherwise. */
  readonly standing: () => MasterStanding | undefined;
  /**
   * True while this node's watch of the shard's election names this node or nobody: a router
   * whose watch is ahead may have sent a write here before this node's campaign returned.
   */
  readonly mayBeElectedHere: () => boolean;
  /** The other replicas the map places this shard on that are live now. */
  readonly peers: () => { readonly node: string; readonly replica: ShardReplica }[];
  /** How many replicas the map places this shard on now (this one included). */
  readonly mapped: () => number;
  /** W: acknowledgements a finish waits for, this replica's own included. */
  readonly writeQuorum: number;
  /** A term confirmed longer ago than this (ms) acknowledges nothing: the master lease TTL. */
  readonly confirmStaleMs: number;
  readonly replicate: ReplicateCommit;
  /**
   * How the local replica cuts files, so the eager push cuts a put's stream alike; the
   * cluster's (defaultChunking) by default, which pfsd's replicas use.
   */
  readonly chunking?: ChunkingOptions;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class HostedShard implements ShardReplica {
  readonly shard: number;
  readonly #options: HostedShardOptions;
  readonly #local: ShardReplica;
  readonly #keys: MetaKeys;
  /** `<token>/<repo>/<id>` of the commits whose staged-on mark this term wrote or checked. */
  readonly #staged = new Set<string>();
  /** Pushes the chunks of acknowledged puts to the peers ahead of the finish. */
  readonly #eager: EagerPusher;

  constructor(options: HostedShardOptions) {
    this.shard = options.local.shard;
    this.#options = options;
    this.#local = options.local;
    this.#keys = new MetaKeys(options.root);
    this.#eager = new EagerPusher({ source: options.local, peers: options.peers,
      chunking: options.chunking ?? defaultChunking, clock: options.clock,
      logger: options.logger });
  }

  /** What the eager push did so far (tests, the benchmark). */
  get eagerPushStats(): EagerPushStats {
    return this.#eager.stats;
  }

  /** Resolves once no eager push is under way (tests). */
  eagerPushIdle(): Promise<void> {
    return this.#eager.idle();
  }

  /**
   * The term, refusing when there is none or it is not confirmed recently enough. When the
   * election may already name this node but its campaign has not returned yet (it reads its key
   * back and re-checks it is up to date; the router's watch may be ahead of this node's), waits
   * for it a little: routers follow the election.
   */
  async #awaitMaster(): Promise<Fence> {
    if (this.#options.standing() === undefined && this.#options.mayBeElectedHere()) {
      const deadline = this.#options.clock.nowMs() + electionSettleMs;
      while (this.#options.standing() === undefined && this.#options.mayBeElectedHere() &&
        this.#options.clock.nowMs() < deadline) {
        await this.#options.clock.sleep(electionSettlePollMs);
      }
    }
    return this.#requireMaster();
  }

  /** The term, refusing when there is none or it is not confirmed recently enough. */
  #requireMaster(): Fence {
    const standing = this.#options.standing();
    const where = `node ${this.#options.node} is not the master of shard ${this.shard}`;
    if (standing === undefined) {
      throw new PfsError("UNAVAILABLE", `${where}; retry on the current master`,
        { shard: this.shard });
    }
    const staleMs = this.#options.clock.nowMs() - standing.confirmedMs;
    if (staleMs > this.#options.confirmStaleMs) {
      throw new PfsError("UNAVAILABLE", `node ${this.#options.node} has not confirmed its term ` +
        `as master of shard ${this.shard} for ${Math.round(staleMs)} ms; it may be deposed`,
      { shard: this.shard });
    }
    return standing.fence;
  }

  /** Refuses unless the term that took a write is still the confirmed one. */
  #stillMaster(fence: Fence): void {
    const now = this.#requireMaster();
    if (now.key !== fence.key || now.revision !== fence.revision) {
      throw new PfsError("UNAVAILABLE", `shard ${this.shard}'s master term ended during the ` +
        "write; the write is not acknowledged", { shard: this.shard });
    }
  }

  /** Makes sure the staged-on mark of `commit` names this term (see the module comment). */
  async #stage(commit: ShardCommit): Promise<Fence> {
    const fence = await this.#awaitMaster();
    const mark = `${fence.revision}/${commit.repo}/${commit.id}`;
    if (this.#staged.has(mark)) return fence;
    const { client } = this.#options;
    const key = this.#keys.stagedOn(commit.repo, commit.id, this.shard);
    const token = fence.revision.toString();
    const identity = this.#options.identity;
    const outcome = await client.if(fence.key, "Create", "==", token)
      .and(key, "Create", "==", 0)
      .then(client.put(key).value(identity))
      .else(client.get(key), client.get(fence.key))
      .commit()
      .catch((error: unknown) => {
        throw new PfsError("UNAVAILABLE", `cannot mark commit ${commit.repo}@${commit.id} as ` +
          `staged on shard ${this.shard}: ${error instanceof Error ? error.message : String(error)}`);
      });
    if (!outcome.succeeded) {
      const marked = outcome.responses[0]?.response_range.kvs[0]?.value.toString("utf8");
      const held = outcome.responses[1]?.response_range.kvs[0]?.create_revision;
      if (held === undefined || BigInt(held) !== fence.revision) {
        throw new PfsError("UNAVAILABLE", `node ${this.#options.node} lost its term as master ` +
          `of shard ${this.shard}; retry on the current master`, { shard: this.shard });
      }
      if (marked !== identity) throw this.#lostStagedData(commit, marked);
    }
    if (this.#staged.size >= stagedMarksMax) this.#staged.clear();
    this.#staged.add(mark);
    return fence;
  }

  #lostStagedData(commit: ShardCommit, marked: string | undefined): PfsError {
    return new PfsError("FAILED_PRECONDITION", `commit ${commit.repo}@${commit.id} staged data ` +
      `on shard ${this.shard} with another master (${marked ?? "?"}), which is no longer ` +
      "master; open-commit data has one copy, so this commit cannot finish: delete it and " +
      "write again",
    { repo: commit.repo, commit: commit.id, shard: this.shard });
  }

  // ---- writes: master only -------------------------------------------------------------

  async putFile(commit: ShardCommit, parent: CommitId, path: string,
    data: AsyncIterable<Uint8Array>, options?: { readonly append?: boolean }): Promise<FileEntry> {
    const fence = await this.#stage(commit);
    const entry = await this.#local.putFile(commit, parent, path, this.#eager.tee(data), options);
    this.#stillMaster(fence);
    this.#eager.offer(entry.chunks);
    return entry;
  }

  async putEntry(commit: ShardCommit, path: string, entry: FileEntry): Promise<FileEntry> {
    const fence = await this.#stage(commit);
    const recorded = await this.#local.putEntry(commit, path, entry);
    this.#stillMaster(fence);
    this.#eager.offer(recorded.chunks);
    return recorded;
  }

  async deleteFile(commit: ShardCommit, path: string, options?: ShardDeleteOptions):
    Promise<number> {
    const fence = await this.#stage(commit);
    const count = await this.#local.deleteFile(commit, path, options);
    this.#stillMaster(fence);
    return count;
  }

  async finishCommit(commit: ShardCommit, parent: CommitId): Promise<ShardFinishResult> {
    const fence = await this.#awaitMaster();
    if (!(await this.#local.hasCommit(commit))) {
      const key = this.#keys.stagedOn(commit.repo, commit.id, this.shard);
      const marked = await this.#options.client.get(key).string().catch((error: unknown) => {
        const detail = error instanceof Error ? error.message : String(error);
        throw new PfsError("UNAVAILABLE", `cannot read ${key}: ${detail}`);
      });
      if (marked !== null && marked !== this.#options.identity) {
        throw this.#lostStagedData(commit, marked);
      }
    }
    const sealed = await this.#local.finishCommit(commit, parent);
    // What is still queued is this commit's (the copy below pushes what the peers lack) or
    // another open commit's (its own finish will): pushing it from two places wastes the link.
    this.#eager.clear();
    const peers = this.#options.peers();
    const quorum = Math.min(this.#options.writeQuorum, Math.max(1, this.#options.mapped()));
    const acked = await this.#options.replicate(this.#local, peers, commit, quorum - 1);
    this.#stillMaster(fence);
    this.#staged.delete(`${fence.revision}/${commit.repo}/${commit.id}`);
    this.#options.logger.debug("commit sealed and replicated", {
      shard: this.shard, repo: commit.repo, commit: commit.id, acked, quorum,
    });
    return {
      files: sealed.files, sizeBytes: sealed.sizeBytes,
      fence: { key: fence.key, revision: Number(fence.revision) },
    };
  }

  // ---- the rest: this replica, whoever is master --------------------------------------

  abortCommit(commit: ShardCommit): Promise<void> {
    return this.#local.abortCommit(commit);
  }

  deleteRepo(repo: string): Promise<void> {
    return this.#local.deleteRepo(repo);
  }

  inspectFile(commit: ShardCommit, path: string): Promise<FileEntry> {
    return this.#local.inspectFile(commit, path);
  }

  getFile(commit: ShardCommit, path: string, range?: ShardByteRange): AsyncIterable<Uint8Array> {
    return this.#local.getFile(commit, path, range);
  }

  listDirectory(commit: ShardCommit, directory: string): Promise<ShardDirectoryChild[]> {
    return this.#local.listDirectory(commit, directory);
  }

  glob(commit: ShardCommit, pattern: string): Promise<FileEntry[]> {
    return this.#local.glob(commit, pattern);
  }

  walk(commit: ShardCommit, directory: string): AsyncIterable<FileEntry> {
    return this.#local.walk(commit, directory);
  }

  diff(commit: ShardCommit, base: CommitId, directory: string): Promise<ShardFileChange[]> {
    return this.#local.diff(commit, base, directory);
  }

  missingChunks(ids: readonly Sha256Hex[]): Promise<Sha256Hex[]> {
    return this.#local.missingChunks(ids);
  }

  readChunk(id: Sha256Hex): Promise<Uint8Array> {
    return this.#local.readChunk(id);
  }

  putChunks(chunks: readonly { readonly ref: ChunkRef; readonly bytes: Uint8Array }[]):
    Promise<void> {
    return this.#local.putChunks(chunks);
  }

  hasCommit(commit: ShardCommit): Promise<boolean> {
    return this.#local.hasCommit(commit);
  }

  readManifest(commit: ShardCommit): Promise<Uint8Array> {
    return this.#local.readManifest(commit);
  }

  installManifest(commit: ShardCommit, manifest: Uint8Array): Promise<void> {
    return this.#local.installManifest(commit, manifest);
  }

  collectGarbage(): Promise<{ readonly chunksFreed: number; readonly bytesFreed: number }> {
    return this.#local.collectGarbage();
  }

  /**
   * Stops the eager pushes (waiting for the ones under way); the host owns the local replica
   * and closes it.
   */
  async close(): Promise<void> {
    await this.#eager.close();
  }
}
