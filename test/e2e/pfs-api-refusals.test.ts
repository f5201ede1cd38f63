// Goal: bad input to the pfs API gets a clear error and changes nothing (DESIGN.md §7.5):
// bad paths, a tar whose bad entry (symlink, hard link, escape) comes after good ones — into a
// branch (no commit, open or failed, is left) and into an open commit (none of its entries
// lands) —, writes to a finished commit, unknown repos, branches and commits; and pfsd's own
// refusals: a second pfsd on a locked data dir, a different --shards than the cluster's, and a
// restart after kill -9 that the stale lock does not block.
// Method: one 1-node pfsd cluster (embedded etcd, --shards 4) with raw grpc-js clients.
import test from "ava";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient, pfsAddresses, spawnPfsd, tarOf } from "./pfs-api-support.js";

let cluster: MemberCluster;
let client: PfsClient;

/** gRPC codes. */
const invalidArgument = 3;
const notFound = 5;
const failedPrecondition = 9;

test.before(async () => {
  cluster = await startCluster({ kind: "pfsd", size: 1,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "4"] });
  const [address] = await pfsAddresses([cluster.endpoints], 1);
  if (address === undefined) throw new Error("no pfs address");
  client = new PfsClient(address);
});

test.after.always(async () => {
  client.close();
  await cluster.stop();
});

async function commitsOf(repo: string): Promise<string[]> {
  const listed = await client.call("ListCommit", { repo, branch: "" });
  return listed.commits.map((commit) => `${commit.id}:${commit.state}`);
}

test.serial("bad paths are refused and leave no commit", async (t) => {
  await client.call("CreateRepo", { name: "paths" });
  for (const path of ["/a/../b", "/a\u0000b", "", "/"]) {
    const failure = await t.throwsAsync(client.putFile({ repo: "paths", commit: "master", path },
      [Buffer.from("x")]));
    t.is((failure as unknown as { code: number }).code, invalidArgument, JSON.stringify(path));
  }
  t.deepEqual(await commitsOf("paths"), []);
  const glob = await client.failure("GlobFile", { commit: { repo: "paths", commit: "master" },
    pattern: "/a/../*" });
  t.true([invalidArgument, notFound].includes(glob.code), glob.details);
});

test.serial("a bad tar entry after good ones leaves no commit and no file", async (t) => {
  await client.call("CreateRepo", { name: "tars" });
  await client.putFile({ repo: "tars", commit: "master", path: "/keep.txt" }, [Buffer.from("k")]);
  const before = await commitsOf("tars");
  const hostile = [
    [{ name: "good.txt", data: "g" }, { name: "evil", type: "symlink" as const, linkname: "/etc/passwd" }],
    [{ name: "good.txt", data: "g" }, { name: "hard", type: "link" as const, linkname: "good.txt" }],
    [{ name: "good.txt", data: "g" }, { name: "../escape.txt", data: "e" }],
  ];
  for (const entries of hostile) {
    const archive = await tarOf(entries);
    const failure = await t.throwsAsync(client.putFile(
      { repo: "tars", commit: "master", path: "/in", format: "TAR" }, [archive]));
    t.is((failure as unknown as { code: number }).code, invalidArgument, failure.message);
  }
  t.deepEqual(await commitsOf("tars"), before, "no commit, open or failed, is left behind");
  t.is((await client.call("InspectBranch", { repo: "tars", branch: "master" })).open, "");
  // Into an open commit: the refusal drops the whole archive, the commit stays usable.
  const open = await client.call("StartCommit", { repo: "tars", branch: "master" });
  const archive = await tarOf([{ name: "a.txt", data: "a" },
    { name: "dev", type: "symlink", linkname: "x" }]);
  await t.throwsAsync(client.putFile({ repo: "tars", commit: open.id, path: "/in", format: "TAR" },
    [archive]));
  await client.putFile({ repo: "tars", commit: open.id, path: "/ok.txt" }, [Buffer.from("ok")]);
  await client.call("FinishCommit", { commit: { repo: "tars", commit: open.id } });
  const files = await client.call("ListFile", { file: { commit: { repo: "tars", commit: "master" }, path: "/" } });
  t.deepEqual(files.files.map((file) => file.path), ["/keep.txt", "/ok.txt"]);
});

test.serial("writes to a finished commit and reads of an open one are refused", async (t) => {
  await client.call("CreateRepo", { name: "states" });
  const put = await client.putFile({ repo: "states", commit: "master", path: "/f" }, [Buffer.from("1")]);
  const write = await t.throwsAsync(client.putFile({ repo: "states", commit: put.commit, path: "/g" },
    [Buffer.from("2")]));
  t.is((write as unknown as { code: number }).code, failedPrecondition);
  t.regex(write.message, /finished/);
  const again = await client.failure("FinishCommit", { commit: { repo: "states", commit: put.commit } });
  t.is(again.code, failedPrecondition);
  const open = await client.call("StartCommit", { repo: "states", branch: "master" });
  const read = await client.failure("InspectFile", { file: { commit: { repo: "states", commit: open.id }, path: "/f" } });
  t.is(read.code, failedPrecondition);
  t.regex(read.details, /open/);
  await client.call("DeleteCommit", { commit: { repo: "states", commit: open.id } });
  t.is((await client.getFile("states", "master", "/f")).toString(), "1");
});

test.serial("unknown repos, branches, commits and files are NOT_FOUND", async (t) => {
  t.is((await client.failure("InspectRepo", { name: "nope" })).code, notFound);
  const put = await t.throwsAsync(client.putFile({ repo: "nope", commit: "master", path: "/f" },
    [Buffer.from("x")]));
  t.is((put as unknown as { code: number }).code, notFound);
  await client.call("CreateRepo", { name: "known" });
  const branch = await client.failure("ListFile", { file: { commit: { repo: "known", commit: "nobranch" }, path: "/" } });
  t.is(branch.code, notFound);
  const commit = await client.failure("InspectCommit",
    { commit: { repo: "known", commit: "0123456789abcdef0123456789abcdef" } });
  t.is(commit.code, notFound);
  await client.putFile({ repo: "known", commit: "master", path: "/f" }, [Buffer.from("x")]);
  const file = await client.failure("InspectFile", { file: { commit: { repo: "known", commit: "master" }, path: "/g" } });
  t.is(file.code, notFound);
});

test.serial("a second pfsd on a locked data dir exits non-zero with one clear line", async (t) => {
  const member = cluster.members[0];
  if (member === undefined) throw new Error("no member");
  const second = spawnPfsd(["--name", "again", "--data-dir", member.dataDir,
    "--etcd-endpoints", cluster.endpoints, "--pfs-address", "127.0.0.1:0", "--shards", "4"]);
  t.not(await second.exited, 0);
  t.regex(second.stderr(), /^pfsd: data directory .* is in use by pfsd pid \d+/m);
});

test.serial("a different --shards is refused; a pfsd killed with -9 restarts on its dir",
  async (t) => {
    const other = spawnPfsd(["--name", "other", "--data-dir", `${cluster.members[0]?.dataDir ?? ""}-other`,
      "--etcd-endpoints", cluster.endpoints, "--pfs-address", "127.0.0.1:0", "--shards", "8"]);
    t.not(await other.exited, 0);
    t.regex(other.stderr(), /^pfsd: the cluster was created with 4 shards.* cannot become 8/m);
    const member = cluster.members[0];
    if (member === undefined) throw new Error("no member");
    const [before] = await pfsAddresses([cluster.endpoints], 1);
    await member.kill9();
    await member.restart();
    await member.waitServing();
    // The dead node's registration may outlive it by a lease TTL; wait for the new one.
    let address = before;
    for (let waited = 0; address === before && waited < 30_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      [address] = await pfsAddresses([cluster.endpoints], 1);
    }
    t.not(address, before);
    const again = new PfsClient(address ?? "");
    try {
      t.is((await again.call("InspectRepo", { name: "known" })).name, "known");
      t.is((await again.getFile("known", "master", "/f")).toString(), "x");
    } finally {
      again.close();
    }
  });
