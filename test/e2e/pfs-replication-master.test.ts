// Goal: per-shard master election is safe and quick on both coordination stores (real etcd
// 3.4.23 and pfsd's embedded layer): a replica that is not up to date cannot campaign and
// writes nothing, nor keeps a mastership it won while falling behind; of two candidates one is
// master and routers see it through the watch; when the master's lease is revoked or expires
// the other takes over, the observer follows, and a transaction fenced with the old master's
// token is refused while the new one's succeeds.
// Method: one single-member store per kind for the file; each test uses its own shard, its
// own clients and the real election API (master lease 3 s, the default). Closing an etcd3
// client does not stop its lease keep-alives (seen: the TTL stays renewed), so the master that
// must stop renewing runs in a child process that is killed with -9.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import test from "ava";
import { PfsError, silentLogger } from "../../pkg/common/index.js";
// pkg/pfs/index.ts does not re-export the replication module yet.
// eslint-disable-next-line pfs/boundaries
import {
  type Fence, MasterObserver, ShardMasterCandidate, fenceHeld, fencedIf,
} from "../../pkg/pfs/replication/index.js";
import type { MemberKind } from "../support/member-cluster.js";
import { eventually } from "./support-etcd3/etcd3-cluster.js";
import { type Store, keysUnder, revokeLeaseOfKey, useStores } from "./pfs-replication-support.js";

// Unique per process (see pfs-replication-controller.test.ts).
const root = `/pfs-${process.pid}`;
const kinds: readonly MemberKind[] = ["etcd", "pfsd"];
const storeOf = useStores(kinds);

/** The replication module in dist/, for a child process to import. */
const replicationModule = fileURLToPath(
  new URL("../../pkg/pfs/replication/index.js", import.meta.url));
const etcd3Module = createRequire(import.meta.url).resolve("etcd3");

/**
 * A master in its own process (so it can die with -9 and stop renewing its lease): it
 * campaigns for `shard` and prints its fence as one JSON line, then waits to be killed.
 */
async function campaignInChild(store: Store, shard: number, node: string):
  Promise<{ process: ChildProcess; fence: Fence }> {
  const script = `
    import { Etcd3 } from ${JSON.stringify(pathToFileURL(etcd3Module).href)};
    import { ShardMasterCandidate } from ${JSON.stringify(pathToFileURL(replicationModule).href)};
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
    const client = new Etcd3({ hosts: ${JSON.stringify(store.cluster.endpoints)}.split(",") });
    const candidate = new ShardMasterCandidate({ client, root: ${JSON.stringify(root)},
      shard: ${shard}, node: ${JSON.stringify(node)}, isUpToDate: () => true, logger });
    const term = await candidate.campaign();
    console.log(JSON.stringify({ key: term.fence.key, revision: String(term.fence.revision) }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script],
    { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
    });
    child.once("exit", (code) => { reject(new Error(`the master process exited (${code})`)); });
  });
  const parsed = JSON.parse(line) as { key: string; revision: string };
  return { process: child, fence: { key: parsed.key, revision: BigInt(parsed.revision) } };
}

function candidate(store: Store, shard: number, node: string,
  isUpToDate: () => boolean = () => true): ShardMasterCandidate {
  return new ShardMasterCandidate({ client: store.client(), root, shard, node, isUpToDate,
    logger: silentLogger });
}

for (const kind of kinds) {
  test(`${kind}: a replica that is not up to date cannot campaign and writes nothing`,
    async (t) => {
      const store = storeOf(kind);
      const lagging = candidate(store, 1, "n1", () => false);
      const error = await t.throwsAsync(lagging.campaign(), { instanceOf: PfsError });
      t.is(error.code, "FAILED_PRECONDITION");
      t.deepEqual(await keysUnder(store.client(), `${root}/election/shard-master/1/`), []);
      t.is(lagging.term, undefined);
      t.throws(() => lagging.fencedTxn(), { instanceOf: PfsError });
      // up to date when it campaigns, behind once elected: it resigns and reports it
      let asked = 0;
      const fellBehind = candidate(store, 1, "n2", () => {
        asked += 1;
        return asked === 1;
      });
      const behind = await t.throwsAsync(fellBehind.campaign(), { instanceOf: PfsError });
      t.is(behind.code, "FAILED_PRECONDITION");
      t.is(asked, 2);
      t.deepEqual(await keysUnder(store.client(), `${root}/election/shard-master/1/`), []);
      t.is(fellBehind.term, undefined);
    });

  test(`${kind}: revoked master hands over; the old token is refused, the new one accepted`,
    async (t) => {
      const store = storeOf(kind);
      const admin = store.client();
      const observer = await MasterObserver.open({ client: admin, root, shard: 2,
        logger: silentLogger });
      t.teardown(() => observer.close());
      const first = candidate(store, 2, "alpha");
      const second = candidate(store, 2, "beta");
      const firstTerm = await first.campaign();
      const secondTerm = second.campaign();
      await eventually("the observer sees alpha", 10_000, () => observer.current() === "alpha");
      const data = `${root}/test/master-2`;
      const wrote = await first.fencedTxn().then(admin.put(data).value("alpha")).commit();
      t.true(wrote.succeeded, "the master's fenced write succeeds");

      await revokeLeaseOfKey(admin, firstTerm.fence.key);
      const term = await secondTerm;
      t.true(term.fence.revision > firstTerm.fence.revision, "tokens grow");
      await eventually("the observer sees beta", 10_000, () => observer.current() === "beta");
      t.false(await fenceHeld(admin, firstTerm.fence));
      // the deposed master may not have noticed yet: its write is refused by the store itself
      const stale = await fencedIf(admin, firstTerm.fence).then(admin.put(data).value("stale"))
        .commit();
      t.false(stale.succeeded, "a write fenced with the deposed token is refused");
      t.is(await admin.get(data).string(), "alpha");
      const fresh = await second.fencedTxn().then(admin.put(data).value("beta")).commit();
      t.true(fresh.succeeded);
      t.is(await admin.get(data).string(), "beta");
      await eventually("alpha learns its term is over", 10_000, () => first.term === undefined);
      t.throws(() => first.fencedTxn(), { instanceOf: PfsError });
      await second.resign();
      await eventually("no master after the resignation", 10_000,
        () => observer.current() === undefined);
    });

  test(`${kind}: a master process killed with -9 loses its lease; the other takes over`,
    async (t) => {
      const store = storeOf(kind);
      const admin = store.client();
      const child = await campaignInChild(store, 3, "gamma");
      t.teardown(() => { child.process.kill("SIGKILL"); });
      t.is(await admin.namespace(`${root}/`).election("shard-master/3").leader(), "gamma");
      const second = candidate(store, 3, "delta");
      const secondTerm = second.campaign();
      child.process.kill("SIGKILL");
      const started = Date.now();
      const term = await secondTerm;
      const tookMs = Date.now() - started;
      t.log(`${kind}: failover after kill -9 took ${tookMs} ms (lease 3 s)`);
      t.true(tookMs < 20_000, `took ${tookMs} ms`);
      t.is(await admin.election("shard-master/3").leader(), undefined,
        "elections live under the root, not at the top");
      const stale = await fencedIf(admin, child.fence).then(admin.put("x").value("y")).commit();
      t.false(stale.succeeded, "the dead master's token is refused");
      t.true(await fenceHeld(admin, term.fence));
      await second.resign();
    });
}

