// Auth through Raft on a real member: users, roles and permissions replicate; Authenticate
// mints a token chosen by the proposer; with auth enabled every KV and watch call is checked
// (root may do everything, a missing or unknown token is refused).
import test from "ava";
import {
  putRequest, rangeRequest, watchCreateRequest,
} from "../../pkg/etcdserver/index.js";
import { memberSpecs, removeDirs, startMember, text } from "./etcd-member-support.js";

test("auth enable, authenticate, permission checks", async (t) => {
  const specs = await memberSpecs(["auth"]);
  const member = await startMember(specs[0]!, specs);
  try {
    await t.throwsAsync(member.authenticate("root", "pw"),
      { message: "etcdserver: authentication is not enabled" });
    await member.userAdd({}, "root", "pw", false);
    await member.roleAdd({}, "root");
    await member.userGrantRole({}, "root", "root");
    await member.userAdd({}, "reader", "rpw", false);
    await member.roleAdd({}, "read-a");
    await member.roleGrantPermission({}, "read-a",
      { permType: "READ", key: text("a"), rangeEnd: text("b") });
    await member.userGrantRole({}, "reader", "read-a");
    await member.authEnable({});
    // No token is the empty user, as in etcd 3.4 (a bad token is refused below).
    await t.throwsAsync(member.put({}, putRequest({ key: text("a1") })),
      { message: "etcdserver: user name is empty" });
    await t.throwsAsync(member.authenticate("root", "wrong"),
      { message: "etcdserver: authentication failed, invalid user ID or password" });
    const root = { token: await member.authenticate("root", "pw") };
    await member.put(root, putRequest({ key: text("a1"), value: text("v") }));
    const reader = { token: await member.authenticate("reader", "rpw") };
    const read = await member.range(reader, rangeRequest({ key: text("a1") }));
    t.is(read.count, 1);
    await t.throwsAsync(member.put(reader, putRequest({ key: text("a1") })),
      { message: "etcdserver: permission denied" });
    await t.throwsAsync(member.range(reader, rangeRequest({ key: text("z") })),
      { message: "etcdserver: permission denied" });
    await t.throwsAsync(member.range({ token: "bogus.1" }, rangeRequest({ key: text("a1") })),
      { message: "etcdserver: invalid auth token" });
    const stream = member.watchOpen(() => undefined);
    t.is(member.watchCreate(reader, stream, watchCreateRequest({ key: text("z") })),
      "etcdserver: permission denied");
    t.is(member.watchCreate(reader, stream, watchCreateRequest({ key: text("a1") })), undefined);
    member.watchClose(stream);
    t.deepEqual(await member.userList(root), ["reader", "root"]);
    // Maintenance that exposes or rewrites the whole store needs an admin (etcd 3.4).
    for (const call of [() => member.hashKv(reader, 0), () => member.hash(reader),
      () => member.snapshot(reader), () => member.defragment(reader)]) {
      await t.throwsAsync(call(), { message: "etcdserver: permission denied" });
    }
    t.true((await member.snapshot(root)).length > 0);
    await member.defragment(root);
    t.is((await member.hashKv(root, 0)).hash, await member.hash(root));
    await t.throwsAsync(member.userList(reader), { message: "etcdserver: permission denied" });
    await member.authDisable(root);
    t.is((await member.range({}, rangeRequest({ key: text("a1") }))).count, 1);
  } finally {
    await member.close();
    await removeDirs(specs);
  }
});
