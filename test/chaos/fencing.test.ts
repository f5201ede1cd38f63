// Goal (issue 6, test 2): a shard master stopped past its lease is deposed, and once it runs
// again everything it tries is refused: pfs.Shard PutFile and FinishCommit sent straight to it
// for its old shard fail, and the commit that had data staged on it cannot finish with that
// data (its finish fails, the branch head stays where it was, the file is not visible), while
// a new commit on the branch finishes through the new master.
// Method: 3 real pfsd processes (R=3, W=2, 2 shards, 2 s master leases); a file is staged on
// shard 0's master through pfs.API, the master is SIGSTOPped until the election names another
// node (3 × the lease at least), then SIGCONTed; the pfs.Shard calls go to its address
// directly (the API routes by the election, so it would not reach it). Waits are generous
// bounds, never timings.
import test from "ava";
import type { PfsClient } from "../e2e/pfs-api-support.js";
import { eventually } from "../e2e/pfs-crash-support.js";
import { features, waitingFor } from "./features.js";
import { PfsCluster, chaosClusterDefaults } from "./pfs-cluster.js";
import { pathOnShard, shardFinishCommit, shardPutFile } from "./shard-calls.js";

const title = "fencing: a deposed shard master's writes and finishes are refused, its staged " +
  "data never becomes visible";

async function refused(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error: unknown) {
    return String((error as { details?: unknown }).details ?? error);
  }
}

/**
 * A commit writing `path`, retried (failing any commit left open) while the cluster settles
 * (a shard whose master is still being elected refuses as retryable); its id.
 */
async function settledCommit(api: PfsClient, repo: string, path: string): Promise<string> {
  let id = "";
  const finished = await eventually(60_000, async () => {
    const open = (await api.call("InspectBranch", { repo, branch: "master" })
      .catch(() => ({ open: "" }))).open;
    if (open !== "") {
      await api.call("FinishCommit", { commit: { repo, commit: open }, error: "retry" });
    }
    const commit = await api.call("StartCommit", { repo, branch: "master" });
    await api.putFile({ repo, commit: commit.id, path }, [Buffer.from(path)]);
    id = commit.id;
    return (await api.call("FinishCommit", { commit: { repo, commit: id } })).state ===
      "FINISHED";
  });
  if (!finished) throw new Error(`no commit of ${path} finished in 60 s`);
  return id;
}

if (!features.replication) {
  test.todo(waitingFor(title, "replication wired into pfsd (--replicas, shard masters)"));
} else {
  test(title, async (t) => {
    t.timeout(150_000);
    const lease = 2;
    const cluster = await PfsCluster.start({ ...chaosClusterDefaults, nodes: 3, shards: 2,
      masterLeaseTtlSeconds: lease });
    try {
      const shard = 0;
      t.true(await eventually(60_000, async () =>
        (await cluster.shardMaster(0)) !== undefined &&
        (await cluster.shardMaster(1)) !== undefined), "the shards never had masters");
      const master = await cluster.shardMaster(shard) ?? "";
      const other = cluster.names.find((name) => name !== master) ?? "";
      const api = cluster.client(other);
      const repo = "fence";
      await api.call("CreateRepo", { name: repo });
      const first = await settledCommit(api, repo, pathOnShard("/base", shard, 2));
      const staged = await api.call("StartCommit", { repo, branch: "master" });
      const stagedPath = pathOnShard("/staged", shard, 2);
      await api.putFile({ repo, commit: staged.id, path: stagedPath }, [Buffer.from("staged")]);

      cluster.sigstop(master);
      const stoppedMs = Date.now();
      const deposed = await eventually(60_000, async () => {
        const now = await cluster.shardMaster(shard);
        return now !== undefined && now !== master && Date.now() - stoppedMs >= 3 * lease * 1000;
      });
      cluster.sigcont(master);
      t.true(deposed, `${master} stayed master of shard ${shard} for 60 s while stopped`);
      t.log(`${master} deposed; new master ${await cluster.shardMaster(shard) ?? "-"}`);

      const target = { shard, repo, commit: staged.id, parent: first };
      const shardClient = cluster.shardClient(master);
      const put = await refused(shardPutFile(shardClient, target, pathOnShard("/late", shard, 2),
        Buffer.from("late")));
      t.not(put, undefined, "the deposed master accepted a PutFile");
      const finish = await refused(shardFinishCommit(shardClient, target));
      t.not(finish, undefined, "the deposed master finished its part of the commit");
      t.log(`refusals: put: ${put ?? "-"}; finish: ${finish ?? "-"}`);

      const apiFinish = await api.call("FinishCommit", { commit: { repo, commit: staged.id } })
        .then((info) => info.state, (error: unknown) => `error ${String(error)}`);
      t.not(apiFinish, "FINISHED", "the commit staged on the deposed master finished");
      const inspected = await api.call("InspectCommit", { commit: { repo, commit: staged.id } });
      t.not(inspected.state, "FINISHED");
      const branch = await api.call("InspectBranch", { repo, branch: "master" });
      t.is(branch.head, first, "the branch head moved off the last good commit");
      const visible = await api.call("ListFile",
        { file: { commit: { repo, commit: "master" }, path: "/" } });
      t.false(visible.files.some((file) => file.path.startsWith("/staged") ||
        file.path.startsWith("/late")), JSON.stringify(visible.files.map((file) => file.path)));

      // The failed finish may leave the commit open (a retryable refusal): fail it, then a new
      // commit must finish through the new master.
      t.true(await eventually(30_000, async () => {
        const open = (await api.call("InspectBranch", { repo, branch: "master" })).open;
        if (open === "") return true;
        await api.call("FinishCommit", { commit: { repo, commit: open }, error: "fenced" });
        return false;
      }), "the branch kept its open commit");
      const next = await api.call("StartCommit", { repo, branch: "master" });
      await api.putFile({ repo, commit: next.id, path: pathOnShard("/next", shard, 2) },
        [Buffer.from("next")]);
      t.is((await api.call("FinishCommit", { commit: { repo, commit: next.id } })).state,
        "FINISHED", "no commit finishes after the fencing");
    } finally {
      await cluster.close();
    }
  });
}
