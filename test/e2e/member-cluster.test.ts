// The member-cluster launcher itself, on real etcd: three members serve, a killed member
// restarts with its own command line and serves again.
import test from "ava";
import { startCluster } from "../support/member-cluster.js";

test("three etcd members start, one is killed and restarted with the same command line",
  async (t) => {
    const cluster = await startCluster({ kind: "etcd", size: 3 });
    try {
      t.is(cluster.members.length, 3);
      const member = cluster.members[1];
      if (member === undefined) throw new Error("no member 2");
      await member.kill9();
      t.false(member.running);
      await member.restart();
      await member.waitServing();
      t.true(member.running);
      t.is(cluster.endpoints.split(",").length, 3);
    } finally {
      await cluster.stop();
    }
  });
