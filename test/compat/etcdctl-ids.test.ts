// Goal: pfsd makes member and cluster IDs exactly as etcd 3.4.23 does (a hash of the peer URLs
// and the cluster token), the one thing the other etcdctl differential tests mask because
// their clusters listen on different ports. Method: start a single etcd member on free ports
// with a chosen token, read `etcdctl member list -w json`, stop it; start pfsd with the very
// same command line (same ports, same token, a fresh data directory) and read it again. The
// outputs must be equal with only the raft term masked: IDs, names and URLs exactly.
import { mkdir, rm } from "node:fs/promises";
import test from "ava";
import type { MemberKind } from "../support/member-cluster.js";
import { otherKind } from "./support/etcdctl-differ.js";
import { joiningUrls, startJoiningMember } from "./support/etcdctl-member.js";
import { runCtl } from "./support/etcdctl-runner.js";
import { pollUntil } from "./support/etcdctl-steps.js";

const scratchRoot = `/dev/shm/pfs-etcdctl-ids-${process.pid}`;

test.before(async () => {
  await mkdir(scratchRoot, { recursive: true });
});

test.after.always(async () => {
  await rm(scratchRoot, { recursive: true, force: true });
});

/** `member list -w json` of a fresh single member of `kind` on the given URLs. */
async function memberList(kind: MemberKind, clientUrl: string, peerUrl: string):
Promise<string> {
  const member = await startJoiningMember(kind, "ids1", { clientUrl, peerUrl },
    `ids1=${peerUrl}`, scratchRoot, "new");
  try {
    const connection = { endpoints: clientUrl, tlsArgs: [] };
    await pollUntil(`${kind} serving`, async () =>
      (await runCtl(connection, ["get", "health"])).code === 0);
    const listed = await runCtl(connection, ["member", "list", "-w", "json"]);
    return listed.stdout.replace(/"raft_term":\d+/, "\"raft_term\":\"<masked>\"");
  } finally {
    await member.stop();
  }
}

test("member and cluster IDs: the same as etcd's for the same peer URL and token", async (t) => {
  const { clientUrl, peerUrl } = await joiningUrls();
  const etcd = await memberList("etcd", clientUrl, peerUrl);
  const other = await memberList(otherKind(), clientUrl, peerUrl);
  t.log(etcd);
  t.regex(etcd, /"cluster_id":\d+,"member_id":\d+/);
  t.is(other, etcd);
});
