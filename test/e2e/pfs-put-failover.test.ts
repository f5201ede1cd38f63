// Goal: put streams survive a change of their shard's master (issue 6, open item 4): a put that
// the master had not yet accepted (no "ready" header) is sent to the next master by the router,
// so the caller never retries; puts that returned OK are readable once their commit finished;
// nothing half-written is visible, whatever the put's or the commit's fate.
// Method: one 3-member pfsd cluster (R=3, W=2, --master-lease-ttl 2, data in /dev/shm when there
// is one); the client talks to a node that is not shard 1's master. Each put writes one file of
// shard 1 in a commit of its own. Batch "racing" starts just before the master is stopped
// (SIGSTOP), batch "stopped" just after (those streams reach a master that never answers), batch
// "killed" after the stopped master is killed -9 once another was elected. Then every commit is
// finished and every file and commit checked against what its put and finish answered.
import test, { type ExecutionContext } from "ava";
import { Etcd3 } from "etcd3";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { shardOf } from "../../pkg/pfs/index.js";
import type { MemberCluster } from "../support/member-cluster.js";
import { PfsClient } from "./pfs-api-support.js";
import {
  addressOf, eventually, replicatedSettleMs, seededHash, seededPieces, sha256,
  startReplicatedCluster,
} from "./pfs-crash-support.js";

const shards = 4;
const shard = 1;
const putsPerBatch = 3;
const failedPrecondition = 9;
/** Generous bound of every wait (failover is about a lease TTL; CI machines are slow). */
const settleMs = replicatedSettleMs;

const seed = Number(process.env["PFS_TEST_SEED"] ?? systemSeed());
const prng = new Prng(seed);

let cluster: MemberCluster;

test.before(async () => {
  cluster = await startReplicatedCluster(shards);
});

test.after.always(async () => {
  await cluster.stop();
});

/** A fresh path of `shard`, seeded. */
function pathOn(target: number): string {
  for (;;) {
    const path = `/f-${prng.intBelow(1_000_000_000)}`;
    if (shardOf(path, shards) === target) return path;
  }
}

/** The shard's master as its election says (read through `etcd`), or undefined. */
async function masterOf(etcd: Etcd3): Promise<string | undefined> {
  const response = await etcd.getAll().prefix(`/pfs/election/shard-master/${shard}/`)
    .sort("Create", "Ascend").limit(1).exec();
  return response.kvs[0]?.value.toString("utf8");
}

/** One put of the test: its batch, commit (on a branch of its own), file and bytes. */
interface Put {
  readonly batch: "racing" | "stopped" | "killed";
  readonly commit: string;
  readonly path: string;
  /** The content: `seededPieces(contentSeed, size)`. */
  readonly contentSeed: number;
  readonly size: number;
}

/** Opens a commit for each of `count` puts of `batch` (not started yet). */
async function openPuts(client: PfsClient, batch: Put["batch"], count: number): Promise<Put[]> {
  const puts: Put[] = [];
  for (let i = 0; i < count; i += 1) {
    const open = await client.call("StartCommit", { repo: "put", branch: `${batch}-${i}` });
    puts.push({ batch, commit: open.id, path: pathOn(shard),
      contentSeed: prng.intBelow(2 ** 30), size: 1 + prng.intBelow(200_000) });
  }
  return puts;
}

/** Starts every put of `puts`; each outcome is "ok" or the failure's text. */
function startPuts(client: PfsClient, puts: readonly Put[]): Promise<string>[] {
  return puts.map((put) => client.putFile({ repo: "put", commit: put.commit, path: put.path },
    seededPieces(put.contentSeed, put.size)).then(() => "ok", (error: unknown) => String(error)));
}

test.serial("put streams to a shard whose master is stopped, then killed, reach the next " +
  "master; what returned OK is readable after finish; nothing half-written shows", async (t) => {
  t.timeout(4 * settleMs);
  t.log(`seed ${seed} (replay with PFS_TEST_SEED=${seed})`);
  const all = new Etcd3({ hosts: cluster.endpoints.split(",") });
  t.true(await eventually(settleMs, async () => (await masterOf(all)) !== undefined));
  const victimName = await masterOf(all);
  all.close();
  const victim = cluster.members.find((member) => member.name === victimName);
  const survivors = cluster.members.filter((member) => member.name !== victimName);
  const survivor = survivors[0];
  if (victim === undefined || survivor === undefined) throw new Error(`no victim ${victimName}`);
  // Read the election from the survivors only: a stopped member would hold a request forever.
  const etcd = new Etcd3({ hosts: survivors.map((member) => member.clientUrl) });
  const client = new PfsClient(await addressOf(cluster.endpoints, survivor.name));
  try {
    await client.call("CreateRepo", { name: "put" });
    const racing = await openPuts(client, "racing", putsPerBatch);
    const stopped = await openPuts(client, "stopped", putsPerBatch);
    const racingOutcomes = startPuts(client, racing);
    victim.sigstop();
    const stoppedOutcomes = startPuts(client, stopped);
    t.true(await eventually(settleMs, async () => {
      const master = await masterOf(etcd);
      return master !== undefined && master !== victimName;
    }), `a new master for shard ${shard} (seed ${seed})`);
    await victim.kill9();
    const killed = await openPuts(client, "killed", putsPerBatch);
    const killedOutcomes = startPuts(client, killed);
    const puts = [...racing, ...stopped, ...killed];
    const outcomes = await Promise.all([...racingOutcomes, ...stoppedOutcomes, ...killedOutcomes]);
    t.log(puts.map((put, i) => `${put.batch}: ${outcomes[i] ?? "?"}`).join("\n"));
    for (const [i, put] of puts.entries()) {
      if (put.batch !== "racing") {
        t.is(outcomes[i], "ok", `a put started after the ${put.batch === "stopped" ? "stop" :
          "kill"} succeeds without the caller retrying (seed ${seed})`);
      }
    }
    for (const [i, put] of puts.entries()) await checkCommit(t, client, put, outcomes[i]);
  } finally {
    client.close();
    etcd.close();
  }
});

/**
 * Finishes `put`'s commit and checks what is visible: a finished commit holds the file, byte for
 * byte, exactly when its put returned OK; a commit that cannot finish (its put staged data on the
 * killed master: FAILED_PRECONDITION) shows nothing. Puts after the stop must finish.
 */
async function checkCommit(t: ExecutionContext, client: PfsClient, put: Put,
  outcome: string | undefined): Promise<void> {
  const what = `${put.batch} put ${put.commit} (${outcome ?? "?"}; seed ${seed})`;
  let finished = true;
  try {
    await client.call("FinishCommit", { commit: { repo: "put", commit: put.commit } });
  } catch (error: unknown) {
    finished = false;
    const code = (error as { code?: number }).code;
    t.is(code, failedPrecondition, `only a commit staged on the dead master fails: ${what}: ` +
      String(error));
  }
  if (put.batch !== "racing") t.true(finished, `the commit finishes: ${what}`);
  const info = await client.call("InspectCommit", { commit: { repo: "put", commit: put.commit } });
  t.is(info.state, finished ? "FINISHED" : "FAILED", what);
  const read = await client.getFile("put", put.commit, put.path)
    .then((bytes) => sha256(bytes), () => "absent");
  if (finished && outcome === "ok") t.is(read, seededHash(put.contentSeed, put.size), `readable: ${what}`);
  else t.is(read, "absent", `nothing half-written is visible: ${what}`);
}
