// Goal: `pfsd --join URL` (issue 6) makes a new node a Raft learner of a running cluster and
// promotes it while there are fewer than 5 voters; beyond that it stays a learner. Method: a
// real 3-member pfsd cluster on loopback; three pfsd processes started together with only
// --join (so their promotions race, and the promotion lock must hold the voters at 5); then
// the learner's etcd API (serializable reads served, linearizable ones refused with etcd's
// text), restarts (without --join: the data dir wins; with --join: no second member), a voter
// removed (the learner is promoted in its place), and refusals that change nothing: a taken
// name, a wrong cluster token, a dead --join URL; and a retry after a member add reuses it,
// its pfs node (on a learner) serving through the voter.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import { PfsClient } from "../../pkg/pfs/client/index.js";
import { freePort } from "../compat/support/etcd-process.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import {
  Joiner, type MemberRow, eventually, memberRows, rangeOn,
} from "./pfsd-join-support.js";

/** Promotions (one per learner, each after a catch-up) and restarts fit in this. */
const settleMsMax = 40_000;

function table(rows: readonly MemberRow[]): string {
  return rows.map((row) => `${row.name || "(unstarted)"}:${row.isLearner ? "learner" : "voter"}`)
    .join(" ");
}

function voters(rows: readonly MemberRow[]): MemberRow[] {
  return rows.filter((row) => !row.isLearner);
}

async function stopAll(joiners: readonly Joiner[], cluster: MemberCluster | undefined,
  root: string): Promise<void> {
  await Promise.all(joiners.map((joiner) => joiner.stop()));
  await cluster?.stop();
  await rm(root, { recursive: true, force: true });
}

test("joiners are promoted up to 5 voters, the 6th stays a learner and restarts", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "pfs-join-"));
  const joiners: Joiner[] = [];
  let cluster: MemberCluster | undefined;
  try {
    cluster = await startCluster({ kind: "pfsd", size: 3 });
    const endpoints = cluster.endpoints;
    const seeds = cluster.members.map((member) => member.clientUrl);
    const etcd = new Etcd3({ hosts: seeds });
    await etcd.put("before").value("join");
    etcd.close();
    for (const name of ["j4", "j5", "j6"]) joiners.push(await Joiner.create(name, root, endpoints));
    for (const joiner of joiners) joiner.start();
    let rows: MemberRow[] = [];
    const logs = (): string => `${table(rows)}\n${joiners.map((j) => j.log()).join("\n")}`;
    await eventually(async () => {
      rows = await memberRows(seeds);
      return rows.length === 6 && voters(rows).length === 5 && rows.every((r) => r.name !== "");
    }, settleMsMax, logs);
    for (const joiner of joiners) {
      t.regex(joiner.log(), /added this node to the cluster as a learner/);
    }
    // The last learner stays one (5 voters at most): it says so once a promotion round of its
    // own got the lock (a round that finds the lock taken by another joiner's round, or by a
    // round whose release was lost until its lease expires, tries again a second later; a
    // fixed 3.5 s wait was not always enough for that).
    const learnerRow = rows.find((row) => row.isLearner);
    const learner = joiners.find((joiner) => joiner.name === learnerRow?.name);
    if (learner === undefined) throw new Error(`no joiner is the learner: ${table(rows)}`);
    await eventually(() => Promise.resolve(/staying a learner: 5 voters/.test(learner.log())),
      settleMsMax, logs);
    rows = await memberRows(seeds);
    t.is(voters(rows).length, 5, table(rows));
    t.true(rows.find((row) => row.name === learner.name)?.isLearner, table(rows));
    // A learner serves serializable reads and refuses linearizable ones, as etcd 3.4 does.
    await eventually(async () => (await rangeOn(learner.clientUrl, "before", true)).count === "1",
      settleMsMax, logs);
    await t.throwsAsync(rangeOn(learner.clientUrl, "before", false),
      { message: /etcdserver: rpc not supported for learner/ });
    // Its data dir wins: restarted without --join it is the same learner.
    t.like(await learner.stop(), { code: 0 });
    learner.start(false);
    await eventually(async () => (await rangeOn(learner.clientUrl, "before", true)).count === "1",
      settleMsMax, logs);
    // A voter restarted with --join still given rejoins as itself.
    const voter = joiners.find((joiner) => joiner !== learner);
    if (voter === undefined) throw new Error("no joined voter");
    t.like(await voter.stop(), { code: 0 });
    voter.start(true);
    await eventually(async () => (await rangeOn(voter.clientUrl, "before", false)).count === "1",
      settleMsMax, logs);
    t.regex(voter.log(), /the data directory holds a member; ignoring --join/);
    const afterRestarts = await memberRows(seeds);
    t.is(afterRestarts.length, 6, table(afterRestarts));
    t.deepEqual(afterRestarts.map((row) => row.id).sort(), rows.map((row) => row.id).sort());
    // A voter removed for good: the learner (restarted without --join) takes its place.
    const removed = cluster.members[1];
    const removedRow = afterRestarts.find((row) => row.name === removed?.name);
    if (removed === undefined || removedRow === undefined) throw new Error("no m2");
    const others = seeds.filter((url) => url !== removed.clientUrl);
    const client = new Etcd3({ hosts: others });
    await client.cluster.memberRemove({ ID: removedRow.id });
    client.close();
    await removed.stop();
    await eventually(async () => {
      rows = await memberRows(others);
      return rows.length === 5 && rows.every((row) => !row.isLearner);
    }, settleMsMax, logs);
    await eventually(() => Promise.resolve(
      /promoted this learner to a voting member/.test(learner.log())), settleMsMax, logs);
    t.pass();
  } finally {
    await stopAll(joiners, cluster, root);
  }
});

test("a refused join changes nothing; a retried join reuses its member", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "pfs-join-refused-"));
  const joiners: Joiner[] = [];
  let cluster: MemberCluster | undefined;
  try {
    cluster = await startCluster({ kind: "pfsd", size: 1 });
    const seeds = [cluster.endpoints];
    const before = await memberRows(seeds);
    const taken = await Joiner.create("m1", root, cluster.endpoints);
    const token = await Joiner.create("t2", root, cluster.endpoints,
      ["--initial-cluster-token", "not-this-cluster"]);
    const dead = await Joiner.create("d3", root, `http://127.0.0.1:${await freePort()}`);
    joiners.push(taken, token, dead);
    for (const joiner of joiners) joiner.start();
    t.like(await taken.exited(), { code: 2 }, taken.log());
    t.regex(taken.log(), /"m1" is already the name of member/);
    t.like(await token.exited(), { code: 2 }, token.log());
    t.regex(token.log(), /--initial-cluster-token.*"not-this-cluster" does not give cluster/);
    t.like(await dead.exited(), { code: 1 }, dead.log());
    t.regex(dead.log(), /cannot join the cluster at http:\/\/127\.0\.0\.1:\d+ after 3 tries/);
    t.deepEqual(await memberRows(seeds), before);
    // An earlier try that died right after its member add: the retry reuses that member, which
    // starts (publishes its name). It stays a learner: the embedded member refuses to promote
    // into a one-voter cluster (not enough started members), unlike etcd 3.5.
    const pfsAddress = `127.0.0.1:${await freePort()}`;
    const retried = await Joiner.create("r4", root, cluster.endpoints,
      ["--pfs-address", pfsAddress, "--shards", "2"]);
    joiners.push(retried);
    const client = new Etcd3({ hosts: seeds });
    const added = await client.cluster.memberAdd({ peerURLs: [retried.peerUrl], isLearner: true });
    client.close();
    retried.start();
    let rows: MemberRow[] = [];
    await eventually(async () => {
      rows = await memberRows(seeds);
      return rows.some((row) => row.name === "r4");
    }, settleMsMax, () => `${table(rows)}\n${retried.log()}`);
    t.regex(retried.log(), /reusing this node's unstarted member from an earlier join/);
    t.deepEqual(rows.map((row) => row.id).sort(),
      [...before.map((row) => row.id), added.member.ID].sort());
    // Its pfs node, started while it was a learner, keeps its metadata through the voter.
    const pfsClient = new PfsClient({ address: pfsAddress, callDeadlineMs: 5_000 });
    try {
      await eventually(async () => {
        await pfsClient.createRepo("made-on-learner");
        return true;
      }, settleMsMax, () => retried.log());
      t.true((await pfsClient.listRepo()).some((repo) => repo.name === "made-on-learner"));
      t.regex(retried.log(), /this member is a learner; pfs uses the voters' client URLs/);
    } finally {
      pfsClient.close();
    }
  } finally {
    await stopAll(joiners, cluster, root);
  }
});
