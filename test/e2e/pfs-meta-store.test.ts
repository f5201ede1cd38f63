// Goal: the metadata layer (pkg/pfs/meta) behaves the same on a real etcd 3.4.23 and on pfsd:
// every operation, its refusals with their exact codes (and that a refusal changes nothing),
// the fixed shard count, one open commit per branch under concurrent starters on separate
// clients, the head moving in the same transaction that finishes a commit, ancestry, and
// waitCommit/subscribeCommits (no gap, no duplicate while commits finish concurrently).
// Method: one single-member cluster of each kind for the file (data in /dev/shm when there is
// one); every test runs once per kind on its own key root, so tests run concurrently.
import { existsSync } from "node:fs";
import test, { type ExecutionContext } from "ava";
import { Etcd3 } from "etcd3";
import { type ErrorCode, PfsError, Prng, revision, systemSeed } from "../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; meta/index.ts is its API
import { MetaStore } from "../../pkg/pfs/meta/index.js";
import { type MemberCluster, type MemberKind, startCluster } from "../support/member-cluster.js";

/** The model's CommitInfo, as the store returns it. */
type CommitInfo = Awaited<ReturnType<MetaStore["inspectCommit"]>>;

const kinds: readonly MemberKind[] = ["etcd", "pfsd"];
const clusters = new Map<MemberKind, MemberCluster>();
const clients: Etcd3[] = [];
let rootsMade = 0;

/** A watch backoff that never grows (etcd3's default leaves a 30 s timer behind). */
interface ConstantBackoff { readonly duration: number; next(): ConstantBackoff }
const constantBackoff: ConstantBackoff = { duration: 250, next: () => constantBackoff };

test.before(async () => {
  const parentDir = existsSync("/dev/shm") ? { parentDir: "/dev/shm" } : {};
  await Promise.all(kinds.map(async (kind) => {
    clusters.set(kind, await startCluster({ kind, size: 1, ...parentDir }));
  }));
});

test.after.always(async () => {
  for (const client of clients) client.close();
  await Promise.all([...clusters.values()].map((cluster) => cluster.stop()));
});

function newClient(kind: MemberKind): Etcd3 {
  const cluster = clusters.get(kind);
  if (cluster === undefined) throw new Error(`no ${kind} cluster`);
  const client = new Etcd3({
    hosts: cluster.members.map((member) => member.clientUrl),
    defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + 10_000 },
    faultHandling: { watchBackoff: constantBackoff },
  });
  clients.push(client);
  return client;
}

/** What each test gets: stores on one fresh root, each with its own client. */
interface Fixture {
  readonly kind: MemberKind;
  readonly root: string;
  /** The first store's client, for raw reads of the keys. */
  readonly client: Etcd3;
  readonly store: MetaStore;
  /** Another store on the same root with its own connection. */
  otherStore(): MetaStore;
}

function fixture(kind: MemberKind): Fixture {
  rootsMade += 1;
  const root = `/pfs-test-${rootsMade}`;
  const client = newClient(kind);
  return {
    kind, root, client, store: new MetaStore(client, { root }),
    otherStore: () => new MetaStore(newClient(kind), { root }),
  };
}

/** Registers `body` once per member kind. */
function both(title: string, body: (t: ExecutionContext, f: Fixture) => Promise<void>): void {
  for (const kind of kinds) {
    test(`${kind}: ${title}`, async (t) => { await body(t, fixture(kind)); });
  }
}

/** Asserts that `promise` rejects with a PfsError of `code` whose message matches `pattern`. */
async function refused(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode,
  pattern?: RegExp): Promise<PfsError> {
  const error = await t.throwsAsync(promise, { instanceOf: PfsError });
  t.is(error.code, code, error.message);
  if (pattern !== undefined) t.regex(error.message, pattern);
  return error;
}

/** Every key below the fixture's root with its value, to prove a refusal changed nothing. */
async function dump(f: Fixture): Promise<Record<string, string>> {
  return f.client.getAll().prefix(`${f.root}/`).strings();
}

/** Starts and finishes one commit on `branch`; returns it finished. */
async function commitOn(store: MetaStore, repo: string, branch: string, size = 1):
  Promise<CommitInfo> {
  const open = await store.startCommit(repo, branch);
  return store.finishCommit(repo, open.id, size);
}

both("the shard count is written once and a different one is refused", async (t, f) => {
  t.is(await f.store.clusterConfig(), undefined);
  const config = await f.store.ensureClusterConfig(8);
  t.is(config.shards, 8);
  t.deepEqual(await f.otherStore().ensureClusterConfig(8), config);
  const before = await dump(f);
  await refused(t, f.store.ensureClusterConfig(4), "FAILED_PRECONDITION", /8 shards.*4/);
  await refused(t, f.store.ensureClusterConfig(0), "INVALID_ARGUMENT");
  await refused(t, f.store.ensureClusterConfig(1.5), "INVALID_ARGUMENT");
  t.deepEqual(await dump(f), before);
  t.deepEqual(await f.store.clusterConfig(), config);
  t.deepEqual(Object.keys(before), [`${f.root}/config`]);
});

both("repos: create, refuse a duplicate or a bad name, inspect, list, delete", async (t, f) => {
  const { store } = f;
  const images = await store.createRepo("images", { description: "pictures" });
  t.is(images.description, "pictures");
  await store.createRepo("edges");
  const before = await dump(f);
  await refused(t, store.createRepo("images"), "ALREADY_EXISTS", /images/);
  for (const bad of ["", "a/b", "a b", "x".repeat(64), "é"]) {
    await refused(t, store.createRepo(bad), "INVALID_ARGUMENT");
  }
  await refused(t, store.createRepo("big", { description: "d".repeat(9_000) }), "LIMIT_EXCEEDED");
  t.deepEqual(await dump(f), before);
  t.deepEqual(await store.inspectRepo("images"), images);
  await refused(t, store.inspectRepo("nope"), "NOT_FOUND", /nope/);
  t.deepEqual((await store.listRepos()).map((repo) => repo.name), ["edges", "images"]);
  t.true(Object.keys(before).includes(`${f.root}/repos/images`));
});

both("deleting a repo removes its branches and commits, open ones too, and says which",
  async (t, f) => {
    const { store } = f;
    await store.createRepo("r");
    await store.createRepo("r2");
    const first = await commitOn(store, "r", "master");
    const open = await store.startCommit("r", "dev");
    const kept = await commitOn(store, "r2", "master");
    const deleted = await store.deleteRepo("r");
    t.is(deleted.repo.name, "r");
    t.deepEqual(deleted.branches.map((b) => b.name).sort(), ["dev", "master"]);
    t.deepEqual(deleted.commits.map((c) => c.id).sort(), [first.id, open.id].sort());
    await refused(t, store.inspectRepo("r"), "NOT_FOUND");
    await refused(t, store.listBranches("r"), "NOT_FOUND");
    await refused(t, store.deleteRepo("r"), "NOT_FOUND");
    t.deepEqual(Object.keys(await dump(f)).filter((key) => key.includes("/r/")), []);
    t.deepEqual((await store.inspectCommit("r2", "master")).id, kept.id);
    await store.createRepo("r");
    t.deepEqual(await store.listCommits("r"), []);
    await refused(t, store.startCommit("gone", "master"), "NOT_FOUND", /repo gone/);
  });

both("a commit's life: open, finishing, finished; the head moves only on finish", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const open = await store.startCommit("r", "master", { description: "first" });
  t.like(open, { repo: "r", branch: "master", parent: "", state: "open", finishedMs: 0 });
  t.regex(open.id, /^[0-9a-f]{32}$/);
  t.deepEqual(await store.inspectBranch("r", "master"),
    { repo: "r", name: "master", head: "", open: open.id });
  t.is((await store.inspectCommit("r", "master")).id, open.id);
  const before = await dump(f);
  await refused(t, store.startCommit("r", "master"), "FAILED_PRECONDITION",
    new RegExp(`open commit ${open.id}`));
  await refused(t, store.createBranch("r", "master", ""), "FAILED_PRECONDITION", /open commit/);
  await refused(t, store.deleteBranch("r", "master"), "FAILED_PRECONDITION", /open commit/);
  await refused(t, store.finishCommit("r", open.id, -1), "INVALID_ARGUMENT");
  t.deepEqual(await dump(f), before);
  const finishing = await store.setFinishing("r", open.id);
  t.is(finishing.state, "finishing");
  await refused(t, store.setFinishing("r", open.id), "FAILED_PRECONDITION", /finishing/);
  await refused(t, store.deleteCommit("r", open.id), "FAILED_PRECONDITION");
  const done = await store.finishCommit("r", open.id, 1234);
  t.like(done, { state: "finished", sizeBytes: 1234, description: "first" });
  t.true(done.finishedMs >= done.startedMs && done.finishedMs > 0);
  t.deepEqual(await store.inspectBranch("r", "master"),
    { repo: "r", name: "master", head: open.id, open: "" });
  await refused(t, store.finishCommit("r", open.id, 1), "FAILED_PRECONDITION", /finished/);
  await refused(t, store.failCommit("r", open.id, "x"), "FAILED_PRECONDITION");
  const second = await store.startCommit("r", "master");
  t.is(second.parent, open.id);
  t.is((await store.finishCommit("r", second.id, 0)).state, "finished");
});

both("failing and deleting open commits leave the head where it was", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const base = await commitOn(store, "r", "master");
  const doomed = await store.startCommit("r", "master");
  const failed = await store.failCommit("r", doomed.id, "shard 3 lost its master");
  t.like(failed, { state: "failed", error: "shard 3 lost its master" });
  t.deepEqual(await store.inspectBranch("r", "master"),
    { repo: "r", name: "master", head: base.id, open: "" });
  await refused(t, store.deleteCommit("r", doomed.id), "FAILED_PRECONDITION", /failed/);
  const dropped = await store.startCommit("r", "master");
  t.is((await store.deleteCommit("r", dropped.id)).id, dropped.id);
  await refused(t, store.inspectCommit("r", dropped.id), "NOT_FOUND");
  t.is((await store.inspectCommit("r", "master")).id, base.id);
  await refused(t, store.deleteCommit("r", "0".repeat(32)), "NOT_FOUND");
  await refused(t, store.finishCommit("r", "not-an-id", 0), "INVALID_ARGUMENT");
  const long = await store.startCommit("r", "master");
  const cut = await store.failCommit("r", long.id, "y".repeat(10_000));
  t.is(cut.error.length, 4_096);
});

both("an explicit parent must be a finished commit of the repo", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const a = await commitOn(store, "r", "master");
  await commitOn(store, "r", "master");
  const open = await store.startCommit("r", "dev");
  const before = await dump(f);
  await refused(t, store.startCommit("r", "side", { parent: open.id }), "FAILED_PRECONDITION",
    /open, not finished/);
  await refused(t, store.startCommit("r", "side", { parent: "f".repeat(32) }), "NOT_FOUND");
  await refused(t, store.startCommit("r", "side", { parent: "nope" }), "INVALID_ARGUMENT");
  t.deepEqual(await dump(f), before);
  const side = await store.startCommit("r", "side", { parent: a.id });
  t.is(side.parent, a.id);
  await store.finishCommit("r", side.id, 0);
  t.deepEqual((await store.listCommits("r", "side")).map((c) => c.id), [side.id, a.id]);
});

both("ancestry: branch^N, branch~N, id^N, and listCommits newest first", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const chain: CommitInfo[] = [];
  for (let i = 0; i < 5; i += 1) chain.push(await commitOn(store, "r", "master", i));
  const ids = chain.map((c) => c.id);
  const id = (i: number): string => ids[i] ?? `no commit ${i}`;
  const at = async (ref: string): Promise<string> => (await store.inspectCommit("r", ref)).id;
  t.is(await at("master"), id(4));
  t.is(await at("master^"), id(3));
  t.is(await at("master^^"), id(2));
  t.is(await at("master^3"), id(1));
  t.is(await at("master~4"), id(0));
  t.is(await at("master^1~1"), id(2));
  t.is(await at(`${id(3)}^2`), id(1));
  t.is(await at("master^0"), id(4));
  await refused(t, store.inspectCommit("r", "master^5"), "NOT_FOUND", /only 4 ancestors/);
  await refused(t, store.inspectCommit("r", "master^x"), "INVALID_ARGUMENT");
  await refused(t, store.inspectCommit("r", "^2"), "INVALID_ARGUMENT");
  await refused(t, store.inspectCommit("r", "nobranch"), "NOT_FOUND", /nobranch/);
  t.deepEqual((await store.listCommits("r", "master")).map((c) => c.id), [...ids].reverse());
  t.deepEqual((await store.listCommits("r", "master", { limit: 2 })).map((c) => c.id),
    [id(4), id(3)]);
  const open = await store.startCommit("r", "master");
  t.is((await store.listCommits("r", "master", { limit: 1 }))[0]?.id, open.id);
  t.is(await at("master^"), id(4));
  const other = await commitOn(store, "r", "dev");
  const all = await store.listCommits("r");
  t.deepEqual(all.map((c) => c.id).sort(), [...ids, open.id, other.id].sort());
  t.true(all.every((c, i) => i === 0 || c.startedMs <= (all[i - 1]?.startedMs ?? 0)));
  await refused(t, store.listCommits("r", "master", { limit: 0 }), "INVALID_ARGUMENT");
  await refused(t, store.listCommits("r", "nobranch"), "NOT_FOUND");
});

both("branches: create at a finished commit, re-point, list, delete keeps commits",
  async (t, f) => {
    const { store } = f;
    await store.createRepo("r");
    const a = await commitOn(store, "r", "master");
    const b = await commitOn(store, "r", "master");
    const open = await store.startCommit("r", "wip");
    const before = await dump(f);
    await refused(t, store.createBranch("r", "dev", open.id), "FAILED_PRECONDITION", /open/);
    await refused(t, store.createBranch("r", "dev", "a".repeat(32)), "NOT_FOUND");
    await refused(t, store.createBranch("nope", "dev", a.id), "NOT_FOUND", /repo nope/);
    await refused(t, store.createBranch("r", "c".repeat(32), a.id), "INVALID_ARGUMENT",
      /looks like a commit id/);
    await refused(t, store.createBranch("r", "a^b", a.id), "INVALID_ARGUMENT");
    t.deepEqual(await dump(f), before);
    t.deepEqual(await store.createBranch("r", "dev", a.id),
      { repo: "r", name: "dev", head: a.id, open: "" });
    t.is((await store.inspectCommit("r", "dev")).id, a.id);
    await store.createBranch("r", "dev", b.id);
    t.is((await store.inspectBranch("r", "dev")).head, b.id);
    await store.createBranch("r", "empty", "");
    await refused(t, store.inspectCommit("r", "empty"), "NOT_FOUND", /no commits/);
    t.deepEqual((await store.listBranches("r")).map((x) => x.name),
      ["dev", "empty", "master", "wip"]);
    t.is((await store.deleteBranch("r", "dev")).head, b.id);
    await refused(t, store.inspectBranch("r", "dev"), "NOT_FOUND");
    await refused(t, store.deleteBranch("r", "dev"), "NOT_FOUND");
    t.is((await store.inspectCommit("r", b.id)).state, "finished");
  });

both("of concurrent startCommits from separate clients exactly one wins", async (t, f) => {
  await f.store.createRepo("r");
  const stores = Array.from({ length: 6 }, () => f.otherStore());
  for (let round = 0; round < 3; round += 1) {
    const results = await Promise.allSettled(
      stores.map((store) => store.startCommit("r", "master")));
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    t.is(won.length, 1, `round ${round}`);
    const winner = won[0];
    if (winner === undefined) return;
    for (const reason of lost) {
      t.true(reason instanceof PfsError);
      if (reason instanceof PfsError) {
        t.is(reason.code, "FAILED_PRECONDITION");
        t.true(reason.message.includes(winner.id), reason.message);
      }
    }
    t.is((await f.store.inspectBranch("r", "master")).open, winner.id);
    await f.store.finishCommit("r", winner.id, round);
  }
  t.is((await f.store.listCommits("r", "master")).length, 3);
});

both("finishing writes the commit and moves the head in one revision; one finisher wins",
  async (t, f) => {
    const { store } = f;
    await store.createRepo("r");
    const base = await commitOn(store, "r", "master");
    const open = await store.startCommit("r", "master");
    const outcomes = await Promise.allSettled([
      store.finishCommit("r", open.id, 7), f.otherStore().failCommit("r", open.id, "lost"),
      f.otherStore().finishCommit("r", open.id, 8),
    ]);
    t.is(outcomes.filter((o) => o.status === "fulfilled").length, 1);
    const commitKv = await f.client.get(`${f.root}/commits/r/${open.id}`).exec();
    const branchKv = await f.client.get(`${f.root}/branches/r/master`).exec();
    const commitRevision = commitKv.kvs[0]?.mod_revision;
    t.is(commitRevision, branchKv.kvs[0]?.mod_revision);
    const final = await store.inspectCommit("r", open.id);
    const head = (await store.inspectBranch("r", "master")).head;
    t.is(head, final.state === "finished" ? open.id : base.id);
    const previous = Number(commitRevision) - 1;
    const oldBranch = await f.client.get(`${f.root}/branches/r/master`)
      .revision(String(previous)).json() as { head: string; open: string };
    t.deepEqual([oldBranch.head, oldBranch.open], [base.id, open.id]);
  });

both("waitCommit resolves on finish or failure, refuses deletion, and aborts", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const a = await store.startCommit("r", "master");
  const waiting = store.waitCommit("r", a.id);
  await f.otherStore().setFinishing("r", a.id);
  await f.otherStore().finishCommit("r", a.id, 5);
  t.like(await waiting, { id: a.id, state: "finished", sizeBytes: 5 });
  t.is((await store.waitCommit("r", "master")).id, a.id);
  const b = await store.startCommit("r", "master");
  const waitingB = store.waitCommit("r", "master");
  await f.otherStore().failCommit("r", b.id, "boom");
  t.like(await waitingB, { id: b.id, state: "failed", error: "boom" });
  const c = await store.startCommit("r", "master");
  const waitingC = store.waitCommit("r", c.id);
  await f.otherStore().deleteCommit("r", c.id);
  await refused(t, waitingC, "NOT_FOUND");
  const d = await store.startCommit("r", "master");
  const controller = new AbortController();
  const waitingD = store.waitCommit("r", d.id, controller.signal);
  controller.abort(new Error("gave up"));
  await t.throwsAsync(waitingD, { message: "gave up" });
  await refused(t, store.waitCommit("r", "e".repeat(32)), "NOT_FOUND");
});

both("subscribe: history first, then each finish once, with commits finishing concurrently",
  async (t, f) => {
    const seed = systemSeed();
    t.log(`seed ${seed}`);
    const prng = new Prng(seed);
    const { store } = f;
    await store.createRepo("r");
    for (let i = 0; i < 3; i += 1) await commitOn(store, "r", "master");
    const writer = f.otherStore();
    const total = 3 + 25;
    const writes = (async () => {
      for (let i = 0; i < 25; i += 1) {
        if (prng.nextUint32() % 3 === 0) await commitOn(writer, "r", "dev");
        const open = await writer.startCommit("r", "master");
        if (prng.nextUint32() % 4 === 0) {
          await writer.failCommit("r", open.id, "no");
          i -= 1;
        } else {
          await writer.finishCommit("r", open.id, i);
        }
      }
    })();
    const seen: CommitInfo[] = [];
    for await (const commit of store.subscribeCommits("r", "master")) {
      seen.push(commit);
      if (seen.length === total) break;
    }
    await writes;
    const chain = (await store.listCommits("r", "master", { limit: 100 })).reverse();
    t.deepEqual(seen.map((c) => c.id), chain.map((c) => c.id), `seed ${seed}`);
    t.true(seen.every((c) => c.state === "finished"));
  });

both("subscribe on an empty branch waits for its first commit; abort ends it", async (t, f) => {
  const { store } = f;
  await store.createRepo("r");
  const controller = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const commit of store.subscribeCommits("r", "new", controller.signal)) {
      seen.push(commit.id);
      controller.abort();
    }
  })();
  const first = await commitOn(f.otherStore(), "r", "new");
  await reading;
  t.deepEqual(seen, [first.id]);
  const later = new AbortController();
  const fresh: string[] = [];
  const readingNew = (async () => {
    const commits = store.subscribeCommits("r", "new", later.signal, { newOnly: true });
    for await (const commit of commits) {
      fresh.push(commit.id);
      later.abort();
    }
  })();
  const second = await commitOn(f.otherStore(), "r", "new");
  await readingNew;
  t.deepEqual(fresh, [second.id]);
  await refused(t, (async () => {
    for await (const commit of store.subscribeCommits("nope", "master")) t.fail(commit.id);
  })(), "NOT_FOUND");
});

/** The documented semantics, in memory: what each operation should return or refuse. */
class MetaModel {
  readonly branches = new Map<string, { head: string; open: string }>();
  readonly commits = new Map<string, { branch: string; parent: string; state: string }>();

  branch(name: string): { head: string; open: string } {
    return this.branches.get(name) ?? { head: "", open: "" };
  }

  /** The code `start` must fail with, or undefined when it must succeed. */
  startRefusal(branch: string, parent: string | undefined): ErrorCode | undefined {
    if (this.branch(branch).open !== "") return "FAILED_PRECONDITION";
    if (parent === undefined) return undefined;
    const commit = this.commits.get(parent);
    if (commit === undefined) return "NOT_FOUND";
    return commit.state === "finished" ? undefined : "FAILED_PRECONDITION";
  }

  transitionRefusal(id: string, allowed: readonly string[]): ErrorCode | undefined {
    const commit = this.commits.get(id);
    if (commit === undefined) return "NOT_FOUND";
    return allowed.includes(commit.state) ? undefined : "FAILED_PRECONDITION";
  }

  createBranchRefusal(branch: string, head: string): ErrorCode | undefined {
    if (this.branch(branch).open !== "") return "FAILED_PRECONDITION";
    if (head === "") return undefined;
    const commit = this.commits.get(head);
    if (commit === undefined) return "NOT_FOUND";
    return commit.state === "finished" ? undefined : "FAILED_PRECONDITION";
  }

  resolve(branch: string, steps: number): string | undefined {
    const record = this.branches.get(branch);
    if (record === undefined) return undefined;
    let id = record.open !== "" ? record.open : record.head;
    for (let i = 0; i < steps && id !== ""; i += 1) id = this.commits.get(id)?.parent ?? "";
    return id === "" ? undefined : id;
  }
}

both("a seeded random run of operations matches the documented model", async (t, f) => {
  const seed = process.env["PFS_SEED"] === undefined ? systemSeed() : Number(process.env["PFS_SEED"]);
  t.log(`seed ${seed} (replay: PFS_SEED=${seed})`);
  const prng = new Prng(seed);
  const pick = <T>(items: readonly T[]): T => {
    const item = items[prng.nextUint32() % items.length];
    if (item === undefined) throw new Error("empty pick");
    return item;
  };
  const { store } = f;
  const model = new MetaModel();
  await store.createRepo("r");
  const branches = ["master", "dev", "x"];
  const unknownId = "0".repeat(32);
  let succeeded = 0;
  /** Runs `call`; checks it refuses with `code`, or succeeds when `code` is undefined. */
  const expect = async <T>(what: string, code: ErrorCode | undefined, call: () => Promise<T>):
    Promise<T | undefined> => {
    try {
      const result = await call();
      t.is(code, undefined, `${what} succeeded; seed ${seed}`);
      succeeded += 1;
      return result;
    } catch (error: unknown) {
      t.true(error instanceof PfsError, String(error));
      const got = error instanceof PfsError ? error.code : String(error);
      t.is(got, code ?? "success", `${what}; seed ${seed}`);
      return undefined;
    }
  };
  for (let step = 0; step < 120; step += 1) {
    const ids = [...model.commits.keys(), unknownId];
    const branch = pick(branches);
    const id = pick(ids);
    const op = pick(["start", "start", "start", "finishing", "finish", "finish", "fail", "delete",
      "branch", "unbranch", "resolve"]);
    switch (op) {
      case "start": {
        const parent = prng.nextUint32() % 4 === 0 ? id : undefined;
        const opened = await expect(`start ${branch} ${parent}`, model.startRefusal(branch, parent),
          () => store.startCommit("r", branch, parent === undefined ? {} : { parent }));
        if (opened !== undefined) {
          const record = model.branch(branch);
          t.is(opened.parent, parent ?? record.head, `seed ${seed}`);
          model.commits.set(opened.id, { branch, parent: opened.parent, state: "open" });
          model.branches.set(branch, { head: record.head, open: opened.id });
        }
        break;
      }
      case "finishing":
      case "finish":
      case "fail":
      case "delete": {
        const allowed = op === "finish" || op === "fail" ? ["open", "finishing"] : ["open"];
        const done = await expect(`${op} ${id}`, model.transitionRefusal(id, allowed), () =>
          op === "finishing" ? store.setFinishing("r", id)
            : op === "finish" ? store.finishCommit("r", id, 1)
              : op === "fail" ? store.failCommit("r", id, "x") : store.deleteCommit("r", id));
        const commit = model.commits.get(id);
        if (done === undefined || commit === undefined) break;
        const record = model.branch(commit.branch);
        if (op === "finishing") commit.state = "finishing";
        else if (op === "finish") commit.state = "finished";
        else if (op === "fail") commit.state = "failed";
        else model.commits.delete(id);
        if (op !== "finishing") {
          model.branches.set(commit.branch,
            { head: op === "finish" ? id : record.head, open: "" });
        }
        break;
      }
      case "branch": {
        const head = prng.nextUint32() % 5 === 0 ? "" : id;
        const made = await expect(`branch ${branch} ${head}`,
          model.createBranchRefusal(branch, head), () => store.createBranch("r", branch, head));
        if (made !== undefined) model.branches.set(branch, { head, open: "" });
        break;
      }
      case "unbranch": {
        const record = model.branches.get(branch);
        const code = record === undefined ? "NOT_FOUND"
          : record.open !== "" ? "FAILED_PRECONDITION" : undefined;
        if (await expect(`unbranch ${branch}`, code, () => store.deleteBranch("r", branch))) {
          model.branches.delete(branch);
        }
        break;
      }
      case "resolve": {
        const steps = prng.nextUint32() % 3;
        const want = model.resolve(branch, steps);
        const got = await expect(`resolve ${branch}^${steps}`,
          want === undefined ? "NOT_FOUND" : undefined,
          () => store.inspectCommit("r", `${branch}^${steps}`));
        t.is(got?.id, want, `seed ${seed}`);
        break;
      }
      default:
        throw new Error(op);
    }
  }
  // Not vacuous: some operations must have changed something. How many depends on the seed
  // (a seed of CI's once let only 24 of 120 succeed, every one as the model said).
  t.true(succeeded >= 10, `only ${succeeded} of 120 operations succeeded; seed ${seed}`);
  const stored = await store.listBranches("r");
  t.deepEqual(stored.map((b) => [b.name, b.head, b.open]),
    [...model.branches.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, b]) => [name, b.head, b.open]), `seed ${seed}`);
  const commits = await store.listCommits("r", undefined, { limit: 10_000 });
  t.deepEqual(commits.map((c) => [c.id, c.branch, c.parent, c.state].join()).sort(),
    [...model.commits].map(([key, c]) => [key, c.branch, c.parent, c.state].join()).sort(),
    `seed ${seed}`);
});

both("a finish fenced by masters' terms is refused once a term ended, changing nothing",
  async (t, f) => {
    const { store, client, root } = f;
    await store.createRepo("r");
    const open = await store.startCommit("r", "master");
    // Two "masters": election keys on leases; the create revisions are their tokens.
    const leaseA = client.lease(60, { autoKeepAlive: false });
    const leaseB = client.lease(60, { autoKeepAlive: false });
    await leaseA.put(`${root}/election/shard-master/0/a`).value("n1").exec();
    await leaseB.put(`${root}/election/shard-master/1/b`).value("n2").exec();
    const a = await client.get(`${root}/election/shard-master/0/a`).exec();
    const b = await client.get(`${root}/election/shard-master/1/b`).exec();
    const fences = [
      { shard: 0, key: `${root}/election/shard-master/0/a`,
        revision: revision(Number(a.kvs[0]?.create_revision)) },
      { shard: 1, key: `${root}/election/shard-master/1/b`,
        revision: revision(Number(b.kvs[0]?.create_revision)) },
    ];
    // A staged-on mark of the commit goes when the commit settles.
    await client.put(`${root}/staged-on/r/${open.id}/0`).value("n1@x");
    await leaseB.revoke();
    const before = await dump(f);
    const error = await refused(t, store.finishCommit("r", open.id, 7, fences), "UNAVAILABLE",
      /shard 1 lost its term/);
    t.deepEqual(error.details, { shard: 1 });
    t.deepEqual(await dump(f), before);
    t.is((await store.inspectCommit("r", open.id)).state, "open");
    // With only the live master's fence, it finishes and the mark is gone.
    const done = await store.finishCommit("r", open.id, 7, fences.slice(0, 1));
    t.is(done.state, "finished");
    t.is(await client.get(`${root}/staged-on/r/${open.id}/0`).string(), null);
    await leaseA.revoke();
  });

both("deleting a repo drops its commits' staged-on marks", async (t, f) => {
  const { store, client, root } = f;
  await store.createRepo("gone");
  const open = await store.startCommit("gone", "master");
  await client.put(`${root}/staged-on/gone/${open.id}/3`).value("n1@x");
  await store.deleteRepo("gone");
  t.deepEqual(await client.getAll().prefix(`${root}/staged-on/`).keys(), []);
});
