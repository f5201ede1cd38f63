// Goal: the orphan sweeper's actions on a real coordination store are exact and safe when two
// sweepers overlap (issue 6): each orphaned open auto-commit is deleted once (its staged data
// dropped on every shard), a finishing one is finished once, a live owner's commit and a user's
// commit are left open; a finishing orphan a shard refuses to seal for good is failed (head
// kept), one a shard cannot reach now stays finishing for the next sweep.
// Method: one pfsd member (embedded coordination layer); MetaStore and the sweepers on a fresh
// key root per test; node health written as the placement controller and remove-node would
// write it; the shards are a fake of one shard whose seal answers as the test says (the data
// side of a sweep is a call per shard, covered by the e2e test with real processes).
import test from "ava";
import { PfsError, SystemClock, createLogger } from "../../pkg/common/index.js";
import { MetaStore } from "../../pkg/pfs/index.js";
// eslint-disable-next-line pfs/boundaries -- the health keys and record the controller writes.
import { ReplicaMapKeys, encodeOfflineRecord } from "../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs/api's routing contract, faked with one shard.
import type { ShardRouting } from "../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries -- the shard contract, faked with one shard.
import type { ShardReplica } from "../../pkg/pfs/shard/shard-api.js";
// eslint-disable-next-line pfs/boundaries -- the commit lifecycle the sweeper drives.
import { CommitResolver } from "../../pkg/pfs/api/commit-resolver.js";
// eslint-disable-next-line pfs/boundaries -- the sweeper itself, internal to the API layer.
import { OrphanSweeper } from "../../pkg/pfs/api/orphan-sweep.js";
// eslint-disable-next-line pfs/boundaries -- the auto-commit owner format, internal to the API.
import { autoCommitDescription } from "../../pkg/pfs/api/commit-recovery.js";
import { useStores } from "./pfs-replication-support.js";

const store = useStores(["pfsd"]);
const deadTimeMs = 30_000;
let rootsMade = 0;

/** One shard: seals answer `seal()`; aborts are counted by commit id. */
function oneShard(seal: () => Promise<void>, aborted: Map<string, number>): ShardRouting {
  const replica: Pick<ShardReplica, "finishCommit" | "abortCommit"> = {
    finishCommit: async () => {
      await seal();
      return { files: 0, sizeBytes: 0 };
    },
    abortCommit: (commit) => {
      aborted.set(commit.id, (aborted.get(commit.id) ?? 0) + 1);
      return Promise.resolve();
    },
  };
  // Only the two calls above are made by a sweep (discard, resume, fail).
  const shard = replica as ShardReplica;
  return { shards: 1, replica: () => Promise.resolve(shard), all: () => Promise.resolve([shard]) };
}

async function setUp(seal: () => Promise<void>): Promise<{
  meta: MetaStore; sweeper: () => OrphanSweeper; aborted: Map<string, number>;
}> {
  rootsMade += 1;
  const root = `/orphan-${process.pid}-${rootsMade}`;
  const client = store("pfsd").client();
  const meta = new MetaStore(client, { root });
  const keys = new ReplicaMapKeys(root);
  const clock = new SystemClock();
  // `up` is online, `dead` offline for twice the dead time, `gone` retired.
  await client.put(`${keys.nodes}up`).value("{}");
  await client.put(`${keys.health}dead`)
    .value(encodeOfflineRecord({ offlineSinceWallMs: clock.wallMs() - 2 * deadTimeMs }));
  await client.put(`${keys.retired}gone`).value("{}");
  const aborted = new Map<string, number>();
  const logger = createLogger({ nodeId: "test", component: "orphan-sweep", level: "error",
    format: "json" });
  const router = oneShard(seal, aborted);
  const sweeper = (): OrphanSweeper => new OrphanSweeper({ client, keys, meta, clock, logger,
    commits: new CommitResolver(meta, router, logger), leading: () => true, deadTimeMs });
  return { meta, sweeper, aborted };
}

test("two overlapping sweepers settle each orphan once and leave the rest", async (t) => {
  const { meta, sweeper, aborted } = await setUp(() => Promise.resolve());
  await meta.createRepo("r");
  const start = (branch: string, node: string, auto = true): Promise<string> =>
    meta.startCommit("r", branch, { auto, description: autoCommitDescription({ node, run: "0a" }) })
      .then((commit) => commit.id);
  const deadOpen = await start("dead-open", "dead");
  const goneOpen = await start("gone-open", "gone");
  const deadFinishing = await start("dead-finishing", "dead");
  await meta.setFinishing("r", deadFinishing);
  const live = await start("live", "up");
  const user = await start("user", "dead", false);

  const reports = await Promise.all([sweeper().sweep(), sweeper().sweep()]);
  const outcomes = (id: string): string[] => reports.flatMap((report) => {
    const outcome = report.outcomes.get(`r@${id}`);
    return outcome === undefined ? [] : [outcome];
  }).sort();
  for (const id of [deadOpen, goneOpen]) {
    t.true(outcomes(id).filter((outcome) => outcome === "deleted").length === 1,
      `${id}: ${outcomes(id).join(",")}`);
    await t.throwsAsync(meta.inspectCommit("r", id), { instanceOf: PfsError });
    t.true((aborted.get(id) ?? 0) >= 1, "its staged data is dropped");
  }
  t.true(outcomes(deadFinishing).includes("finished"), outcomes(deadFinishing).join(","));
  t.like(await meta.inspectCommit("r", deadFinishing), { state: "finished" });
  t.like(await meta.inspectBranch("r", "dead-finishing"), { head: deadFinishing, open: "" });
  for (const [id, branch] of [[live, "live"], [user, "user"]] as const) {
    t.deepEqual(outcomes(id), []);
    t.like(await meta.inspectCommit("r", id), { state: "open" });
    t.like(await meta.inspectBranch("r", branch), { open: id });
  }
  // A third sweep finds nothing more to do.
  t.is((await sweeper().sweep()).outcomes.size, 0);
});

test("a finishing orphan refused for good is failed; one not reachable now stays", async (t) => {
  let refusal = new PfsError("UNAVAILABLE", "shard 0 has no master now");
  const { meta, sweeper } = await setUp(() => Promise.reject(refusal));
  await meta.createRepo("r");
  const id = (await meta.startCommit("r", "master",
    { auto: true, description: autoCommitDescription({ node: "dead", run: "0b" }) })).id;
  await meta.setFinishing("r", id);
  t.is((await sweeper().sweep()).outcomes.get(`r@${id}`), "retry");
  t.like(await meta.inspectCommit("r", id), { state: "finishing" });
  refusal = new PfsError("FAILED_PRECONDITION", "its staged data died with its master");
  t.is((await sweeper().sweep()).outcomes.get(`r@${id}`), "failed");
  const failed = await meta.inspectCommit("r", id);
  t.is(failed.state, "failed");
  t.regex(failed.error, /staged data died/);
  t.like(await meta.inspectBranch("r", "master"), { head: "", open: "" });
});
