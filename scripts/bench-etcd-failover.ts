// Leader failover under load for `scripts/bench etcd`: the generator's write-gap workload puts
// from many clients through every endpoint (clientv3 fails over), while the leader, found with
// Maintenance.Status, is killed with SIGKILL, a new leader awaited, and the old member
// restarted, `kills` times. The generator reports every stretch without a successful write;
// each kill is charged the longest stretch that overlaps [kill, next kill).
import { type Client } from "@grpc/grpc-js";
import { etcdService, unary } from "../test/compat/support/etcd-process.js";
import { type MemberCluster } from "../test/support/member-cluster.js";
import { startLoadgen } from "./bench-etcd-loadgen.js";

/** Writers during failover: enough to keep writes flowing, light enough not to saturate. */
const failoverClients = 32;
const failoverConnections = 4;
/** Stretches shorter than this are not reported by the generator (recorded as this bound). */
const gapMsMin = 50;
/** Load runs this long before the first kill, and between a restart and the next kill. */
const steadyMs = 2_000;
/** After a new leader is agreed, the old member stays down this long (writes must resume). */
const downAfterElectionMs = 2_000;
/** Limits on waiting for an agreed leader and for one Status answer. */
const leaderWaitMsMax = 30_000;
const statusMsMax = 1_000;
const pollMs = 20;
/** The generator's own cap on a write-gap run; it is normally stopped with SIGTERM. */
const writeGapSecondsMax = 3_600;

/** Kill → agreed new leader, and the longest stretch without a successful write, per kill. */
export interface FailoverResult {
  readonly electionMs: number[];
  readonly writeGapMs: number[];
  /** Kills whose stretch stayed under gapMsMin (recorded as gapMsMin). */
  readonly gapsBelowMinimum: number;
  readonly writeErrors: number;
  readonly errorSamples: readonly string[];
  /** Why the kill loop stopped early (e.g. a killed member did not come back), if it did. */
  readonly error?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface StatusAnswer {
  readonly memberId: string;
  readonly leader: string;
}

function statusOf(client: Client): Promise<StatusAnswer | undefined> {
  const answer = unary(client, "Status", {}).then((value) => {
    const status = value as { header?: { member_id?: string }; leader?: string };
    const memberId = status.header?.member_id ?? "0";
    return { memberId, leader: status.leader ?? "0" };
  }, () => undefined);
  const timeout = sleep(statusMsMax).then(() => undefined);
  return Promise.race([answer, timeout]);
}

/** Asks every running member for its Status; Maintenance clients are made per cluster. */
export class LeaderFinder {
  readonly #clients: Client[];

  constructor(readonly cluster: MemberCluster) {
    const Maintenance = etcdService("etcdserverpb.Maintenance");
    this.#clients = cluster.members.map((member) =>
      new Maintenance(member.clientAddress, cluster.credentials()));
  }

  /** The index of the leader all running members agree on, if they do and it runs. */
  async agreedLeader(): Promise<number | undefined> {
    const running = this.cluster.members.map((member) => member.running);
    const answers = await Promise.all(this.#clients.map((client, i) =>
      running[i] === true ? statusOf(client) : Promise.resolve(undefined)));
    const leaders = new Set<string>();
    for (const [i, answer] of answers.entries()) {
      if (running[i] !== true) continue;
      if (answer === undefined || answer.leader === "0") return undefined;
      leaders.add(answer.leader);
    }
    if (leaders.size !== 1) return undefined;
    const [leader] = leaders;
    const index = answers.findIndex((answer) => answer?.memberId === leader);
    return index < 0 ? undefined : index;
  }

  /** Waits for an agreed leader other than `not`. */
  async waitLeader(not?: number): Promise<number> {
    const deadline = performance.now() + leaderWaitMsMax;
    for (;;) {
      const leader = await this.agreedLeader();
      if (leader !== undefined && leader !== not) return leader;
      if (performance.now() > deadline) {
        throw new Error(`no agreed leader (other than ${not ?? "none"}) in ${leaderWaitMsMax} ms`);
      }
      await sleep(pollMs);
    }
  }

  close(): void {
    for (const client of this.#clients) client.close();
  }
}

/** The longest stretch without a write overlapping each [kill, next kill) window. */
function gapsPerKill(killsAtMs: readonly number[], endMs: number,
  gaps: readonly (readonly [number, number])[]): { longest: number[]; belowMinimum: number } {
  const longest: number[] = [];
  let belowMinimum = 0;
  for (const [i, killedAt] of killsAtMs.entries()) {
    const windowEnd = killsAtMs[i + 1] ?? endMs;
    let worst = 0;
    for (const [from, to] of gaps) {
      if (to > killedAt && from < windowEnd) worst = Math.max(worst, to - from);
    }
    if (worst === 0) belowMinimum += 1;
    longest.push(worst === 0 ? gapMsMin : worst);
  }
  return { longest, belowMinimum };
}

/** Runs the kill loop under the generator's write-gap load; restarts every killed member. */
export async function failover(cluster: MemberCluster, loadgen: string, kills: number):
  Promise<FailoverResult> {
  const finder = new LeaderFinder(cluster);
  const run = startLoadgen(loadgen, [
    "-endpoints", cluster.members.map((member) => member.clientAddress).join(","),
    "-workload", "write-gap", "-clients", `${failoverClients}`,
    "-connections", `${failoverConnections}`, "-warmup-seconds", "0",
    "-seconds", `${writeGapSecondsMax}`, "-gap-ms-min", `${gapMsMin}`,
  ], `${cluster.kind} write-gap`);
  void run.result.catch(() => undefined); // awaited below; this only marks a failure handled
  const electionMs: number[] = [];
  const killsAtMs: number[] = [];
  let error: string | undefined;
  try {
    for (let kill = 0; kill < kills; kill += 1) {
      await sleep(steadyMs);
      const leader = await finder.waitLeader();
      const member = cluster.members[leader];
      if (member === undefined) throw new Error(`no member ${leader}`);
      const killedAt = performance.now();
      killsAtMs.push(Date.now());
      await member.kill9();
      await finder.waitLeader(leader);
      electionMs.push(performance.now() - killedAt);
      process.stderr.write(`bench-etcd: ${cluster.kind} kill ${kill + 1}/${kills}: ` +
        `${member.name} killed, new leader after ${electionMs.at(-1)?.toFixed(0)} ms\n`);
      await sleep(downAfterElectionMs);
      await member.restart();
      await member.waitServing();
    }
    await sleep(steadyMs);
  } catch (failure: unknown) {
    error = failure instanceof Error ? failure.message : String(failure);
  } finally {
    run.stop();
    finder.close();
  }
  const result = await run.result;
  const { longest, belowMinimum } = gapsPerKill(killsAtMs, Date.now(), result.gapsUnixMs ?? []);
  return {
    electionMs, writeGapMs: longest, gapsBelowMinimum: belowMinimum,
    writeErrors: result.errors, errorSamples: result.errorSamples,
    ...(error === undefined ? {} : { error }),
  };
}
