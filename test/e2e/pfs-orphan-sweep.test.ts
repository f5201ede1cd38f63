// Goal: an auto-commit whose node dies for good does not block its branch forever (issue 6):
// once the node is faulty (offline past --dead-time), the orphan sweeper on the placement
// controller's node deletes the commit with its staged data; the branch takes a new commit,
// and nothing of the orphan is visible (no commit, no file, no staged-on mark).
// Method: a real 3-node pfsd cluster (embedded coordination layer, R=3, W=2, --dead-time 3, data
// in /dev/shm when there is one); a big put into a branch without an open commit is streamed to
// one node (its own auto-commit, driven by that node), which is killed with -9 mid-stream, once
// the branch shows the commit open, and never restarted. The victim is picked by a seeded PRNG
// (PFS_TEST_SEED replays it); everything is read through the surviving nodes.
import { existsSync } from "node:fs";
import test from "ava";
import { Etcd3 } from "etcd3";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient } from "./pfs-api-support.js";
import { addressOf, eventually, killingAt, seededPieces } from "./pfs-crash-support.js";

const parentDir = existsSync("/dev/shm") ? "/dev/shm" : undefined;
const notFound = 5;
/**
 * Bound of the wait for the sweep: the victim's node lease (10 s, renewed in full once more if
 * it led Raft), the dead time (3 s), a controller failover (5 s lease) if it led placement, and
 * one sweep interval (5 s); generous for a loaded machine.
 */
const sweptMsMax = 120_000;

let cluster: MemberCluster;
let etcd: Etcd3;
const clients: PfsClient[] = [];

test.before(async () => {
  cluster = await startCluster({
    kind: "pfsd", size: 3, ...(parentDir === undefined ? {} : { parentDir }),
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "4", "--replicas", "3",
      "--write-quorum", "2", "--master-lease-ttl", "2", "--dead-time", "3"],
  });
  etcd = new Etcd3({ hosts: cluster.endpoints.split(",") });
});

test.after.always(async () => {
  for (const client of clients) client.close();
  etcd.close();
  await cluster.stop();
});

async function clientOf(name: string): Promise<PfsClient> {
  const client = new PfsClient(await addressOf(cluster.endpoints, name));
  clients.push(client);
  return client;
}

test("an auto-commit of a node dead for good is deleted, and its branch takes new commits",
  async (t) => {
    const seed = Number(process.env["PFS_TEST_SEED"] ?? systemSeed());
    t.log(`seed ${seed} (PFS_TEST_SEED=${seed} replays it)`);
    const prng = new Prng(seed);
    const victim = prng.pick([...cluster.members]);
    const survivors = cluster.members.filter((member) => member !== victim);
    const [first] = survivors;
    if (first === undefined) throw new Error("no survivor");
    t.log(`victim ${victim.name}`);
    const survivor = await clientOf(first.name);
    const doomed = await clientOf(victim.name);
    const repo = "orphans";
    await survivor.call("CreateRepo", { name: repo });
    await doomed.putFile({ repo, commit: "master", path: "/before" }, [Buffer.from("kept")]);
    const head = (await survivor.call("InspectBranch", { repo, branch: "master" })).head;

    // A big put through the victim, killed mid-stream once its auto-commit is open.
    let orphan = "";
    const kill = async (): Promise<void> => {
      t.true(await eventually(30_000, async () => {
        orphan = (await survivor.call("InspectBranch", { repo, branch: "master" })).open;
        return orphan !== "";
      }), "the put's auto-commit is open");
      await victim.kill9();
    };
    const size = 64 * 1024 * 1024;
    const put = doomed.putFile({ repo, commit: "master", path: "/big" },
      killingAt(seededPieces(prng.nextUint32(), size), prng.intBetween(1, 8) * 256 * 1024, kill));
    await t.throwsAsync(put, undefined, "the put through the killed node fails");
    t.regex(orphan, /^[0-9a-f]{32}$/);
    const stuck = await survivor.call("InspectCommit", { commit: { repo, commit: orphan } });
    t.like(stuck, { state: "OPEN" }, "the orphan is open right after the kill");
    t.regex(stuck.description, new RegExp(`pfsd ${victim.name} `), "and driven by the victim");

    // The sweeper deletes it once the victim is faulty.
    const swept = await eventually(sweptMsMax, async () =>
      (await survivor.call("InspectBranch", { repo, branch: "master" })).open === "");
    t.true(swept, `the orphan ${orphan} is settled within ${sweptMsMax} ms`);
    const gone = await survivor.failure("InspectCommit", { commit: { repo, commit: orphan } });
    t.is(gone.code, notFound, gone.details);
    t.like(await survivor.call("InspectBranch", { repo, branch: "master" }), { head, open: "" });
    const staged = await etcd.getAll().prefix(`/pfs/staged-on/${repo}/${orphan}/`).keys();
    t.deepEqual(staged, [], "no staged-on mark of the orphan is left");

    // The branch takes a new commit, and only acknowledged files are visible.
    await survivor.putFile({ repo, commit: "master", path: "/after" }, [Buffer.from("new")]);
    t.deepEqual(await survivor.getFile(repo, "master", "/after"), Buffer.from("new"));
    const files = await survivor.call("GlobFile", { commit: { repo, commit: "master" },
      pattern: "/**" });
    t.deepEqual(files.files.map((file) => file.path).sort(), ["/after", "/before"]);
    const commits = await survivor.call("ListCommit", { repo });
    t.false(commits.commits.some((commit) => commit.id === orphan), "no trace in ListCommit");
  });
