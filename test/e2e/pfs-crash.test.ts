// Goal: a kill -9 of pfsd during a put or a finish leaves either the old state or the new one,
// never a mix, and loses nothing acknowledged (issue 5). What a user sees after the restart:
// - every put acknowledged before the kill reads back byte-identical (sha256), once its commit
//   is finished; the interrupted put's file is absent or old, or entirely the new content
//   (new if it was acknowledged); no other file appears or disappears;
// - a commit the user started stays open (its acknowledged puts are kept) and finishes;
// - the commit a put into a branch made for itself (an auto-commit) does not stay open: the
//   restarted node deletes it (it was never acknowledged, so nothing is lost), or, when the kill
//   came while it was finishing, the node completes the finish; either way the branch takes
//   the next put;
// - a commit killed while finishing is finishing or finished after the restart, never half
//   visible: the restarted node resumes the finish, and a retried FinishCommit completes it
//   (or is FAILED_PRECONDITION because it is finished); the branch head moves exactly when the
//   commit is finished, and it holds every file;
// - with 3 nodes, killing the master of a shard while another node forwards a put into it
//   fails the put and leaves the file old (or, when the master died before it took a byte,
//   the put goes whole to the next master), leaves no commit open, and the branch takes the
//   next put (on the replica that became master).
// Method: real pfsd processes (embedded etcd member, --shards 4) with their data in /dev/shm
// when it exists (a kill -9 keeps the page cache, so what a process wrote survives it whether
// or not it was fsynced: tmpfs changes nothing here but the speed), kills at seeded moments (a
// byte count of the streamed put, or a delay after its end or after FinishCommit was sent);
// PFS_CRASH_ITERATIONS sets the rounds (default 3), PFS_SEED replays a run.
import { existsSync } from "node:fs";
import test, { type ExecutionContext } from "ava";
import { Etcd3 } from "etcd3";
import { Prng, systemSeed } from "../../pkg/common/index.js";
import { shardOf } from "../../pkg/pfs/index.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient, tarOf } from "./pfs-api-support.js";
import {
  addressOf, eventually, killingAt, restartAfterKill, seededHash, seededPieces, sha256,
} from "./pfs-crash-support.js";

/** Kills per single-node test; 3 + 3 + 1 keep the file near a minute on a loaded machine. */
const iterations = Number(process.env["PFS_CRASH_ITERATIONS"] ?? 3);
const shards = 4;
const failedPrecondition = 9;
const notFound = 5;
/** Where the members keep their data: tmpfs when there is one (see Method). */
const parentDir = existsSync("/dev/shm") ? "/dev/shm" : undefined;

function testSeed(): number {
  const text = process.env["PFS_SEED"];
  return text === undefined ? systemSeed() : Number(text);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The sha256 of every file of `repo@commit`, by path. */
async function contentOf(client: PfsClient, repo: string, commit: string):
  Promise<Map<string, string>> {
  const files = await client.call("GlobFile", { commit: { repo, commit }, pattern: "/**" });
  const content = new Map<string, string>();
  for (const file of files.files) {
    content.set(file.path, sha256(await client.getFile(repo, commit, file.path)));
  }
  return content;
}

/** The states of the commits of `repo@branch` that are neither finished nor failed. */
async function unsettled(client: PfsClient, repo: string): Promise<string[]> {
  const listed = await client.call("ListCommit", { repo, branch: "master", limit: 1000 });
  return listed.commits.filter((commit) => commit.state === "OPEN" || commit.state === "FINISHING")
    .map((commit) => `${commit.id}:${commit.state}`);
}

function sorted(map: ReadonlyMap<string, string>): [string, string][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

let single: MemberCluster;
let client: PfsClient;

test.before(async () => {
  single = await startCluster({ kind: "pfsd", size: 1, ...(parentDir === undefined ? {} : { parentDir }),
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", String(shards)] });
  client = new PfsClient(await addressOf(single.endpoints, "m1"));
});

test.after.always(async () => {
  client.close();
  await single.stop();
});

function fail(): never {
  throw new Error("no member");
}

/** Kills the single node now (if running) and reconnects to it after its restart. */
async function restartSingle(): Promise<void> {
  const stale = client.address;
  client.close();
  client = await restartAfterKill(single.members[0] ?? fail(), single.endpoints, stale);
}

interface PutRound {
  readonly auto: boolean;
  readonly commit: string;
  readonly what: string;
}

/** One round of the put test: acknowledged puts, then a big put killed at a seeded moment. */
async function putRound(t: ExecutionContext, repo: string, round: number, prng: Prng,
  expected: Map<string, string>): Promise<void> {
  const auto = round % 2 === 0; // Both kinds in every run.
  const commit = auto ? "master"
    : (await client.call("StartCommit", { repo, branch: "master" })).id;
  const state: PutRound = { auto, commit, what: `round ${round} (${auto ? "auto" : commit})` };
  const staged = new Map(expected);
  for (let count = prng.intBetween(1, 3); count > 0; count -= 1) {
    const path = `/ack/${round}-${count}`;
    const seed = prng.nextUint32();
    const size = prng.intBetween(0, 300_000);
    await client.putFile({ repo, commit, path }, seededPieces(seed, size));
    staged.set(path, seededHash(seed, size));
  }
  const big = `/big/${round % 2}`;
  const bigSeed = prng.nextUint32();
  const bigSize = prng.intBetween(1, 10) * 1024 * 1024 + prng.intBelow(100_000);
  const newHash = seededHash(bigSeed, bigSize);
  const afterEnd = prng.chance(0.3);
  const killAt = afterEnd ? bigSize : prng.intBelow(bigSize);
  const delayMs = prng.intBelow(400);
  t.log(`${state.what}: ${bigSize} B to ${big}, kill ${afterEnd ? `${delayMs} ms after the end`
    : `at byte ${killAt}`}`);
  let killed: Promise<void> = Promise.resolve();
  const kill = (): Promise<void> => {
    killed = (afterEnd ? sleep(delayMs) : Promise.resolve()).then(restartSingle);
    return afterEnd ? Promise.resolve() : killed;
  };
  const put = client.putFile({ repo, commit, path: big },
    killingAt(seededPieces(bigSeed, bigSize), killAt, kill));
  const acknowledged = await put.then(() => true, () => false);
  await killed;
  await checkAfterPut(t, repo, state, { staged, big, newHash, acknowledged });
  expected.clear();
  for (const [path, hash] of await contentOf(client, repo, "master")) expected.set(path, hash);
}

async function checkAfterPut(t: ExecutionContext, repo: string, round: PutRound, outcome: {
  staged: Map<string, string>; big: string; newHash: string; acknowledged: boolean;
}): Promise<void> {
  const { what } = round;
  if (round.auto) {
    t.true(await eventually(20_000, async () =>
      (await client.call("InspectBranch", { repo, branch: "master" })).open === ""),
    `${what}: the interrupted auto-commit does not stay open`);
  } else {
    t.is((await client.call("InspectBranch", { repo, branch: "master" })).open, round.commit,
      `${what}: the user's commit stays open`);
    const finished = await client.call("FinishCommit", { commit: { repo, commit: round.commit } });
    t.is(finished.state, "FINISHED", what);
  }
  t.deepEqual(await unsettled(client, repo), [], `${what}: no commit left open or finishing`);
  const content = await contentOf(client, repo, "master");
  const old = outcome.staged.get(outcome.big);
  const found = content.get(outcome.big);
  if (outcome.acknowledged) t.is(found, outcome.newHash, `${what}: acknowledged put survives`);
  else t.true(found === old || found === outcome.newHash, `${what}: ${outcome.big} is old or new`);
  const others = new Map(content);
  others.delete(outcome.big);
  const expectedOthers = new Map(outcome.staged);
  expectedOthers.delete(outcome.big);
  t.deepEqual(sorted(others), sorted(expectedOthers), `${what}: acknowledged files, exactly`);
  // The branch takes the next write.
  await client.putFile({ repo, commit: "master", path: "/after" }, [Buffer.from(what)]);
  t.deepEqual(await client.getFile(repo, "master", "/after"), Buffer.from(what));
}

test.serial("kill -9 during streamed puts (auto-commit and open commit)", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (PFS_SEED=${seed} replays it)`);
  const prng = new Prng(seed);
  const repo = "puts";
  await client.call("CreateRepo", { name: repo });
  const expected = new Map<string, string>();
  for (let round = 0; round < iterations; round += 1) {
    await putRound(t, repo, round, new Prng(prng.nextUint32()), expected);
  }
});

test.serial("kill -9 during FinishCommit: finishing or finished, resumed, never half visible",
  async (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (PFS_SEED=${seed} replays it)`);
    const prng = new Prng(seed);
    const repo = "finishes";
    await client.call("CreateRepo", { name: repo });
    const expected = new Map<string, string>();
    for (let round = 0; round < iterations; round += 1) {
      const what = `seed ${seed} round ${round}`;
      const open = (await client.call("StartCommit", { repo, branch: "master" })).id;
      const entries = Array.from({ length: prng.intBetween(300, 1500) }, (_, index) =>
        ({ name: `f${index}`, data: `${round}/${index}/${prng.nextUint32()}` }));
      await client.putFile({ repo, commit: open, path: `/r${round}`, format: "TAR" },
        [await tarOf(entries)]);
      for (const entry of entries) {
        expected.set(`/r${round}/${entry.name}`, sha256(Buffer.from(entry.data)));
      }
      const delayMs = prng.intBelow(300);
      t.log(`${what}: ${entries.length} files, kill ${delayMs} ms after FinishCommit`);
      const began = Date.now();
      const finish = client.call("FinishCommit", { commit: { repo, commit: open } });
      await sleep(delayMs);
      await restartSingle();
      const acknowledged = await finish.then(() => true, () => false);
      t.log(`${what}: restarted ${Date.now() - began} ms after FinishCommit`);
      const after = await client.call("InspectCommit", { commit: { repo, commit: open } });
      t.true(["OPEN", "FINISHING", "FINISHED"].includes(after.state), `${what}: ${after.state}`);
      if (acknowledged) t.is(after.state, "FINISHED", `${what}: an acknowledged finish stays`);
      const branch = await client.call("InspectBranch", { repo, branch: "master" });
      t.is(branch.head === open, after.state === "FINISHED", `${what}: head moves with the state`);
      try {
        t.is((await client.call("FinishCommit", { commit: { repo, commit: open } })).state,
          "FINISHED", what);
      } catch (error: unknown) {
        const failure = error as { code: number; details: string };
        t.is(failure.code, failedPrecondition, `${what}: ${failure.details}`);
        t.regex(failure.details, /finished/, what);
      }
      t.log(`${what}: ${after.state} after the restart, finished ${Date.now() - began} ms after`);
      const done = await client.call("InspectCommit", { commit: { repo, commit: open } });
      t.is(done.state, "FINISHED", what);
      t.like(await client.call("InspectBranch", { repo, branch: "master" }),
        { head: open, open: "" }, what);
      const files = await client.call("GlobFile", { commit: { repo, commit: open },
        pattern: "/**" });
      t.deepEqual(files.files.map((file) => file.path).sort(), [...expected.keys()].sort(), what);
      for (let probe = 0; probe < 10; probe += 1) {
        const file = prng.pick(files.files.map((info) => info.path));
        t.is(sha256(await client.getFile(repo, open, file)), expected.get(file) ?? "none", `${what}: ${file}`);
      }
    }
  });

/** The nodes of a 3-node cluster: name → pfs address. */
async function nodesOf(cluster: MemberCluster): Promise<Map<string, string>> {
  const nodes = new Map<string, string>();
  for (const member of cluster.members) {
    nodes.set(member.name, await addressOf(cluster.endpoints, member.name));
  }
  return nodes;
}

test.serial("3 nodes: the node holding a shard is killed while another forwards a put", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (PFS_SEED=${seed} replays it)`);
  const prng = new Prng(seed);
  const cluster = await startCluster({ kind: "pfsd", size: 3,
    ...(parentDir === undefined ? {} : { parentDir }),
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", String(shards)] });
  const clients: PfsClient[] = [];
  try {
    const nodes = await nodesOf(cluster);
    const first = new PfsClient(nodes.get("m1") ?? fail());
    clients.push(first);
    const repo = "forward";
    await first.call("CreateRepo", { name: repo });
    const path = "/target.bin";
    await first.putFile({ repo, commit: "master", path }, [Buffer.from("old")]);
    const etcd = new Etcd3({ hosts: cluster.endpoints.split(",") });
    // The shard's master takes the put (its election's first key).
    const owner = await etcd.getAll().prefix(`/pfs/election/shard-master/${shardOf(path, shards)}/`)
      .sort("Create", "Ascend").limit(1).exec()
      .then((response) => response.kvs[0]?.value.toString("utf8"))
      .finally(() => { etcd.close(); }) ?? fail();
    const forwarderName = [...nodes.keys()].find((name) => name !== owner) ?? fail();
    const forwarder = new PfsClient(nodes.get(forwarderName) ?? fail());
    clients.push(forwarder);
    const member = cluster.members.find((candidate) => candidate.name === owner) ?? fail();
    const size = 8 * 1024 * 1024;
    const killAt = prng.intBetween(256 * 1024, size - 512 * 1024);
    t.log(`owner ${owner}, forwarder ${forwarderName}, kill at byte ${killAt}`);
    const dataSeed = prng.nextUint32();
    const put = forwarder.putFile({ repo, commit: "master", path },
      killingAt(seededPieces(dataSeed, size), killAt, () => member.kill9()));
    // The put fails, or (the master died before it took a byte: the put waits for its "ready")
    // the forwarder sends it whole to the next master. Either way nothing half-written shows.
    const outcome = await put.then(() => undefined, (error: unknown) => String(error));
    t.log(outcome === undefined ? "the put went whole to the next master"
      : `the forwarded put failed: ${outcome}`);
    const expected = outcome === undefined ? seededHash(dataSeed, size) : sha256(Buffer.from("old"));
    await member.restart();
    await member.waitServing();
    await addressOf(cluster.endpoints, owner, nodes.get(owner));
    const settled = await eventually(20_000, async () =>
      (await forwarder.call("InspectBranch", { repo, branch: "master" })).open === "");
    const forwarding = cluster.members.find((candidate) => candidate.name === forwarderName);
    t.true(settled, `no commit stays open on the branch; ${forwarderName}: ${forwarding?.log() ?? ""}`);
    t.deepEqual(await unsettled(forwarder, repo), []);
    t.is(sha256(await forwarder.getFile(repo, "master", path)), expected);
    await forwarder.putFile({ repo, commit: "master", path }, [Buffer.from("new")]);
    t.deepEqual(await forwarder.getFile(repo, "master", path), Buffer.from("new"));
    const missing = await forwarder.failure("InspectFile",
      { file: { commit: { repo, commit: "master" }, path: "/none" } });
    t.is(missing.code, notFound);
  } finally {
    for (const open of clients) open.close();
    await cluster.stop();
  }
});
