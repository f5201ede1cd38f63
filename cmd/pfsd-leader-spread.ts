/**
 * Keeps the Raft leader and the shard masters on different nodes, when the cluster allows it
 * (issue 6's failover figure). A shard master's term lives on a lease; when the node that dies
 * is both a shard master and the Raft leader, the new Raft leader first takes an election
 * timeout to be elected, then gives every lease its full TTL again plus an election timeout
 * (etcd's lessor Promote, which we keep: clients could not renew during the election), and only
 * then can the dead master's lease lapse. Measured with `scripts/bench failover` (2 s lease):
 * ~2.3 s from kill -9 to the next commit when the master was not the Raft leader, 4.6–7 s when
 * it was. One failure should cost one failover, not two in series.
 *
 * So, on the embedded member only (pfs on an external etcd has no Raft leader of its own to
 * move): every `spreadCheckMs` the pfs node whose member is the Raft leader and masters at
 * least one shard looks for a voter whose pfs node is live, whose member answered the leader
 * within the last election timeout and that masters none, and hands Raft leadership to it
 * (etcd's MoveLeader: the target is caught up first, no write is lost, writes wait about one
 * election round). A leader change extends every lease (Promote), so a move while a dead
 * master's lease runs out would slow the very failover this is for. Hence a move needs the
 * masters to be *settled*: every shard has a master, every master's member answers the
 * leader, and no master changed for `spreadSettledMs`. A master killed just before a move is
 * seen dead within one election timeout, which bounds the harm to that window. At most one move
 * per `spreadPauseMs` from one node, so leadership does not bounce.
 *
 * The other half is in the pfs node: while its member leads, a node campaigns for shard
 * mastership only after the other live replicas had their turn, and leaves a master queue when
 * another node's candidate waits behind it (ShardHost's deferCampaign, set by pfsd), so it
 * seldom becomes a master in the first place; this loop mends what that cannot (leadership
 * landing on a master after a failure).
 *
 * Invariants: only the Raft leader moves leadership, only to an active voter, at most once per
 * `spreadPauseMs`, never within `spreadSettledMs` of a master change; when no voter is free
 * (e.g. 3 nodes mastering 4 shards) nothing moves.
 */
import type { EtcdMember, Member } from "../pkg/etcdserver/index.js";
import type { Logger, NodeId } from "../pkg/common/index.js";

/** How often the Raft leader looks whether it should hand leadership to a free voter. */
export const spreadCheckMs: number = 1_000;
/** The least time between two leadership moves by one node. */
export const spreadPauseMs: number = 10_000;
/**
 * How long the masters must stay the same (and all answer the Raft leader) before a move: a
 * failover in progress must not get a leader change, which would extend the dead lease. A
 * dead master stops answering within one election timeout (1 s by default), so a move can
 * only meet a failover that began less than that before it.
 */
export const spreadSettledMs: number = 2_000;

/** What the pfs node tells about masters: the directory (pkg/pfs/replication). */
export interface MasterView {
  readonly shards: number;
  masterOf(shard: number): string | undefined;
  addressOf(node: string): string | undefined;
}

export type SpreadMember = Pick<EtcdMember, "memberId" | "memberList" | "raftStatus" |
  "moveLeader" | "activePeers">;

/** True while `member` is the Raft leader (its own view; cheap). */
export function leadsRaft(member: Pick<EtcdMember, "memberId" | "raftStatus">): boolean {
  return member.raftStatus().leader === member.memberId;
}

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
  /** The members that answered the Raft leader within the last election timeout. */
  readonly active: readonly NodeId[];
}

/**
 * True when every shard has a master and every master is `self` or a member that answers the
 * leader: no failover is under way that a leader change would slow.
 */
export function mastersSettled(input: SpreadInput): boolean {
  const activeNames = new Set(input.members.filter((member) => input.active.includes(member.id))
    .map((member) => member.name));
  return input.masters.every((master) => master !== undefined &&
    (master === input.self || activeNames.has(master)));
}

/**
 * The voter to hand Raft leadership to, or undefined to stay: the masters are settled (above),
 * this node masters a shard, and some other active voter with a live pfs node masters none
 * (the lowest name of those, so that every check picks the same one). Pure; the caller checks
 * that this member leads and how long the masters have been settled.
 */
export function spreadTarget(input: SpreadInput): NodeId | undefined {
  if (!mastersSettled(input) || !input.masters.includes(input.self)) return undefined;
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
  readonly #timer: NodeJS.Timeout;
  #check: Promise<void> = Promise.resolve();
  #checking = false;
  #lastMoveMs = -Infinity;
  /** The masters last seen (shard order, "-" for none) and since when they are settled. */
  #masters = "";
  #settledSinceMs = Infinity;
  #closed = false;

  constructor(member: SpreadMember, view: MasterView, self: string, logger: Logger) {
    this.#member = member;
    this.#view = view;
    this.#self = self;
    this.#logger = logger;
    this.#timer = setInterval(() => { this.#schedule(); }, spreadCheckMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#check;
  }

  #schedule(): void {
    if (this.#closed || this.#checking) return;
    if (!leadsRaft(this.#member)) {
      this.#settledSinceMs = Infinity;
      return;
    }
    this.#checking = true;
    this.#check = this.#run().finally(() => { this.#checking = false; });
  }

  async #run(): Promise<void> {
    try {
      const view = this.#view;
      const masters = Array.from({ length: view.shards }, (_, shard) => view.masterOf(shard));
      const input: SpreadInput = {
        self: this.#self, members: await this.#member.memberList(), masters,
        live: (name) => view.addressOf(name) !== undefined, active: this.#member.activePeers(),
      };
      const now = Date.now();
      const seen = masters.map((master) => master ?? "-").join(",");
      if (seen !== this.#masters || !mastersSettled(input)) this.#settledSinceMs = Infinity;
      else if (this.#settledSinceMs === Infinity) this.#settledSinceMs = now;
      this.#masters = seen;
      if (now - this.#settledSinceMs < spreadSettledMs) return;
      if (now - this.#lastMoveMs < spreadPauseMs) return;
      const target = spreadTarget(input);
      if (target === undefined || this.#closed) return;
      this.#lastMoveMs = now;
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
