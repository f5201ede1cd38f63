// Goal: the master's eager push (eager-push.ts, through HostedShard) gets an open commit's
// chunks to the other replicas before the finish, so the finish pushes (almost) nothing but the
// manifest; a replica that is down or slow never fails nor holds back the user's put, nor the
// pushes to the other replicas; a failing peer is left alone for a backoff and then served
// again; queues are bounded; the same chunk offered twice is pushed once.
// Method: real LocalShards in temp directories (small chunking, so a few KiB make several
// chunks); peers are proxies around real shards that fail, stall or count calls; a HostedShard
// over a stub coordination client that grants every staged-on mark (the marks are not under
// test here); a simulated clock for the backoff; seeded contents (seed printed; PFS_SEED=<n>).
import { createHash } from "node:crypto";
import * as path from "node:path";
import test, { type ExecutionContext } from "ava";
import type { Etcd3 } from "etcd3";
import {
  PfsError, Prng, SimulatedClock, SystemClock, silentLogger,
} from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; replication/ is the API.
import { EagerPusher, HostedShard, replicateCommit } from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import type { LocalShard, ShardCommit, ShardReplica } from "../../../pkg/pfs/shard/index.js";
import { randomBytesFrom } from "./chunk-fixture.js";
import {
  expectReads, seeded, seededFiles, withRemote, wrap,
} from "./replication-transfer-fixture.js";
import {
  commitId, openShard, smallChunking, streamOf, withTempDir,
} from "./shard-fixture.js";

const commit: ShardCommit = { repo: "r", id: commitId(1) };

/** Counts what the finish (or anybody) pushed to `real` with putChunks; `pushed` after each. */
function counting(real: ShardReplica, pushed: { bytes: number; calls: number },
  onPushed: () => void = () => undefined): ShardReplica {
  return wrap(real, { putChunks: async (chunks) => {
    await real.putChunks(chunks);
    pushed.calls += 1;
    pushed.bytes += chunks.reduce((sum, chunk) => sum + chunk.bytes.length, 0);
    onPushed();
  } });
}

/** A peer that is down: every call fails as an unreachable node's would. */
function down(real: ShardReplica): ShardReplica {
  const unavailable = (): Promise<never> =>
    Promise.reject(new PfsError("UNAVAILABLE", "connect ECONNREFUSED"));
  return wrap(real, { missingChunks: unavailable, putChunks: unavailable,
    hasCommit: unavailable, installManifest: unavailable });
}

/**
 * A coordination client that grants every staged-on mark and reads this node's identity
 * back: HostedShard's marks are tested with a real store elsewhere (e2e); here only what the
 * shard does around them matters.
 */
function grantingClient(identity: string): Etcd3 {
  const builder = {
    and: () => builder, then: () => builder, else: () => builder,
    commit: () => Promise.resolve({ succeeded: true, responses: [] }),
  };
  const stub = {
    if: () => builder,
    put: () => ({ value: () => ({}) }),
    get: () => ({ string: () => Promise.resolve(identity) }),
  };
  return stub as unknown as Etcd3;
}

/** A HostedShard that is master of shard 0 on `local`, with `peers` and W = `quorum`. */
function masterOn(local: ShardReplica, peers: { node: string; replica: ShardReplica }[],
  quorum: number): HostedShard {
  const clock = new SystemClock();
  return new HostedShard({
    client: grantingClient("n0/1"), root: "/pfs", node: "n0", identity: "n0/1", local,
    standing: () => ({ fence: { key: "/pfs/election/shard-master/0/1", revision: 1n },
      confirmedMs: clock.nowMs() }),
    mayBeElectedHere: () => true, peers: () => peers, mapped: () => peers.length + 1,
    writeQuorum: quorum, confirmStaleMs: 60_000,
    replicate: (source, to, sealed, acks) =>
      replicateCommit(source, to, sealed, acks, silentLogger, { clock }),
    chunking: smallChunking, clock, logger: silentLogger,
  });
}

/** Puts `files` into `commit` through `master`; the distinct chunk ids they were cut into. */
async function putAll(t: ExecutionContext, master: HostedShard,
  files: ReadonlyMap<string, Buffer>): Promise<string[]> {
  const ids = new Set<string>();
  for (const [file, bytes] of files) {
    const entry = await master.putFile(commit, "", file, streamOf(bytes));
    t.is(entry.size, bytes.length, `${file} acknowledged whole`);
    for (const chunk of entry.chunks) ids.add(chunk.id);
  }
  return [...ids];
}

/** Replicas n0 (the master's), n1 and n2 of shard 0, under `dir`. */
async function threeReplicas(dir: string): Promise<{ local: LocalShard; b: LocalShard;
  c: LocalShard; }> {
  const [local, b, c] = await Promise.all(["n0", "n1", "n2"].map((name) =>
    openShard(path.join(dir, name))));
  if (local === undefined || b === undefined || c === undefined) throw new Error("no replicas");
  return { local, b, c };
}

test("the chunks of an open commit reach the replicas before the finish", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { local, b, c } = await threeReplicas(dir);
    const pushedB = { bytes: 0, calls: 0 };
    const pushedC = { bytes: 0, calls: 0 };
    const master = masterOn(local, [{ node: "n1", replica: counting(b, pushedB) },
      { node: "n2", replica: counting(c, pushedC) }], 3);
    const ids = await putAll(t, master, files);
    await master.eagerPushIdle();
    t.false(await b.hasCommit(commit), "no manifest yet: nothing visible before the finish");
    t.true(master.eagerPushStats.pushedChunks > 0);
    t.is(master.eagerPushStats.failures, 0);
    const sent = { b: pushedB.bytes, c: pushedC.bytes };
    t.true(sent.b > 0 && sent.b === sent.c, `each peer received the chunks (${sent.b} bytes)`);
    await master.finishCommit(commit, "");
    t.deepEqual(await b.missingChunks(ids), []);
    t.is(pushedB.bytes, sent.b, "the finish pushed no chunk to n1: they were all there");
    t.is(pushedC.bytes, sent.c, "nor to n2");
    await expectReads(t, b, commit, files, "n1 after the finish");
    await expectReads(t, c, commit, files, "n2 after the finish");
    await master.close();
  });
});

test("a big file's chunks reach the replicas while it is still being put (one over gRPC)",
  async (t) => {
    const prng = seeded(t);
    const big = randomBytesFrom(prng, 150_000 + prng.intBetween(0, 50_000));
    await withTempDir(async (dir) => {
      const { local, b, c } = await threeReplicas(dir);
      await withRemote(c, async (remoteC) => {
        const pushedB = { bytes: 0, calls: 0 };
        let firstPush: () => void = () => undefined;
        const pushedOnce = new Promise<void>((resolve) => { firstPush = resolve; });
        const master = masterOn(local, [{ node: "n1", replica: counting(b, pushedB, firstPush) },
          { node: "n2", replica: remoteC }], 3);
        let duringPut = 0;
        const half = Math.floor(big.length / 2);
        async function* slowClient(): AsyncGenerator<Uint8Array> {
          yield* streamOf(big.subarray(0, half), 4096);
          // The client pauses halfway: the first half's chunks move meanwhile.
          await Promise.race([pushedOnce, until(() => Promise.resolve(false))]);
          duringPut = pushedB.bytes;
          yield* streamOf(big.subarray(half), 4096);
        }
        const entry = await master.putFile(commit, "", "/big.bin", slowClient());
        t.is(entry.size, big.length);
        t.true(duringPut > 0 && duringPut <= half,
          `${duringPut} bytes of the first ${half} reached n1 before the put ended`);
        await master.eagerPushIdle();
        t.is(master.eagerPushStats.failures, 0);
        const beforeFinish = pushedB.bytes;
        const ids = entry.chunks.map((chunk) => chunk.id);
        t.deepEqual(await b.missingChunks(ids), [], "every chunk is on n1 before the finish");
        t.deepEqual(await c.missingChunks(ids), [], "and on n2, over gRPC");
        await master.finishCommit(commit, "");
        t.is(pushedB.bytes, beforeFinish, "the finish pushed only the manifest");
        await expectReads(t, b, commit, new Map([["/big.bin", big]]), "n1");
        await expectReads(t, c, commit, new Map([["/big.bin", big]]), "n2");
        await master.close();
      });
    });
  });

test("a replica that is down fails no put; the finish still gets W acks", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { local, b, c } = await threeReplicas(dir);
    const master = masterOn(local, [{ node: "n1", replica: down(b) }, { node: "n2", replica: c }],
      2);
    const ids = await putAll(t, master, files);
    await master.eagerPushIdle();
    const stats = master.eagerPushStats;
    t.true(stats.failures >= 1, "the push to the down replica failed");
    t.true(stats.dropped > 0, "and its chunks were left to the finish");
    t.deepEqual(await c.missingChunks(ids), [], "the live replica got every chunk meanwhile");
    const result = await master.finishCommit(commit, "");
    t.is(result.files, files.size);
    await expectReads(t, c, commit, files, "the live replica");
    t.false(await b.hasCommit(commit), "the down replica has nothing");
    await master.close();
  });
});

/** Refs of `count` seeded chunks of 100-200 bytes written to `source` (seed `seed`). */
async function chunksOn(source: LocalShard, count: number, seed: number):
  Promise<{ id: string; size: number }[]> {
  const prng = new Prng(seed);
  const chunks = Array.from({ length: count }, () => {
    const bytes = randomBytesFrom(prng, 100 + prng.intBetween(0, 100));
    return { ref: { id: createHash("sha256").update(bytes).digest("hex"), size: bytes.length },
      bytes };
  });
  await source.putChunks(chunks);
  return chunks.map((chunk) => chunk.ref);
}

/** Polls `done` until it holds, for 20 s at most (the checks after it then fail). */
async function until(done: () => Promise<boolean>): Promise<void> {
  for (let turn = 0; turn < 2_000 && !(await done()); turn += 1) {
    await new Promise((resolve) => { setTimeout(resolve, 10).unref(); });
  }
}

test("a slow replica holds back only itself; a failing one backs off, then is served again",
  async (t) => {
    await withTempDir(async (dir) => {
      const source = await openShard(path.join(dir, "n0"));
      const [slowReal, flakyReal] = await Promise.all(["slow", "flaky"].map((name) =>
        openShard(path.join(dir, name))));
      if (slowReal === undefined || flakyReal === undefined) throw new Error("no peers");
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const slow = wrap(slowReal, { putChunks: async (chunks) => {
        await gate;
        await slowReal.putChunks(chunks);
      } });
      let failing = true;
      const flaky = wrap(flakyReal, { putChunks: async (chunks) => {
        if (failing) throw new PfsError("UNAVAILABLE", "flaky link");
        await flakyReal.putChunks(chunks);
      } });
      const clock = new SimulatedClock();
      const fast = await openShard(path.join(dir, "fast"));
      const pusher = new EagerPusher({ source, clock, logger: silentLogger, chunking: smallChunking,
        peers: () => [{ node: "slow", replica: slow }, { node: "fast", replica: fast },
          { node: "flaky", replica: flaky }] });
      const first = await chunksOn(source, 20, 1);
      pusher.offer(first);
      pusher.offer(first); // the same chunks again: queued once
      const firstIds = first.map((ref) => ref.id);
      await until(async () => pusher.stats.failures === 1 &&
        (await fast.missingChunks(firstIds)).length === 0);
      t.deepEqual(await fast.missingChunks(firstIds), [],
        "the fast replica has them while the slow one is still stalled");
      t.is((await slowReal.missingChunks(firstIds)).length, first.length);
      t.is(pusher.stats.queued, 3 * first.length, "queued once per peer, not twice");
      const second = await chunksOn(source, 5, 2);
      pusher.offer(second); // flaky is backing off: dropped for it
      t.true(pusher.stats.dropped >= first.length + second.length,
        `the failed batch and the offers during the backoff were dropped (${pusher.stats.dropped})`);
      failing = false;
      clock.advance(60_000); // past the longest backoff
      pusher.offer(second);
      release();
      await pusher.idle();
      const secondIds = second.map((ref) => ref.id);
      t.deepEqual(await flakyReal.missingChunks(secondIds), [], "served again after its pause");
      t.deepEqual(await slowReal.missingChunks([...firstIds, ...secondIds]), [],
        "the slow replica caught up");
      t.is(pusher.stats.failures, 1);
      await pusher.close();
      pusher.offer(second);
      t.is(pusher.stats.queued, 3 * first.length + 3 * second.length, "closed: no more offers");
    });
  });
