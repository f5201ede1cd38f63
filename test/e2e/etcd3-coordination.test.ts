// Goal: the coordination recipes of the etcd3 client (1.1.2) work against a 3-member cluster:
// leases with keepalive (a kept lease outlives its TTL, revoke deletes its keys in one
// revision, an unkept lease expires with its keys and etcd3 reports it 'lost'), try-locks, and
// elections (campaign, observe, proclaim, resign, a revoked leader's lease hands over).
// Method: one cluster for the file (pfsd by default; PFS_ETCD3_KIND=etcd for the reference).
// The tests wait on lease TTLs, so they run concurrently, each on its own keys and clients;
// only the one that kills the leader runs alone, first (ava runs serial tests first), and
// leaves that member down.
import test from "ava";
import {
  type Campaign, type Etcd3, EtcdLeaseInvalidError, EtcdLockFailedError, type Lease,
} from "etcd3";
import {
  type Etcd3Cluster, eventually, leaderMember, sleep, startEtcd3Cluster,
} from "./support-etcd3/etcd3-cluster.js";

let etcd3: Etcd3Cluster | undefined;

function cluster(): Etcd3Cluster {
  if (etcd3 === undefined) throw new Error("no cluster");
  return etcd3;
}

/**
 * A client of one running member; `i` picks which, so concurrent clients spread over members.
 * (The leader-kill test leaves its victim down: the recipes must work on two of three members.)
 */
function client(i: number): Etcd3 {
  const members = cluster().cluster.members.filter((member) => member.running);
  const member = members[i % members.length];
  if (member === undefined) throw new Error("no member");
  return cluster().client([member]);
}

test.before(async () => {
  etcd3 = await startEtcd3Cluster();
});

test.after.always(async () => {
  await etcd3?.stop();
});

/** Resolves with the error of the first 'lost' event of `lease`, or undefined after `ms`. */
function lostWithin(lease: Lease, ms: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
    lease.once("lost", (error: Error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

async function timeToLive(etcd: Etcd3, id: string): Promise<{ ttl: number; keys: string[] }> {
  const response = await etcd.leaseClient.leaseTimeToLive({ ID: id, keys: true });
  return { ttl: Number(response.TTL), keys: response.keys.map((key) => key.toString()) };
}

test.serial("a kept lease outlives a leader killed with -9 (the new leader renews it)",
  async (t) => {
    const leader = await leaderMember(cluster());
    const others = cluster().cluster.members.filter((member) => member !== leader);
    const etcd = cluster().client(others);
    const ttlSeconds = 4;
    const lease = etcd.lease(ttlSeconds);
    let lostError: Error | undefined;
    lease.on("lost", (error) => {
      lostError = error;
    });
    await lease.put("lease/failover").value("kept");
    const id = await lease.grant();
    await leader.kill9();
    await sleep(2.5 * ttlSeconds * 1_000);
    t.is(lostError, undefined, "the lease was not lost");
    t.is(await etcd.get("lease/failover").string(), "kept");
    const alive = await timeToLive(etcd, id);
    t.true(alive.ttl > 0, `TTL ${alive.ttl}`);
    await lease.revoke();
    t.false(await etcd.get("lease/failover").exists());
  });

test("a lease kept alive outlives its TTL; revoke deletes its keys in one revision",
  async (t) => {
    const etcd = client(0);
    const ttlSeconds = 4;
    const lease = etcd.lease(ttlSeconds);
    let lostCount = 0;
    lease.on("lost", () => {
      lostCount++;
    });
    await lease.put("lease/kept/a").value("a");
    await lease.put("lease/kept/b").value("b");
    await lease.put("lease/kept/c").value("c");
    const id = await lease.grant();
    await sleep(2 * ttlSeconds * 1_000);
    t.deepEqual(await client(1).getAll().prefix("lease/kept/").keys(),
      ["lease/kept/a", "lease/kept/b", "lease/kept/c"]);
    const alive = await timeToLive(client(2), id);
    t.true(alive.ttl >= 0 && alive.ttl <= ttlSeconds, `TTL ${alive.ttl}`);
    t.deepEqual(alive.keys.sort(), ["lease/kept/a", "lease/kept/b", "lease/kept/c"]);
    const watcher = await client(1).watch().prefix("lease/kept/").create();
    const deleteRevisions: string[][] = [];
    watcher.on("data", (response) => {
      deleteRevisions.push(response.events.map((event) => `${event.type}@${event.kv.mod_revision}`));
    });
    await lease.revoke();
    t.is(await etcd.getAll().prefix("lease/kept/").count(), 0);
    await eventually("the delete events", 10_000, () => deleteRevisions.length >= 1);
    await watcher.cancel();
    t.is(deleteRevisions.length, 1, "one watch response for the revoke");
    t.is(new Set(deleteRevisions[0]).size, 1, "three deletes at one revision");
    t.is(deleteRevisions[0]?.length, 3);
    t.true(deleteRevisions[0]?.[0]?.startsWith("Delete@"), deleteRevisions[0]?.[0]);
    t.is(lostCount, 0, "a revoke by its owner is not a loss");
    t.is((await timeToLive(etcd, id)).ttl, -1);
  });

test("an unkept lease expires, its keys go, and etcd3 reports it lost", async (t) => {
  const etcd = client(1);
  const asked = Date.now();
  const lease = etcd.lease(3, { autoKeepAlive: false });
  await lease.put("lease/unkept/a").value("a");
  await lease.put("lease/unkept/b").value("b");
  await eventually("the leased keys expire", 15_000,
    async () => (await client(2).getAll().prefix("lease/unkept/").count()) === 0);
  const expiredAfterMs = Date.now() - asked;
  t.true(expiredAfterMs >= 2_900, `expired ${expiredAfterMs} ms after the grant was asked`);
  const loss = lostWithin(lease, 10_000);
  await t.throwsAsync(lease.keepaliveOnce(), { instanceOf: EtcdLeaseInvalidError });
  t.true((await loss) instanceof EtcdLeaseInvalidError);
  t.true(lease.revoked());
});

test("a kept-alive lease revoked by another client is reported lost", async (t) => {
  const lease = client(2).lease(3);
  const loss = lostWithin(lease, 15_000);
  await lease.put("lease/stolen").value("x");
  const id = await lease.grant();
  await client(0).leaseClient.leaseRevoke({ ID: id });
  const error = await loss;
  t.true(error instanceof EtcdLeaseInvalidError, String(error));
  t.false(await client(1).get("lease/stolen").exists());
});

test("lock: a second try-lock fails while the first is held; release lets it through",
  async (t) => {
    const first = client(0).lock("locks/one").ttl(5);
    const second = client(1).lock("locks/one").ttl(5);
    await first.acquire();
    await t.throwsAsync(second.acquire(), { instanceOf: EtcdLockFailedError });
    await sleep(3_000);
    await t.throwsAsync(client(2).lock("locks/one").acquire(),
      { instanceOf: EtcdLockFailedError }, "still held after a keepalive period");
    await first.release();
    await second.acquire();
    t.truthy(await second.leaseId());
    await t.throwsAsync(client(0).lock("locks/one").acquire(), { instanceOf: EtcdLockFailedError });
    const result = await client(2).lock("locks/two").do(async () => {
      await t.throwsAsync(client(0).lock("locks/two").acquire(),
        { instanceOf: EtcdLockFailedError });
      return "done";
    });
    t.is(result, "done");
    await second.release();
    const third = await client(2).lock("locks/one").acquire();
    await third.release();
    await client(0).lock("locks/two").do(() => undefined);
  });

/** Resolves true once `campaign` is elected, false if that takes more than `ms`. */
function electedWithin(campaign: Campaign, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    campaign.once("elected", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function collectErrors(campaign: Campaign): Error[] {
  const errors: Error[] = [];
  campaign.on("error", (error) => errors.push(error));
  return errors;
}

test("election: campaign, observe, proclaim, resign, and a revoked leader hands over",
  async (t) => {
    const electionTtlSeconds = 5;
    const observer = await client(2).election("jobs", electionTtlSeconds).observe();
    const changes: (string | undefined)[] = [];
    observer.on("change", (value) => changes.push(value));
    const first = client(0).election("jobs", electionTtlSeconds).campaign("alpha");
    const firstErrors = collectErrors(first);
    await first.wait();
    t.is(await client(1).election("jobs").leader(), "alpha");
    const second = client(1).election("jobs", electionTtlSeconds).campaign("beta");
    const secondErrors = collectErrors(second);
    const secondElected = electedWithin(second, 20_000);
    await sleep(1_000);
    t.is(await client(2).election("jobs").leader(), "alpha", "the first stays leader");
    await first.proclaim("alpha-2");
    await eventually("the observer sees alpha-2", 10_000, () => observer.leader() === "alpha-2");
    await first.resign();
    t.true(await secondElected, "the second candidate wins after the first resigns");
    await eventually("the observer sees beta", 10_000, () => observer.leader() === "beta");
    const third = client(0).election("jobs", electionTtlSeconds).campaign("gamma");
    const thirdErrors = collectErrors(third);
    const thirdElected = electedWithin(third, 20_000);
    await sleep(500);
    const secondKey = await second.getCampaignKey();
    const secondLease = secondKey.slice(secondKey.lastIndexOf("/") + 1);
    await client(1).leaseClient.leaseRevoke({ ID: secondLease });
    t.true(await thirdElected, "the third candidate wins once the leader's lease is revoked");
    await eventually("the observer sees gamma", 10_000, () => observer.leader() === "gamma");
    await eventually("the second campaign reports its loss", 15_000,
      () => secondErrors.length > 0);
    t.is(await client(2).election("jobs").leader(), "gamma");
    await third.resign();
    await observer.cancel();
    t.deepEqual(firstErrors, []);
    t.deepEqual(thirdErrors, []);
    t.deepEqual(changes.filter((value) => value !== undefined),
      ["alpha", "alpha-2", "beta", "gamma"]);
  });
