// Goal: a node's reconcile drops exactly the data the metadata says is garbage — the files of
// failed commits at once, of commits it does not have (deleted repos and commits) once they
// are older than the grace — and never the data of a commit being created while it runs
// (whichever of its metadata record and its staging log appears first); the collection that
// follows frees exactly those commits' unique chunks, and the node collector runs by its timer,
// soon after a deletion, and on request, one run at a time.
// Method: the pure verdict against a table and a fast-check property; real LocalShards in temp
// directories with seeded random contents and a metadata stand-in (a Map of commit states)
// whose reader can run writes between the reconcile's listing and its metadata read; the node
// collector on a simulated clock.
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import { Prng, SimulatedClock, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; gc/ is the API.
import {
  type CommitStateReader, NodeGarbageCollector, commitKey, planReconcile, reconcileShard,
  verdictOf,
} from "../../../pkg/pfs/gc/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; the model is shared.
import type { CommitState, FileEntry } from "../../../pkg/pfs/model.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import type { LocalShard, ShardCommit, StoredCommit } from "../../../pkg/pfs/shard/index.js";
import {
  collect, commitId, openShard, sha256, streamOf, testSeed, withTempDir,
} from "./shard-fixture.js";

const states: readonly (CommitState | undefined)[] =
  ["open", "finishing", "finished", "failed", undefined];

function stored(modifiedMs: number): StoredCommit {
  return { repo: "r", id: commitId(1), finished: true, staged: false, modifiedMs };
}

test("the verdict: failed drops at once, unknown only when old, known states keep", (t) => {
  t.is(verdictOf(stored(1_000), "failed", 1_000, 30_000), "drop-failed");
  t.is(verdictOf(stored(1_000), undefined, 1_000, 30_000), "keep-young");
  t.is(verdictOf(stored(1_000), undefined, 31_000, 30_000), "drop-unknown");
  for (const state of ["open", "finishing", "finished"] as const) {
    t.is(verdictOf(stored(0), state, 1_000_000, 0), "keep", state);
  }
});

test("a plan drops exactly the failed and the old unknown commits", (t) => {
  fc.assert(fc.property(
    fc.array(fc.record({
      state: fc.constantFrom(...states), ageMs: fc.integer({ min: 0, max: 100 }),
    }), { maxLength: 30 }),
    fc.integer({ min: 0, max: 100 }),
    (commits, graceMs) => {
      const listedAtMs = 1_000;
      const all = commits.map((commit, i): StoredCommit => ({
        repo: "r", id: commitId(i), finished: i % 2 === 0, staged: i % 2 === 1,
        modifiedMs: listedAtMs - commit.ageMs,
      }));
      const known = new Map<string, CommitState>();
      commits.forEach((commit, i) => {
        const item = all[i];
        if (commit.state !== undefined && item !== undefined) known.set(commitKey(item), commit.state);
      });
      const plan = planReconcile(all, known, listedAtMs, graceMs);
      const dropped = new Set(plan.drop.map((commit) => commit.id));
      commits.forEach((commit, i) => {
        const expected = commit.state === "failed" ||
          (commit.state === undefined && commit.ageMs >= graceMs);
        t.is(dropped.has(commitId(i)), expected);
      });
      t.true(plan.young.every((commit) => !dropped.has(commit.id)));
    }), { seed: testSeed(), numRuns: 200 });
});

/** The metadata stand-in: commit states by key; `between` runs inside each read, first. */
class FakeMeta {
  readonly states = new Map<string, CommitState>();
  between: () => Promise<void> = () => Promise.resolve();
  reads = 0;

  set(commit: ShardCommit, state: CommitState | undefined): void {
    if (state === undefined) this.states.delete(commitKey(commit));
    else this.states.set(commitKey(commit), state);
  }

  readonly reader: CommitStateReader = async (commits) => {
    this.reads += 1;
    await this.between();
    return new Map(commits.flatMap((commit) => {
      const state = this.states.get(commitKey(commit));
      return state === undefined ? [] : [[commitKey(commit), state] as const];
    }));
  };
}

function randomBytes(prng: Prng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = prng.intBelow(256);
  return bytes;
}

function idsOf(entries: readonly FileEntry[]): string[] {
  return entries.flatMap((entry) => entry.chunks.map((chunk) => chunk.id));
}

/** Puts `count` random files into `commit`; the entries. */
async function putSome(shard: LocalShard, prng: Prng, commit: ShardCommit, count: number):
  Promise<FileEntry[]> {
  const entries: FileEntry[] = [];
  for (let i = 0; i < count; i += 1) {
    const bytes = randomBytes(prng, 1_000 + prng.intBelow(5_000));
    entries.push(await shard.putFile(commit, "", `/f${i}`, streamOf(bytes)));
  }
  return entries;
}

/** Runs `body` over a fresh shard, a fresh metadata stand-in and a seeded PRNG (logged). */
async function withShard(t: ExecutionContext,
  body: (shard: LocalShard, meta: FakeMeta, prng: Prng) => Promise<void>): Promise<void> {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    try {
      await body(shard, new FakeMeta(), new Prng(seed));
    } finally {
      await shard.close();
    }
  });
}

test("reconcile + collect frees exactly failed and deleted commits' chunks", async (t) => {
  await withShard(t, async (shard, meta, prng) => {
    const commits = {
      finished: { repo: "b", id: commitId(1) }, open: { repo: "b", id: commitId(2) },
      failed: { repo: "b", id: commitId(3) }, deletedRepo: { repo: "a", id: commitId(4) },
      deletedOpen: { repo: "b", id: commitId(5) },
    };
    const entries = new Map<string, FileEntry[]>();
    for (const [name, commit] of Object.entries(commits)) {
      meta.set(commit, "open");
      entries.set(name, await putSome(shard, prng, commit, 3));
    }
    await shard.finishCommit(commits.finished, "");
    await shard.finishCommit(commits.failed, "");
    await shard.finishCommit(commits.deletedRepo, "");
    meta.set(commits.finished, "finished");
    meta.set(commits.failed, "failed");
    meta.set(commits.deletedRepo, undefined);
    meta.set(commits.deletedOpen, undefined);

    const now = (): number => Date.now();
    const young = await reconcileShard(shard, meta.reader, now, 60_000);
    t.deepEqual(young, { commitsDropped: 1, commitsYoung: 2 }, "only the failed one at once");
    const later = (): number => Date.now() + 60_000;
    t.deepEqual(await reconcileShard(shard, meta.reader, later, 60_000),
      { commitsDropped: 2, commitsYoung: 0 });
    const remaining = (await shard.storedCommits()).map((commit) => commit.id).sort();
    t.deepEqual(remaining, [commits.finished.id, commits.open.id]);

    const garbage = ["failed", "deletedRepo", "deletedOpen"].flatMap((name) =>
      idsOf(entries.get(name) ?? []));
    const live = ["finished", "open"].flatMap((name) => idsOf(entries.get(name) ?? []));
    const freed = await shard.collectGarbage();
    t.is(freed.chunksFreed, new Set(garbage).size);
    t.deepEqual((await shard.missingChunks(garbage)).sort(), [...new Set(garbage)].sort());
    t.deepEqual(await shard.missingChunks(live), []);
    for (const entry of entries.get("finished") ?? []) {
      const bytes = await collect(shard.getFile(commits.finished, entry.path));
      t.is(sha256(bytes), entry.hash);
    }
  });
});

test("a commit created while a reconcile runs is never dropped, in either order", async (t) => {
  await withShard(t, async (shard, meta, prng) => {
    const old = { repo: "r", id: commitId(1) };
    await putSome(shard, prng, old, 1);
    // Record first, then data (the API's order), both between the listing and the read.
    const recordFirst = { repo: "r", id: commitId(2) };
    // Data first, record later (a metadata read served late): only the grace protects it.
    const dataFirst = { repo: "r", id: commitId(3) };
    let written: FileEntry[] = [];
    meta.between = async () => {
      meta.between = () => Promise.resolve();
      meta.set(recordFirst, "open");
      written = await putSome(shard, prng, recordFirst, 2);
      written.push(...await putSome(shard, prng, dataFirst, 2));
    };
    const result = await reconcileShard(shard, meta.reader, () => Date.now() + 3_600_000, 0);
    t.deepEqual(result, { commitsDropped: 1, commitsYoung: 0 }, "only the old unknown one");
    t.is(meta.reads, 1);
    const again = await reconcileShard(shard, meta.reader, () => Date.now(), 60_000);
    t.deepEqual(again, { commitsDropped: 0, commitsYoung: 1 }, "the data-first one is young");
    meta.set(dataFirst, "open");
    await shard.collectGarbage();
    await shard.finishCommit(recordFirst, "");
    await shard.finishCommit(dataFirst, "");
    t.deepEqual(await shard.missingChunks(idsOf(written)), []);
    for (const entry of written.slice(0, 2)) {
      t.is(sha256(await collect(shard.getFile(recordFirst, entry.path))), entry.hash);
    }
  });
});

test("the node collector runs by its timer, after a deletion and on request, never twice at once",
  async (t) => {
    await withTempDir(async (dir) => {
      const shard = await openShard(dir);
      const clock = new SimulatedClock(0, Date.now() + 3_600_000);
      const meta = new FakeMeta();
      let running = 0;
      let runs = 0;
      let deletion: () => void = () => undefined;
      meta.between = async () => {
        running += 1;
        t.is(running, 1, "one run at a time");
        await new Promise((resolve) => setImmediate(resolve));
        running -= 1;
        runs += 1;
      };
      await putSome(shard, new Prng(1), { repo: "r", id: commitId(9) }, 1);
      const collector = await NodeGarbageCollector.start({
        intervalSeconds: 60, localShards: () => Promise.resolve([shard]),
        readStates: meta.reader, clock, logger: silentLogger, graceMs: 0,
        watchDeletions: (onDeletion) => {
          deletion = onDeletion;
          return Promise.resolve(() => Promise.resolve());
        },
      });
      /** Waits (turns of the event loop, real disk I/O) until `runs` reaches `count`. */
      const runsReach = async (count: number): Promise<void> => {
        for (let turn = 0; turn < 100_000 && runs < count; turn += 1) {
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      clock.advance(59_999);
      t.is(runs, 0);
      clock.advance(1);
      await runsReach(1);
      t.is(runs, 1, "the timer ran one");
      t.deepEqual(await shard.storedCommits(), [], "it dropped the unknown commit");
      await putSome(shard, new Prng(2), { repo: "r", id: commitId(8) }, 1);
      deletion();
      deletion();
      clock.advance(5_000);
      await runsReach(2);
      await collector.collectLocal();
      t.is(runs, 2, "two deletions, one run");
      await putSome(shard, new Prng(3), { repo: "r", id: commitId(7) }, 1);
      const asked = await Promise.all([collector.collectLocal(), collector.collectShard(shard)]);
      t.is(runs, 3, "the second request found nothing to reconcile");
      t.true(asked[0].chunksFreed > 0);
      t.is(asked[1].chunksFreed, 0);
      await collector.close();
      t.is(clock.pendingTimerCount(), 0, "close cleared the timers");
      await shard.close();
    });
  });

test("a finish racing a collection's reference scan keeps the commit's chunks", async (t) => {
  // Without the finish inside the GC gate, a scan that lists the manifests before the finish
  // and the staging logs after it sees the commit in neither and frees its chunks.
  await withShard(t, async (shard, _meta, prng) => {
    for (let round = 0; round < 12; round += 1) {
      const commit = { repo: "race", id: commitId(100 + round) };
      const entries = await putSome(shard, prng, commit, 2);
      await Promise.all([
        shard.collectGarbage(), shard.finishCommit(commit, ""), shard.collectGarbage(),
      ]);
      t.deepEqual(await shard.missingChunks(idsOf(entries)), [], `round ${round}`);
    }
  });
});
