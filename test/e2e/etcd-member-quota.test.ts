// The space quota: once the store outgrows --quota-backend-bytes the member raises NOSPACE
// through Raft; puts, write txns and lease grants then fail with etcd's "database space
// exceeded" while deletes still work, and disarming the alarm lets writes through again.
// Status reports the alarm; MoveLeader refuses a follower and a bad target.
import test from "ava";
import { leaseId, nodeId } from "../../pkg/common/index.js";
import { deleteRangeRequest } from "../../pkg/etcdserver/index.js";
import {
  eventually, memberSpecs, put, removeDirs, startMember, text,
} from "./etcd-member-support.js";

test("NOSPACE is raised past the quota, blocks writes, and is disarmed", async (t) => {
  const specs = await memberSpecs(["q"]);
  const member = await startMember(specs[0]!, specs, "new", { quotaBackendBytes: "4096" });
  try {
    const big = "x".repeat(1024);
    for (let i = 0; i < 8; i += 1) await put(member, `k${i}`, big).catch(() => undefined);
    await eventually(async () => (await member.alarm("GET", nodeId(0n), "NONE")).length > 0);
    t.deepEqual(await member.alarm("GET", nodeId(0n), "NONE"),
      [{ memberId: member.memberId, alarm: "NOSPACE" }]);
    await t.throwsAsync(put(member, "more", "v"),
      { message: "etcdserver: mvcc: database space exceeded" });
    await t.throwsAsync(member.leaseGrant({}, leaseId(0n), 10n),
      { message: "etcdserver: mvcc: database space exceeded" });
    const status = await member.status();
    t.true(status.errors.some((error) => error.includes("NOSPACE")));
    await member.deleteRange({}, deleteRangeRequest({ key: text("k0") }));
    t.deepEqual(await member.alarm("DEACTIVATE", member.memberId, "NOSPACE"),
      [{ memberId: member.memberId, alarm: "NOSPACE" }]);
    t.deepEqual(await member.alarm("GET", nodeId(0n), "NONE"), []);
    await put(member, "again", "v");
    await t.throwsAsync(member.moveLeader(nodeId(12345n)),
      { message: "etcdserver: bad leader transferee" });
  } finally {
    await member.close();
    await removeDirs(specs);
  }
});
