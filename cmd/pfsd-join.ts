/**
 * `pfsd --join URL,…` (issue 6): a new pfsd pointed at any running member joins its cluster as
 * a Raft learner, catches up, and is promoted to a voter while the cluster has fewer than
 * raftVotersMax voters; beyond that it stays a learner (and still hosts pfs replicas).
 *
 * Joining (`joinedConfig`), before the embedded member starts:
 * - A data directory that already holds a member (its identity file, written before the
 *   member's first Raft step) wins: --join is ignored and the member restarts as itself, as
 *   etcd lets its data dir win over --initial-cluster.
 * - Otherwise pfsd asks the given members (an etcd3 client with the node's client TLS) for the
 *   member list and adds itself as a learner with its advertised peer URLs. A member that
 *   already has those peer URLs and has not started is reused (an earlier attempt died after
 *   the add), so a retry never adds a second member. A name taken by another member, or peer
 *   URLs of a member that already started elsewhere (its data is not in this data dir, and a
 *   member ID is never reused after its data is lost), are refused with a ConfigError.
 * - The member then starts with `--initial-cluster-state existing` and an --initial-cluster of
 *   the cluster's bootstrap members plus itself. The embedded member derives its cluster ID
 *   from the bootstrap members and --initial-cluster-token (member-bootstrap.ts), so the
 *   bootstrap members are the listed ones whose IDs hash from their peer URLs and the token,
 *   and their cluster ID must equal the one the cluster answers with; a different token (or a
 *   bootstrap member removed since) is refused with a clear error instead of a 60 s wait.
 * - A marker `<data-dir>/pfs-join.json` (the --join URLs) records that this node joined, so a
 *   restart without --join still runs the promotion loop; it is written durably once the
 *   member add went through, before the member starts.
 *
 * Promotion (`LearnerPromotion`): every promoteIntervalMs, while this member is a learner, it
 * takes a lock in the cluster (so two learners never both see room for one more voter), reads
 * the member list through the same voter the lock went through (which has therefore applied
 * every earlier promotion), and promotes itself when there are fewer than raftVotersMax voters
 * and its applied index is at least promoteInSyncPercentMin percent of that voter's commit
 * index (etcd's own readiness rule for a learner; our embedded member does not check it).
 *
 * Learners refuse most client requests ("etcdserver: rpc not supported for learner", as etcd
 * 3.4), so the pfs node of a learner talks to the voters' client URLs (`pfsEtcdEndpoints`).
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Etcd3, type IOptions } from "etcd3";
import {
  ConfigError, PfsError, assert, type InitialMember, type Logger, type NodeId, type PfsdConfig,
  type Result, deepFreeze, err, limits, nodeId, ok,
} from "../pkg/common/index.js";
import {
  type EtcdMember, type Member, computeClusterId, computeMemberId,
} from "../pkg/etcdserver/index.js";
// eslint-disable-next-line pfs/boundaries -- the data-dir layout alone, to see a member's there
import { memberDirs } from "../pkg/etcdserver/server/member-bootstrap.js";
// eslint-disable-next-line pfs/boundaries -- the durable-write steps alone (no pfs is loaded)
import { makeDirDurable, publishTemporary, writeTemporary } from "../pkg/pfs/durable-fs.js";

/** Most voting members a joining node promotes itself into (DESIGN.md §1: up to 5 voters). */
export const raftVotersMax = 5;
/** Deadline of each call of the join exchange (a dead member fails it this fast). */
export const joinCallDeadlineMs = 5_000;
/**
 * Deadline of the member add, longer than the server may take to answer it: two Raft
 * proposals (the member record, then the conf change) and, when the conf change is refused, a
 * third that removes the record again, each allowed raftRequestTimeoutMs, after a wait for a
 * leader. A shorter deadline let the etcd3 client (which retries a DEADLINE_EXCEEDED call on
 * another member) send a second add while the first was still running: the second was refused
 * ("Peer URLs already exists"), the next join try reused the record, and the first add's
 * refused conf change then removed that record: the joiner waited forever for a leader that
 * never had it in its configuration. With this deadline the client sees the server's own
 * answer, after which the record and the configuration agree.
 */
export const memberAddDeadlineMs = 30_000;
/** Tries of the whole join exchange before pfsd gives up (a leader election may be on). */
export const joinAttemptsMax = 3;
/** Pause between tries of the join exchange. */
export const joinRetryDelayMs = 1_000;
/** How often a learner checks whether it can be promoted. */
export const promoteIntervalMs = 1_000;
/** A learner is in sync once its applied index reaches this share of a voter's commit index. */
export const promoteInSyncPercentMin = 90;
/** TTL of the promotion lock's lease: a learner that dies holding it blocks others this long. */
export const promoteLockTtlSeconds = 10;
/** How long a starting learner waits to see itself and the voters in its own member list. */
export const learnerEndpointsWaitMs = 15_000;
/** Key prefix of the promotion lock (under pfs's default root). */
export const promoteLockKey = "/pfs/join/promote-lock";
/** The marker file in the data directory of a node that joined with --join. */
export const joinMarkerFile = "pfs-join.json";

assert(memberAddDeadlineMs > 3 * limits.raftRequestTimeoutMs,
  "a member add's client deadline must outlast the server's three proposals");

/** The TLS of the node's etcd clients, as etcd3 takes it (cmd/pfsd.ts builds it). */
export type JoinClientTls = IOptions["credentials"];

/** What the cluster answered: its ID and members. */
export interface ClusterView {
  readonly clusterId: bigint;
  readonly members: readonly Member[];
}

function etcdClient(hosts: readonly string[], tls: JoinClientTls): Etcd3 {
  return new Etcd3({
    hosts: [...hosts],
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + joinCallDeadlineMs },
    ...(tls === undefined ? {} : { credentials: tls }),
  });
}

/** Whether `dataDir` already holds a member (its identity file exists). */
export async function holdsMember(dataDir: string): Promise<boolean> {
  try {
    await stat(memberDirs(dataDir).identityFile);
    return true;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join(",") === [...b].sort().join(",");
}

/**
 * Decides how `name` with `peerUrls` joins `members`: the ID of an unstarted member with
 * those peer URLs to reuse, undefined to add a new learner, or a ConfigError.
 */
export function planJoin(members: readonly Member[], name: string,
  peerUrls: readonly string[]): Result<NodeId | undefined, ConfigError> {
  assert(peerUrls.length > 0, "a joining member advertises peer URLs");
  const named = members.find((member) => member.name === name);
  if (named !== undefined && !sameUrls(named.peerUrls, peerUrls)) {
    return err(new ConfigError("--name", `${JSON.stringify(name)} is already the name of ` +
      `member ${named.id.toString(16)} with peer URLs ${named.peerUrls.join(",")}`));
  }
  const holder = members.find((member) => member.peerUrls.some((url) => peerUrls.includes(url)));
  if (holder === undefined) return ok(undefined);
  if (!sameUrls(holder.peerUrls, peerUrls)) {
    return err(new ConfigError("--initial-advertise-peer-urls", `member ` +
      `${holder.id.toString(16)} already has peer URLs ${holder.peerUrls.join(",")}`));
  }
  if (holder.name !== "") {
    return err(new ConfigError("--data-dir", `member ${holder.id.toString(16)} ` +
      `(${holder.name}) with these peer URLs has started, but its data is not in this data ` +
      "directory; remove it from the cluster first (etcdctl member remove)"));
  }
  return ok(holder.id);
}

/**
 * The --initial-cluster of a joiner: the cluster's bootstrap members (those whose IDs hash
 * from their peer URLs and `token`) and `self`. Fails unless those members make `clusterId`.
 */
export function joinInitialCluster(view: ClusterView, self: InitialMember,
  token: string): Result<readonly InitialMember[], ConfigError> {
  const bootstrap = view.members.filter((member) => member.peerUrls.length > 0 &&
    member.id === computeMemberId(member.peerUrls, token));
  const made = bootstrap.length === 0
    ? undefined : computeClusterId(bootstrap.map((member) => member.id));
  if (made !== view.clusterId) {
    return err(new ConfigError("--initial-cluster-token", `${JSON.stringify(token)} does not ` +
      `give cluster ${view.clusterId.toString(16)}'s ID from its members; give the token the ` +
      "cluster was created with (the joiner cannot join a cluster whose first members were " +
      "all removed)"));
  }
  return ok([...bootstrap.map((member) => ({ name: member.name, peerUrls: member.peerUrls })),
    self]);
}

interface WireMember {
  readonly ID: string;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner?: boolean;
}

function listedMember(wire: WireMember): Member {
  return {
    id: nodeId(BigInt(wire.ID)), name: wire.name, peerUrls: wire.peerURLs.map(origin),
    clientUrls: wire.clientURLs.map(origin), isLearner: wire.isLearner === true,
  };
}

/** A URL as the config parser keeps it (`new URL(...).origin`). */
function origin(url: string): string {
  return new URL(url).origin;
}

/** The member list of the cluster `client` reaches. */
export async function clusterView(client: Etcd3): Promise<ClusterView> {
  const response = await client.cluster.memberList({});
  return {
    clusterId: BigInt(response.header.cluster_id),
    members: response.members.map((member) => listedMember(member as WireMember)),
  };
}

/** Writes `text` to `file` durably: a fsynced temporary renamed over it, then the dir's fsync. */
async function writeDurably(file: string, text: string): Promise<void> {
  await makeDirDurable(dirname(file));
  await publishTemporary(await writeTemporary(file, new TextEncoder().encode(text)), file);
}

/** The --join URLs recorded in `dataDir`'s marker; empty when the node never joined. */
export async function joinedThrough(dataDir: string): Promise<readonly string[]> {
  let text: string;
  try {
    text = await readFile(join(dataDir, joinMarkerFile), "utf8");
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const damaged = new ConfigError("--data-dir", `${join(dataDir, joinMarkerFile)} is damaged`);
  let urls: unknown;
  try {
    urls = (JSON.parse(text) as { join?: unknown }).join;
  } catch {
    throw damaged;
  }
  if (!Array.isArray(urls) || !urls.every((url): url is string => typeof url === "string")) {
    throw damaged;
  }
  return urls;
}

/**
 * One try of the join exchange: the member list, every check, then the add (or the reuse).
 * Everything that can refuse the join does so before the add, so a refusal changes nothing.
 */
async function joinOnce(config: PfsdConfig, tls: JoinClientTls,
  logger: Logger): Promise<PfsdConfig> {
  const client = etcdClient(config.join, tls);
  try {
    const view = await clusterView(client);
    const peerUrls = config.initialAdvertisePeerUrls;
    const planned = planJoin(view.members, config.name, peerUrls);
    if (!planned.ok) throw planned.error;
    const initialCluster = joinInitialCluster(view, { name: config.name, peerUrls },
      config.initialClusterToken);
    if (!initialCluster.ok) throw initialCluster.error;
    if (planned.value === undefined) {
      const added = await client.cluster.memberAdd({ peerURLs: [...peerUrls], isLearner: true },
        { deadline: Date.now() + memberAddDeadlineMs });
      logger.info("added this node to the cluster as a learner", {
        memberId: BigInt(added.member.ID).toString(16), join: config.join,
      });
    } else {
      logger.info("reusing this node's unstarted member from an earlier join", {
        memberId: planned.value.toString(16),
      });
    }
    return deepFreeze({
      ...config, initialCluster: initialCluster.value, initialClusterState: "existing" as const,
    });
  } finally {
    client.close();
  }
}

/**
 * The configuration the embedded member starts with: `config` itself without --join or when
 * the data dir already holds a member; else, after adding this node to the cluster as a
 * learner (or reusing its unstarted member), `config` with the cluster's --initial-cluster
 * and `existing`. Rejects with ConfigError for a refused join (see planJoin and
 * joinInitialCluster), and with UNAVAILABLE when no given member answered in joinAttemptsMax
 * tries; the cluster is then unchanged unless the add itself went through (a retry reuses it).
 */
export async function joinedConfig(config: PfsdConfig, tls: JoinClientTls,
  logger: Logger): Promise<PfsdConfig> {
  if (config.join.length === 0) return config;
  if (await holdsMember(config.dataDir)) {
    logger.info("the data directory holds a member; ignoring --join", {
      dataDir: config.dataDir,
    });
    return config;
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= joinAttemptsMax; attempt++) {
    try {
      const joined = await joinOnce(config, tls, logger);
      await writeDurably(join(config.dataDir, joinMarkerFile),
        `${JSON.stringify({ join: config.join })}\n`);
      return joined;
    } catch (error: unknown) {
      if (error instanceof ConfigError) throw error;
      lastError = error;
      logger.warn("cannot join yet", { attempt, join: config.join, error: String(error) });
      if (attempt < joinAttemptsMax) {
        // Not unref'd: before the member starts, nothing else keeps the process alive.
        await new Promise((resolve) => { setTimeout(resolve, joinRetryDelayMs); });
      }
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new PfsError("UNAVAILABLE", `cannot join the cluster at ${config.join.join(",")} ` +
    `after ${joinAttemptsMax} tries: ${reason}`);
}

/** What the promotion loop and `pfsEtcdEndpoints` need of the embedded member. */
export type JoinedMember = Pick<EtcdMember, "memberId" | "memberList" | "raftStatus">;

/** This member's own record in its local member list; undefined until it applied its add. */
async function ownRecord(member: JoinedMember): Promise<Member | undefined> {
  return (await member.memberList()).find((each) => each.id === member.memberId);
}

/** The client URLs of the voters in this member's local member list. */
async function voterClientUrls(member: JoinedMember): Promise<string[]> {
  const members = await member.memberList();
  return members.filter((each) => !each.isLearner).flatMap((each) => each.clientUrls);
}

export interface LearnerPromotionOptions {
  readonly member: JoinedMember;
  /** The --join URLs: asked when the local member list names no voter client URL yet. */
  readonly seedUrls: readonly string[];
  readonly tls: JoinClientTls;
  readonly logger: Logger;
}

/**
 * The background loop that promotes a joined learner (see the module comment). One round
 * runs at a time; `close()` stops the loop and waits for a running round. Errors of a round
 * are logged and the next round tries again; the loop ends once this member votes.
 */
export class LearnerPromotion {
  readonly #options: LearnerPromotionOptions;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #closed = false;
  #rounds = 0;
  /** The last reason a round did not promote, logged once per change. */
  #waiting = "";

  private constructor(options: LearnerPromotionOptions) {
    this.#options = options;
  }

  static start(options: LearnerPromotionOptions): LearnerPromotion {
    const promotion = new LearnerPromotion(options);
    promotion.#schedule();
    return promotion;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#round = this.#runRound().then((done) => {
        if (!done) this.#schedule();
      });
    }, promoteIntervalMs);
    this.#timer.unref();
  }

  /** One round; resolves true once this member votes (the loop then ends). */
  async #runRound(): Promise<boolean> {
    const { member, logger } = this.#options;
    try {
      const self = await ownRecord(member);
      if (self === undefined) return this.#wait("catching up: this member's add not applied");
      if (!self.isLearner) {
        logger.info("this member votes; promotion loop done");
        return true;
      }
      const voters = await voterClientUrls(member);
      const hosts = voters.length > 0 ? voters : this.#options.seedUrls;
      const host = hosts[this.#rounds++ % hosts.length];
      assert(host !== undefined, "a learner knows a voter or a --join URL");
      const client = etcdClient([host], this.#options.tls);
      try {
        return await client.lock(promoteLockKey).ttl(promoteLockTtlSeconds)
          .do(() => this.#promoteIfReady(client));
      } finally {
        client.close();
      }
    } catch (error: unknown) {
      return this.#wait(`round failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Under the lock, through one voter: promotes this learner when there is room and it is
   * in sync. Resolves true once promoted. */
  async #promoteIfReady(client: Etcd3): Promise<boolean> {
    const { member, logger } = this.#options;
    const view = await clusterView(client);
    const voters = view.members.filter((each) => !each.isLearner);
    if (voters.some((each) => each.id === member.memberId)) return true;
    if (voters.length >= raftVotersMax) {
      return this.#wait(`staying a learner: ${voters.length} voters (at most ${raftVotersMax})`);
    }
    const status = await client.maintenance.status();
    const commit = Number(status.raftIndex);
    const applied = member.raftStatus().applied;
    if (applied === 0 || applied * 100 < commit * promoteInSyncPercentMin) {
      return this.#wait(`catching up: applied ${applied} of ${commit}`);
    }
    await client.cluster.memberPromote({ ID: member.memberId.toString() });
    logger.info("promoted this learner to a voting member", {
      memberId: member.memberId.toString(16), voters: voters.length + 1, applied, commit,
    });
    return true;
  }

  /** Logs why this round did not promote (once per reason); the loop goes on. */
  #wait(reason: string): boolean {
    if (reason !== this.#waiting) {
      this.#options.logger.info("learner not promoted yet", { reason });
      this.#waiting = reason;
    }
    return false;
  }
}

/**
 * Whether this node runs the promotion loop: it joined through --join (now, or recorded in
 * its data dir by an earlier start). The --join URLs to fall back on, or undefined.
 */
export async function promotionSeeds(config: PfsdConfig): Promise<readonly string[] | undefined> {
  if (config.join.length > 0) return config.join;
  const recorded = await joinedThrough(config.dataDir);
  return recorded.length > 0 ? recorded : undefined;
}

/**
 * The etcd endpoints of this node's pfs node: the member's own client URL for a voter; for a
 * learner, which refuses linearizable requests as etcd 3.4 does, the voters' client URLs from
 * its member list (the --join URLs until it knows them). Waits up to learnerEndpointsWaitMs
 * for the member to apply its own add; a member that never does is treated as a voter.
 */
export async function pfsEtcdEndpoints(member: JoinedMember, ownClientUrl: string,
  seedUrls: readonly string[], logger: Logger): Promise<string[]> {
  const deadline = Date.now() + learnerEndpointsWaitMs;
  for (;;) {
    const self = await ownRecord(member);
    if (self !== undefined && !self.isLearner) return [ownClientUrl];
    const voters = await voterClientUrls(member);
    if (self !== undefined && voters.length > 0) {
      logger.info("this member is a learner; pfs uses the voters' client URLs", { voters });
      return voters;
    }
    if (Date.now() > deadline) {
      if (self === undefined) return [ownClientUrl];
      logger.warn("a learner knowing no voter client URL; pfs uses the --join URLs", { seedUrls });
      if (seedUrls.length === 0) {
        throw new PfsError("UNAVAILABLE", "this learner knows no voting member's client URL");
      }
      return [...seedUrls];
    }
    await new Promise((resolve) => { setTimeout(resolve, 200).unref(); });
  }
}
