// Goal: the finished-commit index (pkg/pfs/replication/finished-commits.ts) shows exactly the
// finished commits a fresh listing of the store shows, once it has reached the listing's
// revision: after its paged load, while it follows the watch (commits started, finished,
// deleted, written in one transaction), across a member restart that breaks its watch, with an
// undecodable record (counted, not guessed), and it reaches a revision on an idle prefix (the
// progress request), on a real etcd 3.4 and on pfsd.
// Method: one single-member cluster of each kind for the file (data in /dev/shm when there is
// one); each test runs on its own key root, so they run concurrently. Random histories come
// from a seeded PRNG whose seed is printed on failure. The restart test has its own cluster.
import test, { type ExecutionContext } from "ava";
import type { Etcd3 } from "etcd3";
import {
  Prng, type Revision, SystemClock, revision, silentLogger, systemSeed,
} from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; meta/index.ts is its API
import { decodeCommitInfo, encodeRecord } from "../../../pkg/pfs/meta/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; this is the module's API
import { type FinishedChange, FinishedCommits } from "../../../pkg/pfs/replication/index.js";
import { type MemberCluster, type MemberKind, startCluster } from "../../support/member-cluster.js";
import { memberParentDir, storeClient } from "./replication-store-fixture.js";

const kinds: readonly MemberKind[] = ["etcd", "pfsd"];
const clusters = new Map<MemberKind, MemberCluster>();
const clients: Etcd3[] = [];
let rootsMade = 0;

test.before(async () => {
  await Promise.all(kinds.map(async (kind) => {
    clusters.set(kind, await startCluster({ kind, size: 1, ...memberParentDir }));
  }));
});

test.after.always(async () => {
  for (const client of clients) client.close();
  await Promise.all([...clusters.values()].map((cluster) => cluster.stop()));
});

interface Fixture {
  readonly root: string;
  readonly client: Etcd3;
  readonly index: FinishedCommits;
  /** Every change the index reported, in order. */
  readonly changes: FinishedChange[];
}

function fixtureOn(cluster: MemberCluster): Fixture {
  rootsMade += 1;
  const root = `/fc-test-${rootsMade}`;
  const client = storeClient(cluster, clients);
  const index = new FinishedCommits({
    client, root, clock: new SystemClock(), logger: silentLogger,
  });
  const changes: FinishedChange[] = [];
  index.onChange((change) => { changes.push(change); });
  return { root, client, index, changes };
}

/** Registers `body` once per member kind, closing the index afterwards. */
function both(title: string, body: (t: ExecutionContext, f: Fixture) => Promise<void>): void {
  for (const kind of kinds) {
    test(`${kind}: ${title}`, async (t) => {
      const cluster = clusters.get(kind);
      if (cluster === undefined) throw new Error(`no ${kind} cluster`);
      const fixture = fixtureOn(cluster);
      try {
        await body(t, fixture);
      } finally {
        await fixture.index.close();
      }
    });
  }
}

type State = "open" | "finishing" | "finished" | "failed";

/** A 32-hex commit id from a small number. */
function idOf(n: number): string {
  return n.toString(16).padStart(32, "0");
}

function record(repo: string, id: string, state: State): Buffer {
  return encodeRecord({
    repo, id, branch: "master", parent: "", state, description: "", startedMs: 1,
    finishedMs: state === "finished" ? 2 : 0, sizeBytes: 0, error: "", provenance: [],
  });
}

/** The revision of each fixture's last write under its commits prefix. */
const lastWrites = new WeakMap<Fixture, Revision>();

function wrote(f: Fixture, header: { readonly revision: string }): Revision {
  const at = revision(Number(header.revision));
  if (at > (lastWrites.get(f) ?? 0)) lastWrites.set(f, at);
  return at;
}

async function putRaw(f: Fixture, key: string, value: Buffer | string): Promise<Revision> {
  return wrote(f, (await f.client.put(key).value(value).exec()).header);
}

async function putCommit(f: Fixture, repo: string, id: string, state: State): Promise<Revision> {
  return putRaw(f, `${f.root}/commits/${repo}/${id}`, record(repo, id, state));
}

async function deleteCommit(f: Fixture, repo: string, id: string): Promise<void> {
  wrote(f, (await f.client.delete().key(`${f.root}/commits/${repo}/${id}`).exec()).header);
}

/** `<repo>/<id>` of every finished commit a fresh listing shows, and its revision. */
async function listFinished(f: Fixture): Promise<{ keys: string[]; at: Revision }> {
  const response = await f.client.getAll().prefix(`${f.root}/commits/`).exec();
  const keys: string[] = [];
  for (const kv of response.kvs) {
    const info = decodeCommitInfo(kv.key.toString("utf8"), kv.value);
    if (info.state === "finished") keys.push(`${info.repo}/${info.id}`);
  }
  return { keys: keys.sort(), at: revision(Number(response.header.revision)) };
}

function indexed(f: Fixture): string[] {
  return [...f.index.finishedOf(0)].map((commit) => `${commit.repo}/${commit.id}`).sort();
}

/**
 * The set the changes describe, replayed from empty; fails on an "added" of a commit already
 * there or a "removed" of one that is not (each change must be a real difference).
 */
function replay(changes: readonly FinishedChange[]): string[] {
  const set = new Set<string>();
  for (const change of changes) {
    if (change.kind === "reloaded") continue;
    const key = `${change.commit.repo}/${change.commit.id}`;
    if (change.kind === "added") {
      if (set.has(key)) throw new Error(`added twice: ${key}`);
      set.add(key);
    } else if (!set.delete(key)) {
      throw new Error(`removed while absent: ${key}`);
    }
  }
  return [...set].sort();
}

/**
 * Waits until the index has applied the events up to `at` (a generous bound). Not
 * waitForRevision: etcd 3.4.23 (before etcd-io/etcd#15237) may answer the progress request
 * before it sends a pending event, as this file's finishedSince test saw on it.
 */
async function untilEvents(f: Fixture, at: Revision): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (f.index.eventRevision < at) {
    if (Date.now() > deadline) throw new Error(`index events at ${f.index.eventRevision} < ${at}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the index has reached the store's current revision. */
async function catchUp(f: Fixture): Promise<void> {
  await f.index.waitForRevision(await f.index.currentRevision());
  await untilEvents(f, lastWrites.get(f) ?? revision(0));
}

both("loads the finished commits in pages and knows the load's revision", async (t, f) => {
  const puts: Promise<Revision>[] = [];
  // More than one page (metaRangePageKeys is 1,000) of records, a third of them finished.
  for (let n = 0; n < 1_200; n += 1) {
    puts.push(putCommit(f, `repo${n % 3}`, idOf(n), n % 3 === 0 ? "finished" : "open"));
  }
  const last = Math.max(...await Promise.all(puts));
  await f.index.start();
  t.true(f.index.ready);
  t.true(f.index.revision >= last, `index at ${f.index.revision}, last put at ${last}`);
  t.is(f.index.size, 400);
  t.deepEqual(indexed(f), (await listFinished(f)).keys);
  t.true(f.index.has({ repo: "repo0", id: idOf(0) }));
  t.false(f.index.has({ repo: "repo1", id: idOf(1) }));
  t.is(f.changes.filter((change) => change.kind === "added").length, 400);
  t.deepEqual(f.changes.slice(-1), [{ kind: "reloaded" }], "the load's changes, then reloaded");
  t.deepEqual(replay(f.changes), indexed(f));
});

both("follows starts, finishes and deletes through the watch, in order", async (t, f) => {
  await putCommit(f, "a", idOf(1), "finished");
  await f.index.start();
  await putCommit(f, "a", idOf(2), "open");
  await putCommit(f, "a", idOf(2), "finishing");
  const finishedAt = await putCommit(f, "a", idOf(2), "finished");
  await untilEvents(f, finishedAt);
  t.true(f.index.has({ repo: "a", id: idOf(2) }));
  await deleteCommit(f, "a", idOf(1));
  await putCommit(f, "a", idOf(3), "failed");
  await catchUp(f);
  t.deepEqual(indexed(f), [`a/${idOf(2)}`]);
  t.deepEqual(f.changes, [
    { kind: "added", commit: { repo: "a", id: idOf(1) } },
    { kind: "reloaded" },
    { kind: "added", commit: { repo: "a", id: idOf(2) } },
    { kind: "removed", commit: { repo: "a", id: idOf(1) } },
  ]);
});

both("reaches the store's revision on an idle prefix (progress request)", async (t, f) => {
  await f.index.start();
  const before = f.index.revision;
  // Writes outside the prefix move the store on without an event for the index.
  for (let n = 0; n < 5; n += 1) await f.client.put(`${f.root}/elsewhere/${n}`).value("x").exec();
  const now = await f.index.currentRevision();
  t.true(now > before, `store at ${now}, index loaded at ${before}`);
  await f.index.waitForRevision(now);
  t.true(f.index.revision >= now);
  t.is(f.index.size, 0);
});

both("a random history: the index equals a fresh listing at its revision", async (t, f) => {
  const seed = systemSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  const states: readonly State[] = ["open", "finishing", "finished", "failed"];
  const commits = 40;
  const history = async (steps: number): Promise<void> => {
    for (let step = 0; step < steps; step += 1) {
      const repo = `r${prng.intBelow(3)}`;
      const id = idOf(prng.intBelow(commits));
      if (prng.chance(0.2)) await deleteCommit(f, repo, id);
      else await putCommit(f, repo, id, states[prng.intBelow(states.length)] ?? "open");
    }
  };
  await history(60);
  const started = f.index.start();
  await history(60); // concurrently with the load
  await started;
  await history(60);
  await catchUp(f);
  const listed = await listFinished(f);
  t.deepEqual(indexed(f), listed.keys, `seed ${seed}`);
  t.is(f.changes.filter((change) => change.kind === "reloaded").length, 1, `seed ${seed}`);
  t.deepEqual(replay(f.changes), listed.keys, `seed ${seed}`);
});

both("an undecodable record is counted until it is fixed, never guessed", async (t, f) => {
  await f.index.start();
  const key = `${f.root}/commits/a/${idOf(7)}`;
  await putRaw(f, key, "not json");
  await catchUp(f);
  t.is(f.index.unreadable, 1);
  t.is(f.index.size, 0);
  await putCommit(f, "a", idOf(7), "finished");
  await catchUp(f);
  t.is(f.index.unreadable, 0);
  t.true(f.index.has({ repo: "a", id: idOf(7) }));
});

both("waitForRevision fails UNAVAILABLE once closed and honours its signal", async (t, f) => {
  await f.index.start();
  const far = revision(f.index.revision + 1_000_000);
  const controller = new AbortController();
  const waiting = f.index.waitForRevision(far, controller.signal);
  controller.abort(new Error("stop waiting"));
  await t.throwsAsync(waiting, { message: "stop waiting" });
  const pending = f.index.waitForRevision(far);
  await f.index.close();
  await t.throwsAsync(pending, { message: /closed/ });
});

test("pfsd: a restarted member breaks the watch; the index reloads and follows again",
  async (t) => {
    const cluster = await startCluster({ kind: "pfsd", size: 1, ...memberParentDir });
    const f = fixtureOn(cluster);
    try {
      await putCommit(f, "a", idOf(1), "finished");
      await f.index.start();
      const member = cluster.members[0];
      if (member === undefined) throw new Error("no member");
      await member.kill9();
      await member.restart();
      await member.waitServing();
      const at = await putCommit(f, "a", idOf(2), "finished");
      await f.index.waitForRevision(at);
      t.deepEqual(indexed(f), [`a/${idOf(1)}`, `a/${idOf(2)}`]);
      t.true(f.changes.filter((change) => change.kind === "reloaded").length >= 2,
        "the lost watch made the index reload");
      t.deepEqual(replay(f.changes), indexed(f), "the reload reported its difference");
    } finally {
      await f.index.close();
      await cluster.stop();
    }
  });

both("finishedSince reads the commits finished after a revision from the store itself",
  async (t, f) => {
    await putCommit(f, "s", idOf(1), "finished");
    await f.index.start();
    const loaded = f.index.eventRevision;
    t.is(loaded, f.index.revision, "a load is proven by the read itself");
    await putCommit(f, "s", idOf(2), "open");
    const finishedAt = await putCommit(f, "s", idOf(3), "finished");
    await untilEvents(f, finishedAt);
    t.deepEqual(await f.index.finishedSince(loaded), [{ repo: "s", id: idOf(3) }],
      "only the commit finished after the revision, not the earlier or the open one");
    t.deepEqual(await f.index.finishedSince(finishedAt), []);
    // Writes outside the prefix: progress moves `revision`, never `eventRevision`.
    for (let n = 0; n < 3; n += 1) await f.client.put(`${f.root}/elsewhere/${n}`).value("x").exec();
    const now = await f.index.currentRevision();
    await f.index.waitForRevision(now);
    t.true(f.index.revision >= now);
    t.true(f.index.eventRevision < now, "a progress response proves nothing for eventRevision");
    await f.client.put(`${f.root}/commits/s/${idOf(4)}`).value("not a record").exec();
    t.is(await f.index.finishedSince(finishedAt), undefined, "an undecodable record: unknown");
  });
