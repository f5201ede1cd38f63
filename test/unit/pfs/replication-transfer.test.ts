// Goal: copyCommit moves a sealed commit between replicas whatever side is remote (real gRPC
// through pfs.Shard), resumes after a failure pushing only what is still missing, and honours
// its signal; replicateCommit counts acknowledgements (resolves once enough peers hold the
// commit, rejects UNAVAILABLE as soon as too many failed, retries transient errors a bounded
// number of times) and lets the remaining copies finish in the background.
// Method: real LocalShards in temp directories (default chunking for the copies in batches, a
// file of ~14 MiB so pushes take several putChunks calls); peers are proxies around real shards
// that fail, stall or count calls; seeded contents (seed printed; PFS_SEED=<n> replays it).
import { mkdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import type { Prng} from "../../../pkg/common/index.js";
import {
  type Clock, MemoryLogger, PfsError, SystemClock,
} from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; replication/ is the API.
import { copyCommit, replicateCommit, transferLimits } from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import { LocalShard, type ShardReplica } from "../../../pkg/pfs/shard/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; storage/ is the API.
import { manifestChunkIds, writeManifest } from "../../../pkg/pfs/storage/index.js";
import { randomBytesFrom } from "./chunk-fixture.js";
import {
  expectReads, failure, sealCommit, sealedPair, seeded, seededFiles, withRemote, wrap,
} from "./replication-transfer-fixture.js";
import {
  collect, commitId, openShard, sha256, streamOf, withTempDir,
} from "./shard-fixture.js";

const commit = { repo: "r", id: commitId(1) };

/**
 * Files with one large file: with the default chunking (1 MiB average) about 7 chunks, more
 * than one putChunks batch (transferBatchBytesMax).
 */
function largeFiles(prng: Prng): Map<string, Buffer> {
  const files = seededFiles(prng);
  files.set("/large.bin", randomBytesFrom(prng, 7 * 1024 * 1024 + prng.intBetween(0, 1000)));
  return files;
}

/** A replica with the cluster's default chunking (big chunks) in `dir`. */
function openDefault(dir: string): Promise<LocalShard> {
  return LocalShard.open({ dir, shard: 0 });
}

/** Resolves after `ms` (a bound on a wait that should end much sooner). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms).unref(); });
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => { resolve = done; });
  return { promise, resolve };
}

/** `real` whose installManifest waits for `gate`, then resolves `done` once it installed. */
function gatedInstall(real: LocalShard, gate: Promise<void>, done: () => void): ShardReplica {
  return wrap(real, { installManifest: async (target, manifest) => {
    await gate;
    await real.installManifest(target, manifest);
    done();
  } });
}

/** A clock whose pauses end at once (the retry pauses of replicateCommit). */
function instantClock(): Clock {
  const system = new SystemClock();
  return {
    nowMs: () => system.nowMs(), wallMs: () => system.wallMs(),
    setTimer: (delayMs, callback) => system.setTimer(delayMs, callback),
    sleep: () => Promise.resolve(),
  };
}

test("copyCommit to a remote target and from a remote source, over real gRPC", async (t) => {
  const files = largeFiles(seeded(t));
  await withTempDir(async (dir) => {
    const a = await openDefault(path.join(dir, "a"));
    const b = await openDefault(path.join(dir, "b"));
    const c = await openDefault(path.join(dir, "c"));
    await sealCommit(a, commit, files);
    await withRemote(b, async (remoteB) => {
      t.false(await remoteB.hasCommit(commit));
      const absent = { repo: "r", id: commitId(7) };
      t.like(failure(await t.throwsAsync(remoteB.inspectFile(absent, "/a"))),
        { code: "NOT_FOUND", missing: "commit" }, "what is missing survives the wire");
      t.like(failure(await t.throwsAsync(remoteB.readManifest(absent))),
        { code: "NOT_FOUND", missing: "commit" });
      t.like(failure(await t.throwsAsync(remoteB.installManifest(commit,
        await a.readManifest(commit)))), { code: "NOT_FOUND", missing: "chunks" });
      await copyCommit(a, remoteB, commit);
      t.true(await remoteB.hasCommit(commit));
      t.like(failure(await t.throwsAsync(remoteB.inspectFile(commit, "/nope"))),
        { code: "NOT_FOUND", missing: "file" });
      await expectReads(t, remoteB, commit, files, "remote target");
    });
    await expectReads(t, b, commit, files, "target, locally");
    await withRemote(a, async (remoteA) => {
      t.true(Buffer.from(await remoteA.readManifest(commit))
        .equals(Buffer.from(await a.readManifest(commit))), "the manifest crosses whole");
      await copyCommit(remoteA, c, commit);
    });
    await expectReads(t, c, commit, files, "copied from a remote source");
  });
});

test("an interrupted copy resumes and pushes only what is still missing", async (t) => {
  const files = largeFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openDefault);
    const all = manifestChunkIds(await a.readManifest(commit));
    const pushed: string[][] = [[], []];
    const target = (attempt: 0 | 1, failCall: number): ShardReplica => {
      let calls = 0;
      return wrap(b, {
        putChunks: async (chunks) => {
          calls += 1;
          if (calls === failCall) throw new PfsError("UNAVAILABLE", "the target went away");
          await b.putChunks(chunks);
          pushed[attempt]?.push(...chunks.map((chunk) => chunk.ref.id));
        },
      });
    };
    t.like(failure(await t.throwsAsync(copyCommit(a, target(0, 2), commit))),
      { code: "UNAVAILABLE" });
    t.false(await b.hasCommit(commit), "no manifest before every chunk is there");
    const first = pushed[0] ?? [];
    t.true(first.length > 0 && first.length < all.length,
      `the first attempt pushed part of it (${first.length} of ${all.length})`);
    await copyCommit(a, target(1, 0), commit);
    t.deepEqual([...(pushed[1] ?? [])].sort(), all.filter((id) => !first.includes(id)).sort(),
      "the retry pushed exactly the chunks the first attempt had not");
    await expectReads(t, b, commit, files, "after the retry");
    pushed[1] = [];
    await copyCommit(a, target(1, 0), commit);
    t.deepEqual(pushed[1], [], "a copy of a commit the target has is a no-op");
  });
});

test("a copy pushes its next batch while the previous one is still being stored", async (t) => {
  const files = largeFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openDefault);
    let inFlight = 0;
    let mostInFlight = 0;
    const second = deferred();
    let calls = 0;
    const target = wrap(b, {
      putChunks: async (chunks) => {
        calls += 1;
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          // The first batch is stored only once the second is under way (or after a while,
          // so a copy that waits for each batch fails the check below instead of hanging).
          if (calls === 1) await Promise.race([second.promise, sleep(10_000)]);
          else second.resolve();
          await b.putChunks(chunks);
        } finally {
          inFlight -= 1;
        }
      },
    });
    await copyCommit(a, target, commit);
    t.true(calls >= 2, `the copy took several batches (${calls})`);
    t.true(mostInFlight >= 2 && mostInFlight <= transferLimits.transferPutsInFlightMax + 1,
      `batches overlapped, within the bound (${mostInFlight} at once)`);
    await expectReads(t, b, commit, files, "after a pipelined copy");
  });
});

test("copyCommit stops when its signal aborts", async (t) => {
  const files = largeFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openDefault);
    const controller = new AbortController();
    let calls = 0;
    let callsAfterAbort = 0;
    const target = wrap(b, {
      putChunks: async (chunks) => {
        calls += 1;
        if (controller.signal.aborted) callsAfterAbort += 1;
        await b.putChunks(chunks);
        controller.abort(new Error("shutting down"));
      },
    });
    const error = await t.throwsAsync(copyCommit(a, target, commit, { signal: controller.signal }));
    t.is(error.message, "shutting down");
    t.true(calls >= 1);
    // Batches already in flight when it aborted may complete; none starts after.
    t.is(callsAfterAbort, 0, "nothing pushed after the abort");
    t.false(await b.hasCommit(commit));
  });
});

/** Peers over real shards in `dir`, each made by `make` from its real replica. */
async function peersIn(dir: string, names: readonly string[],
  make: (name: string, replica: LocalShard) => ShardReplica):
  Promise<{ node: string; replica: ShardReplica; real: LocalShard }[]> {
  return await Promise.all(names.map(async (name) => {
    const real = await openShard(path.join(dir, name));
    return { node: name, replica: make(name, real), real };
  }));
}

test("replicateCommit resolves once enough peers acknowledged; the rest finish behind", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const master = await openShard(path.join(dir, "master"));
    await sealCommit(master, commit, files);
    const gate = deferred();
    const slowInstalled = deferred();
    const peers = await peersIn(dir, ["fast", "slow", "broken"], (name, real) => {
      if (name === "slow") return gatedInstall(real, gate.promise, slowInstalled.resolve);
      if (name === "broken") {
        return wrap(real, { putChunks: () => Promise.reject(new PfsError("DATA_CORRUPTED", "disk")) });
      }
      return real;
    });
    const logger = new MemoryLogger();
    const acked = await replicateCommit(master, peers, commit, 1, logger);
    t.deepEqual(acked, ["fast"]);
    t.false(await peers[1]?.real.hasCommit(commit), "the slow copy is still going");
    gate.resolve();
    await slowInstalled.promise;
    t.true(await peers[1]?.real.hasCommit(commit), "and completes in the background");
    await expectReads(t, peers[1]?.real ?? master, commit, files, "slow peer");
    t.false(await peers[2]?.real.hasCommit(commit));
    t.true(logger.records.some((record) => record.level === "warn" &&
      record.fields["node"] === "broken"), "the failed copy is logged");
  });
});

test("replicateCommit rejects UNAVAILABLE as soon as the quorum cannot be reached", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const master = await openShard(path.join(dir, "master"));
    await sealCommit(master, commit, files);
    // The good peer's copy never gets past hasCommit: the verdict cannot wait for it.
    const goodGate = deferred().promise;
    const peers = await peersIn(dir, ["good", "bad1", "bad2"], (name, real) => name === "good"
      ? wrap(real, { hasCommit: async (target) => {
        await goodGate;
        return await real.hasCommit(target);
      } })
      : wrap(real, { missingChunks: () => Promise.reject(new PfsError("INTERNAL", "bug")) }));
    const error = await t.throwsAsync(replicateCommit(master, peers, commit, 2, new MemoryLogger()));
    t.like(failure(error), { code: "UNAVAILABLE" });
    t.regex(error.message,
      /^only 0 of 3 replicas of shard 0 acknowledged commit r@0+1; need 2$/);
    const few = await t.throwsAsync(replicateCommit(master, peers.slice(0, 1), commit, 2,
      new MemoryLogger()));
    t.like(failure(few), { code: "UNAVAILABLE" }, "fewer peers than acknowledgements needed");
    t.deepEqual(await replicateCommit(master, [], commit, 0, new MemoryLogger()), []);
  });
});

test("replicateCommit retries transient errors a bounded number of times", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const master = await openShard(path.join(dir, "master"));
    await sealCommit(master, commit, files);
    const attempts = new Map<string, number>();
    const peers = await peersIn(dir, ["flaky", "down"], (name, real) => wrap(real, {
      hasCommit: async (target) => {
        const attempt = (attempts.get(name) ?? 0) + 1;
        attempts.set(name, attempt);
        if (name === "down" || attempt <= 2) throw new PfsError("UNAVAILABLE", "no route");
        return await real.hasCommit(target);
      },
    }));
    const clock = instantClock();
    t.deepEqual(await replicateCommit(master, peers.slice(0, 1), commit, 1, new MemoryLogger(),
      { clock }), ["flaky"]);
    t.is(attempts.get("flaky"), 3, "two transient failures, then the copy");
    await t.throwsAsync(replicateCommit(master, peers.slice(1), commit, 1, new MemoryLogger(),
      { clock }));
    t.is(attempts.get("down"), 4, "one attempt and three retries");
  });
});

test("acksNeeded 0 resolves at once and the copies still happen", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const master = await openShard(path.join(dir, "master"));
    await sealCommit(master, commit, files);
    const gate = deferred();
    const installed = deferred();
    const peers = await peersIn(dir, ["p"],
      (_name, real) => gatedInstall(real, gate.promise, installed.resolve));
    t.deepEqual(await replicateCommit(master, peers, commit, 0, new MemoryLogger()), []);
    t.false(await peers[0]?.real.hasCommit(commit), "resolved before the copy was done");
    gate.resolve();
    await installed.promise;
    t.true(await peers[0]?.real.hasCommit(commit));
    t.true((await collect(peers[0]?.real.getFile(commit, "/d/small-1.txt") ??
      streamOf(Buffer.alloc(0)))).equals(files.get("/d/small-1.txt") ?? Buffer.alloc(1)));
  });
});

test("a manifest of several wire messages crosses whole both ways", async (t) => {
  await withTempDir(async (dir) => {
    const b = await openDefault(path.join(dir, "b"));
    // A manifest of ~1.5 MiB (more than one stream message) written straight into b's store:
    // its chunks are not there, which installManifest must report after receiving it whole.
    const entries = Array.from({ length: 12_000 }, (_, i) => {
      const name = `/f/${String(i).padStart(6, "0")}`;
      return { path: name, size: 10, hash: sha256(Buffer.from(name)),
        chunks: [{ id: sha256(Buffer.from(`chunk ${i}`)), size: 10 }] };
    });
    const file = path.join(dir, "b", "commits", "manifests", commit.repo, commit.id);
    await mkdir(path.dirname(file), { recursive: true });
    await writeManifest(file, entries);
    const stored = await readFile(file);
    t.true(stored.length > 1024 * 1024, `${stored.length} bytes`);
    await withRemote(b, async (remote) => {
      t.true(Buffer.from(await remote.readManifest(commit)).equals(stored), "read whole");
      const other = { repo: "r", id: commitId(2) };
      const refused = await t.throwsAsync(remote.installManifest(other, stored));
      t.like(failure(refused), { code: "NOT_FOUND", missing: "chunks" });
      t.regex(refused.message, /12000 of the 12000 chunks/, "received and checked whole");
    });
  });
});
