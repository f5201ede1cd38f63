// Goal (issue 6, failover): one node failure costs one failover, not two in series, so the
// Raft leader does not stay a shard master while a voter that masters nothing is free
// (cmd/pfsd-leader-spread.ts). A dead shard master that was also the Raft leader waits for a
// Raft election and then for its lease to lapse again in full (the new leader's Promote).
// Method: 5 real pfsd processes (4 shards, R=3): once every shard has a master, the test moves
// Raft leadership ONTO a shard master with etcd's MoveLeader (the etcd3 client, as etcdctl
// move-leader would); within a generous bound the leader must be a node mastering no shard
// again, while every shard keeps its master. Without the spread, nothing would move it back.
import test from "ava";
import { Etcd3 } from "etcd3";
import { eventually } from "../e2e/pfs-crash-support.js";
import { features, waitingFor } from "./features.js";
import { PfsCluster, chaosClusterDefaults } from "./pfs-cluster.js";

const title = "the Raft leader hands leadership to a free voter when it masters a shard";

async function masters(cluster: PfsCluster): Promise<(string | undefined)[]> {
  return Promise.all(Array.from({ length: cluster.options.shards },
    (_, shard) => cluster.shardMaster(shard).catch(() => undefined)));
}

/** Moves Raft leadership to `target` through the current leader's client URL. */
async function moveLeader(cluster: PfsCluster, leader: string, target: string): Promise<void> {
  const client = new Etcd3({ hosts: [cluster.member(leader).clientUrl] });
  try {
    const members = (await client.cluster.memberList({})).members;
    const id = members.find((member) => member.name === target)?.ID;
    if (id === undefined) throw new Error(`no member named ${target}`);
    await client.maintenance.moveLeader({ targetID: id });
  } finally {
    client.close();
  }
}

if (!features.replication) {
  test.todo(waitingFor(title, "replication wired into pfsd (--replicas, shard masters)"));
} else {
  test(title, async (t) => {
    t.timeout(150_000);
    const cluster = await PfsCluster.start({ ...chaosClusterDefaults });
    try {
      t.true(await eventually(60_000, async () =>
        (await masters(cluster)).every((master) => master !== undefined)),
      "the shards never all had masters");
      const settled = await eventually(60_000, async () => {
        const leader = await cluster.raftLeader();
        return leader !== undefined && !(await masters(cluster)).includes(leader);
      });
      t.true(settled, "the Raft leader never left shard mastership");
      const now = await masters(cluster);
      const master = now.find((name) => name !== undefined) ?? "";
      const leader = await cluster.raftLeader() ?? "";
      t.log(`masters ${now.join(", ")}; moving Raft leadership ${leader} → ${master}`);
      // MoveLeader answers once the transfer is done; the spread may move it back at once.
      const moved = await eventually(30_000, async () => {
        const current = await cluster.raftLeader();
        if (current === undefined) return false;
        return moveLeader(cluster, current, master).then(() => true, () => false);
      });
      t.true(moved, `Raft leadership never reached ${master}`);
      const spread = await eventually(60_000, async () => {
        const current = await cluster.raftLeader();
        const after = await masters(cluster);
        return current !== undefined && current !== master &&
          after.every((name) => name !== undefined) && !after.includes(current);
      });
      t.true(spread, `Raft leadership stayed on shard master ${master} (or on another master)`);
    } finally {
      await cluster.close();
    }
  });
}
