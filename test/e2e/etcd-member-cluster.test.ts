// Three in-process members on real disk and the real gRPC peer transport: writes replicate,
// a linearizable read on another member sees a write at once, the cluster survives closing
// its leader, a restarted member recovers from its WAL and catches up, and a lease expiring
// on the leader deletes its keys in one revision on every member.
import test from "ava";
import { leaseId } from "../../pkg/common/index.js";
import type { EtcdMember } from "../../pkg/etcdserver/index.js";
import {
  decode, eventually, get, leaderOf, memberSpecs, put, removeDirs, serveLeaseApi, startMember,
} from "./etcd-member-support.js";

test("three members replicate, survive the leader's loss and recover from the WAL",
  async (t) => {
    const specs = await memberSpecs(["m1", "m2", "m3"]);
    const members: (EtcdMember | undefined)[] =
      await Promise.all(specs.map((spec) => startMember(spec, specs)));
    const running = (): EtcdMember[] => members.filter((m): m is EtcdMember => m !== undefined);
    try {
      const leader = await leaderOf(running());
      const follower = running().find((member) => member !== leader)!;
      t.is(new Set(running().map((member) => member.clusterId)).size, 1);
      for (let i = 0; i < 20; i += 1) await put(i % 2 === 0 ? leader : follower, `k${i}`, `v${i}`);
      const written = await put(follower, "fresh", "yes");
      const read = await get(running().find((m) => m !== follower)!, "fresh");
      t.is(decode(read.kvs[0]!.value), "yes");
      t.is(read.header.revision, written.header.revision);
      await eventually(async () =>
      (await follower.memberList()).every((m) => m.clientUrls.length > 0));
      // Close the leader: the other two elect a new one and keep serving.
      const leaderIndex = members.indexOf(leader);
      await leader.close();
      members[leaderIndex] = undefined;
      const next = await leaderOf(running());
      await put(next, "after", "loss");
      const other = running().find((member) => member !== next)!;
      t.is(decode((await get(other, "after")).kvs[0]!.value), "loss");
      // Restart the old leader with the very same flags: it recovers and catches up.
      const restarted = await startMember(specs[leaderIndex]!, specs);
      members[leaderIndex] = restarted;
      const caught = await get(restarted, "after");
      t.is(decode(caught.kvs[0]!.value), "loss");
      t.is(decode((await get(restarted, "k7", true)).kvs[0]!.value), "v7");
    } finally {
      await Promise.all(running().map((member) => member.close()));
      await removeDirs(specs);
    }
  });

test("a lease expires on the leader and its keys go in one revision everywhere", async (t) => {
  const specs = await memberSpecs(["e1", "e2", "e3"]);
  const members = await Promise.all(specs.map((spec) => startMember(spec, specs)));
  const apis = await Promise.all(members.map((member, i) =>
    serveLeaseApi(member, specs[i]!.clientUrl)));
  try {
    const leader = await leaderOf(members);
    const follower = members.find((member) => member !== leader)!;
    await eventually(async () =>
      (await follower.memberList()).every((m) => m.clientUrls.length > 0));
    const grant = await follower.leaseGrant({}, leaseId(0n), 2n);
    t.is(grant.ttlSeconds, 2);
    await put(follower, "x/1", "a", grant.id);
    await put(follower, "x/2", "b", grant.id);
    t.is(await follower.leaseKeepAlive(grant.id), 2);
    const before = (await get(leader, "x/1")).header.revision;
    await eventually(async () => (await get(follower, "x/1")).count === 0, 15_000);
    const after = await get(follower, "x/2");
    t.is(after.count, 0);
    t.is(Number(after.header.revision), before + 1);
    t.is(await follower.leaseKeepAlive(grant.id), 0);
    t.is((await follower.leaseTimeToLive(grant.id, false)).ttlSeconds, -1);
  } finally {
    for (const stop of apis) stop();
    await Promise.all(members.map((member) => member.close()));
    await removeDirs(specs);
  }
});

test("with small snapshots, a lagging member catches up by snapshot and restarts from one",
  async (t) => {
    const specs = await memberSpecs(["s1", "s2", "s3"]);
    const extra = { snapshotCount: "20" };
    const startedMs = Date.now();
    const members: (EtcdMember | undefined)[] =
      await Promise.all(specs.map((spec) => startMember(spec, specs, "new", extra)));
    const running = (): EtcdMember[] => members.filter((m): m is EtcdMember => m !== undefined);
    try {
      const leader = await leaderOf(running());
      const lagging = members.findIndex((member) => member !== leader);
      await members[lagging]!.close();
      members[lagging] = undefined;
      const grant = await leader.leaseGrant({}, leaseId(0n), 600n);
      for (let i = 0; i < 120; i += 1) {
        await put(leader, `s${i % 13}`, `v${i}`, i % 10 === 0 ? grant.id : 0n);
      }
      t.true(leader.raftStatus().snapshotIndex > 0);
      t.log(`writes done ${Date.now() - startedMs} ms`);
      const restarted = await startMember(specs[lagging]!, specs, "new", extra);
      members[lagging] = restarted;
      await eventually(() => restarted.raftStatus().applied >= leader.raftStatus().commit);
      t.true(restarted.raftStatus().snapshotIndex > 0);
      t.is(decode((await get(restarted, "s2", true)).kvs[0]!.value), "v119");
      t.deepEqual((await restarted.leaseTimeToLive(grant.id, true)).keys.map(decode).sort(),
        (await leader.leaseTimeToLive(grant.id, true)).keys.map(decode).sort());
      t.is((await restarted.hashKv({}, 0)).hash, (await leader.hashKv({}, 0)).hash);
      t.log(`caught up ${Date.now() - startedMs} ms`);
      // The leader restarts from its own snapshot plus WAL.
      const leaderIndex = members.indexOf(leader);
      await leader.close();
      members[leaderIndex] = undefined;
      const back = await startMember(specs[leaderIndex]!, specs, "new", extra);
      members[leaderIndex] = back;
      t.is(decode((await get(back, "s2")).kvs[0]!.value), "v119");
    } finally {
      await Promise.all(running().map((member) => member.close()));
      await removeDirs(specs);
    }
  });
