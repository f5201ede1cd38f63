// Membership through Raft: a learner is added to a running three-member cluster, started
// with --initial-cluster-state existing (it learns its ID from the leader), catches up,
// serves only serializable reads, is promoted and then serves linearizable reads; removing a
// member shrinks the cluster, and etcd's refusals come with etcd's errors.
import test from "ava";
import type { EtcdMember } from "../../pkg/etcdserver/index.js";
import {
  decode, eventually, get, leaderOf, memberSpecs, put, removeDirs, startMember,
} from "./etcd-member-support.js";

test("add a learner, start it, promote it, remove a member", async (t) => {
  const specs = await memberSpecs(["l1", "l2", "l3", "l4"]);
  const initial = specs.slice(0, 3);
  const members: EtcdMember[] = await Promise.all(initial.map((spec) => startMember(spec, initial)));
  try {
    const leader = await leaderOf(members);
    await put(leader, "before", "join");
    const added = await members[1]!.memberAdd([specs[3]!.peerUrl], true);
    t.true(added.isLearner);
    await t.throwsAsync(members[0]!.memberAdd([specs[3]!.peerUrl], true),
      { message: "etcdserver: Peer URLs already exists" });
    await t.throwsAsync(members[0]!.memberPromote(leader.memberId),
      { message: "etcdserver: can only promote a learner member" });
    const learner = await startMember(specs[3]!, specs, "existing");
    members.push(learner);
    t.is(learner.memberId, added.id);
    await eventually(async () => (await get(learner, "before", true)).count === 1);
    t.true(learner.isLearner());
    await t.throwsAsync(get(learner, "before"), {
      message: "etcdserver: rpc not supported for learner",
    });
    await eventually(() => learner.raftStatus().applied >= leader.raftStatus().commit);
    await members[0]!.memberPromote(added.id);
    await eventually(() => !learner.isLearner());
    await put(leader, "after", "promote");
    t.is(decode((await get(learner, "after")).kvs[0]!.value), "promote");
    const list = await leader.memberList();
    t.is(list.length, 4);
    t.true(list.every((member) => !member.isLearner));
    // Remove one follower: three voters remain and keep serving.
    const victim = members.find((m) => m !== leader && m !== learner)!;
    await leader.memberRemove(victim.memberId);
    t.is((await leader.memberList()).length, 3);
    await t.throwsAsync(leader.memberRemove(victim.memberId),
      { message: "etcdserver: member not found" });
    await put(learner, "after", "remove");
    t.is(decode((await get(leader, "after")).kvs[0]!.value), "remove");
  } finally {
    await Promise.all(members.map((member) => member.close()));
    await removeDirs(specs);
  }
});
