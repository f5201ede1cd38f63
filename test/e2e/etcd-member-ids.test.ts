// Member IDs and the cluster ID are etcd's: a real etcd 3.4.23 cluster of three started with
// a given --initial-cluster and --initial-cluster-token reports (etcdctl member list -w json)
// exactly the IDs our members compute from the same flags.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import test from "ava";
import {
  computeClusterId, computeMemberId, initialClusterMembers,
} from "../../pkg/etcdserver/index.js";
import { startCluster } from "../support/member-cluster.js";
import { configOf } from "./etcd-member-support.js";

const run = promisify(execFile);

test("IDs computed from the flags equal a real etcd cluster's", async (t) => {
  const token = `pfs-ids-${process.pid}`;
  const cluster = await startCluster({ kind: "etcd", size: 3, token });
  try {
    const { stdout } = await run("etcdctl", ["--endpoints", cluster.endpoints,
      "member", "list", "-w", "json"]);
    // JSON numbers above 2^53: take the digits as text.
    const clusterId = BigInt(/"cluster_id":(\d+)/.exec(stdout)?.[1] ?? "0");
    const ids = [...stdout.matchAll(/"ID":(\d+)/g)].map((match) => BigInt(match[1] ?? "0"));
    const names = [...stdout.matchAll(/"name":"([^"]*)"/g)].map((match) => match[1]);
    const ours = cluster.members.map((member) => computeMemberId([member.peerUrl], token));
    t.deepEqual([...ids].sort(), ours.map((id) => BigInt(id)).sort());
    t.is(computeClusterId(ours), clusterId);
    t.is(names.length, 3);
    // The member bootstrap derives the same from a pfsd configuration of those flags.
    const specs = cluster.members.map((member) => ({
      name: member.name, peerUrl: member.peerUrl, clientUrl: member.clientUrl,
      dataDir: member.dataDir,
    }));
    const config = configOf(specs[0]!, specs, "new", { initialClusterToken: token });
    t.deepEqual(initialClusterMembers(config).map((member) => BigInt(member.id)).sort(),
      [...ids].sort());
  } finally {
    await cluster.stop();
  }
});
