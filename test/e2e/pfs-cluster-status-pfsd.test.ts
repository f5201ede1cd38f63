// Goal: the cluster status and remove-node on pfsd's embedded coordination layer: its member
// list and Maintenance Status name the Raft leader, so the node named like the member is
// "leader"; removing that member, the last voter, is refused and writes nothing; a node known
// only from an offline record is retired and its record deleted.
// Method: one single-member pfsd store; the status and removal functions called directly
// (the CLI path is covered on etcd by pfs-cluster-status.test.ts).
import test from "ava";
import { silentLogger } from "../../pkg/common/index.js";
// pkg/pfs/index.ts does not re-export these modules yet.
// eslint-disable-next-line pfs/boundaries
import { NodeRegistration } from "../../pkg/pfs/placement/index.js";
// eslint-disable-next-line pfs/boundaries
import {
  ReplicaMapKeys, encodeOfflineRecord, readOfflineRecords,
} from "../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries
import { readClusterStatus, removeNode } from "../../pkg/pfs/status/index.js";
import { useStores } from "./pfs-replication-support.js";

const storeOf = useStores(["pfsd"]);

test("pfsd store: leader role by member name; last voter kept; an offline node retired", async (t) => {
  const store = storeOf("pfsd");
  const client = store.client();
  const root = `/pfs-status-pfsd-${process.pid}`;
  const keys = new ReplicaMapKeys(root);
  const memberName = store.cluster.members[0]?.name ?? "";
  const registration = await NodeRegistration.register(client, root,
    { name: memberName, address: "127.0.0.1:30650" }, silentLogger);
  t.teardown(() => registration.close());
  await client.put(`${keys.health}gone`).value(encodeOfflineRecord({ offlineSinceWallMs: 1 }));

  const status = await readClusterStatus({ client, root, shards: 2, deadTimeMs: 30_000 });
  t.deepEqual(status.nodes.map((node) => [node.id, node.raft_role, node.online, node.faulty]),
    [["gone", "", false, true], [memberName, "leader", true, false]]
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  t.true(status.shards.every((shard) => shard.under_replicated && shard.lag === -1));

  await t.throwsAsync(removeNode({ client, root, id: memberName, force: true }),
    { message: /last voting member/ });
  t.deepEqual(await client.getAll().prefix(keys.retired).keys(), []);
  t.is(await client.get(`${keys.nodes}${memberName}`).string() !== null, true);

  const removed = await removeNode({ client, root, id: "gone", force: false });
  t.like(removed, { id: "gone", health_record_deleted: true, node_key_deleted: false,
    member_removed: false, already_retired: false });
  t.false((await readOfflineRecords(client, keys)).has("gone"));
  const after = await readClusterStatus({ client, root, shards: 2, deadTimeMs: 30_000 });
  t.deepEqual(after.nodes.map((node) => node.id), [memberName]);
});
