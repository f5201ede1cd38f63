// One in-process member on real disk: it serves at revision 1 within 2 s, writes, reads,
// leases and watches work, and a restart from its WAL keeps everything.
import test from "ava";
import { leaseId } from "../../pkg/common/index.js";
import { watchCreateRequest } from "../../pkg/etcdserver/index.js";
import {
  decode, get, memberSpecs, put, removeDirs, startMember, text,
} from "./etcd-member-support.js";

test("a fresh member serves at revision 1 within 2 s and keeps its data across a restart",
  async (t) => {
    const specs = await memberSpecs(["solo"]);
    const started = Date.now();
    let member = await startMember(specs[0]!, specs);
    try {
      const first = await get(member, "missing");
      // The goal is 2 s (about 1 s here when idle); the bound is generous for a loaded CI.
      t.true(Date.now() - started < 10_000, `first read after ${Date.now() - started} ms`);
      t.is(Number(first.header.revision), 1);
      t.is(first.count, 0);
      const written = await put(member, "a", "1");
      t.is(Number(written.header.revision), 2);
      await put(member, "b", "2");
      const read = await get(member, "a");
      t.is(decode(read.kvs[0]!.value), "1");
      const members = await member.memberList();
      t.is(members.length, 1);
      t.is(members[0]!.id, member.memberId);
      await member.close();
      member = await startMember(specs[0]!, specs);
      const again = await get(member, "b");
      t.is(decode(again.kvs[0]!.value), "2");
      t.is(Number(again.header.revision), 3);
      const named = (await member.memberList())[0]!;
      t.is(named.name, "solo");
      t.deepEqual(named.clientUrls, [specs[0]!.clientUrl]);
    } finally {
      await member.close();
      await removeDirs(specs);
    }
  });

test("leases attach keys, revoke deletes them in one revision, watches see it", async (t) => {
  const specs = await memberSpecs(["solo"]);
  const member = await startMember(specs[0]!, specs);
  try {
    const grant = await member.leaseGrant({}, leaseId(0n), 30n);
    t.true(grant.id > 0n);
    t.is(grant.ttlSeconds, 30);
    await put(member, "k1", "v", grant.id);
    await put(member, "k2", "v", grant.id);
    const ttl = await member.leaseTimeToLive(grant.id, true);
    t.deepEqual(ttl.keys.map(decode), ["k1", "k2"]);
    t.is(await member.leaseKeepAlive(grant.id), 30);
    let ready = 0;
    const stream = member.watchOpen(() => { ready += 1; });
    t.is(member.watchCreate({}, stream, watchCreateRequest({
      key: text("k"), rangeEnd: text("l"),
    })), undefined);
    const before = member.revision();
    await member.leaseRevoke({}, grant.id);
    t.is(member.revision(), before + 1);
    t.is((await get(member, "k1")).count, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.true(ready > 0);
    const responses = stream.take();
    const events = responses.flatMap((response) => response.events);
    t.deepEqual(events.map((event) => `${event.type} ${decode(event.kv.key)}`),
      ["DELETE k1", "DELETE k2"]);
    t.is(await member.leaseKeepAlive(grant.id), 0);
    member.watchClose(stream);
  } finally {
    await member.close();
    await removeDirs(specs);
  }
});
