/**
 * Keeps the Raft leader and the shard masters on different nodes, when the cluster allows it
 * (issue 6's failover figure). A shard master's term lives on a lease; when the node that dies
 * is both a shard master and the Raft leader, the new Raft leader first takes an election
 * timeout to be elected, then gives every lease its full TTL again plus an election timeout
 * (etcd's lessor Promote, which we keep: clients could not renew during the election), and only
 * then can the dead master's lease lapse. Measured with `scripts/bench failover` (2 s lease):
 * ~2.5 s from kill -9 to the next commit when the master was not the Raft leader, 5.5–7 s when
 * it was. One failure should cost one failover, not two in series.
 *
 * So, on the embedded member only (pfs on an external etcd has no Raft leader of its own to
 * move): every `spreadCheckMs`, and whenever a shard's master changes, the pfs node whose member
 * is the Raft leader and masters at least one shard looks for a voter whose pfs node is live,
 * whose member answered the leader within the last election timeout (so not a node that just
 * died, whose records have not lapsed yet) and that masters none, and hands Raft leadership to
 * it (etcd's MoveLeader: the target is caught up
 * first, no write is lost, a write may wait one round trip). It never moves leadership while a
 * shard has no master or after a move within `spreadPauseMs`: a leader change while a dead
 * master's lease is running out would extend that lease (Promote) and slow the very failover
 * this is for; and two moves in a row would be churn.
 *
 * Invariants: only the Raft leader moves leadership, only to a voter, at most once per
 * `spreadPauseMs`; when no voter is free (e.g. 3 nodes mastering 4 shards) nothing moves.
 */
import type { EtcdMember, Member } from "../pkg/etcdserver/index.js";
import type { Logger, NodeId } from "../pkg/common/index.js";

/** How often the Raft leader looks whether it should hand leadership to a free voter. */
export const spreadCheckMs: number = 1_000;
/** The least time between two leadership moves by one node. */
export const spreadPauseMs: number = 10_000;

/** What the pfs node tells about masters: the directory (pkg/pfs/replication). */
export interface MasterView {
  readonly shards: number;
  masterOf(shard: number): string | undefined;
  addressOf(node: string): string | undefined;
  onChange(listener: () => void): () => void;
}

export type SpreadMember = Pick<EtcdMember, "memberId" | "memberList" | "raftStatus" |
  "moveLeader" | "activeVoters">;

/** What `spreadTarget` decides from. */
export interface SpreadInput {
  /** This node's (and member's) name. */
  readonly self: string;
  /** The cluster's members. */
  readonly members: readonly Pick<Member, "id" | "name" | "isLearner">[];
  /** Every shard's master, undefined while a shard has none. */
  readonly masters: readonly (string | undefined)[];
  /** True when the pfs node `name` is registered (its node record's lease is live). */
  readonly live: (name: string) => boolean;
  /** The voters that answered the Raft leader within the last election timeout. */
  readonly active: readonly NodeId[];
}

/**
 * The voter to hand Raft leadership to, or undefined to stay: this node masters a shard, every
 * shard has a master, and some other active voter with a live pfs node masters none (the
 * lowest name of those, so that every check picks the same one). Pure; the caller checks that
 * this member leads.
 */
export function spreadTarget(input: SpreadInput): NodeId | undefined {
  if (input.masters.some((master) => master === undefined)) return undefined;
  if (!input.masters.includes(input.self)) return undefined;
  const free = input.members
    .filter((member) => !member.isLearner && member.name !== "" && member.name !== input.self &&
      !input.masters.includes(member.name) && input.live(member.name) &&
      input.active.includes(member.id))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return free[0]?.id;
}

/** The loop (see the module comment). `close()` stops it and waits for a running check. */
export class LeaderSpread {
  readonly #member: SpreadMember;
  readonly #view: MasterView;
  readonly #self: string;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  #check: Promise<void> = Promise.resolve();
  #checking = false;
  #lastMoveMs = -Infinity;
  #closed = false;

  constructor(member: SpreadMember, view: MasterView, self: string, logger: Logger) {
    this.#member = member;
    this.#view = view;
    this.#self = self;
    this.#logger = logger;
    this.#timer = setInterval(() => { this.#schedule(); }, spreadCheckMs);
    this.#timer.unref();
    this.#unsubscribe = view.onChange(() => { this.#schedule(); });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
    await this.#check;
  }

  #schedule(): void {
    if (this.#closed || this.#checking) return;
    if (Date.now() - this.#lastMoveMs < spreadPauseMs) return;
    if (this.#member.raftStatus().leader !== this.#member.memberId) return;
    this.#checking = true;
    this.#check = this.#run().finally(() => { this.#checking = false; });
  }

  async #run(): Promise<void> {
    try {
      const view = this.#view;
      const masters = Array.from({ length: view.shards }, (_, shard) => view.masterOf(shard));
      const target = spreadTarget({
        self: this.#self, members: await this.#member.memberList(), masters,
        live: (name) => view.addressOf(name) !== undefined, active: this.#member.activeVoters(),
      });
      if (target === undefined || this.#closed) return;
      this.#lastMoveMs = Date.now();
      const mastered = masters.flatMap((master, shard) => (master === this.#self ? [shard] : []));
      this.#logger.info("moving Raft leadership off this shard master", {
        to: target.toString(16), shardsMastered: mastered,
      });
      await this.#member.moveLeader(target);
    } catch (error: unknown) {
      this.#logger.warn("cannot move Raft leadership", { error });
    }
  }
}
