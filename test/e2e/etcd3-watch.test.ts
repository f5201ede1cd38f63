// Goal: etcd3 (1.1.2) watches behave against a 3-member cluster as against etcd: events in
// revision order with prev_kv, the events of one txn in one response, replay from an old
// revision, filters, watcher.cancel(), and, above all, resuming after the member the watcher is
// connected to (the leader) dies with kill -9 and restarts while writes go on through the other
// members, with no event lost or duplicated.
// Method: one cluster for the file (pfsd by default; PFS_ETCD3_KIND=etcd for the reference),
// every test on its own prefix. The resume tests check the watcher's events against the keys
// the store holds afterwards (each write makes a new key, so every applied write is there once,
// acknowledged or not) and against every acknowledged write.
import test, { type ExecutionContext } from "ava";
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from "etcd3";
import type { ClusterMember } from "../support/member-cluster.js";
import {
  type Etcd3Cluster, eventually, leaderMember, sleep, startEtcd3Cluster,
} from "./support-etcd3/etcd3-cluster.js";

let etcd3: Etcd3Cluster | undefined;

function cluster(): Etcd3Cluster {
  if (etcd3 === undefined) throw new Error("no cluster");
  return etcd3;
}

test.before(async () => {
  etcd3 = await startEtcd3Cluster();
});

test.after.always(async () => {
  await etcd3?.stop();
});

/** One event as a watcher saw it, flattened for comparison. */
interface SeenEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value: string;
  readonly modRevision: bigint;
  readonly previous: string | undefined;
}

function recordEvents(watcher: Watcher): { events: SeenEvent[]; responses: IWatchResponse[] } {
  const events: SeenEvent[] = [];
  const responses: IWatchResponse[] = [];
  const seen = (type: "put" | "delete") => (kv: IKeyValue, previous?: IKeyValue): void => {
    events.push({
      type, key: kv.key.toString(), value: kv.value.toString(),
      modRevision: BigInt(kv.mod_revision), previous: previous?.value.toString(),
    });
  };
  watcher.on("put", seen("put"));
  watcher.on("delete", seen("delete"));
  watcher.on("data", (response) => responses.push(response));
  return { events, responses };
}

test.serial("events arrive in order with prev_kv; one txn is one response", async (t) => {
  const etcd = cluster().client();
  const watcher = await etcd.watch().prefix("order/").withPreviousKV().create();
  const { events, responses } = recordEvents(watcher);
  await etcd.put("order/a").value("1");
  await etcd.put("order/a").value("2");
  await etcd.put("order/b").value("1");
  await etcd.delete().key("order/a");
  await etcd.if("order/b", "Version", "==", 1)
    .then(etcd.put("order/c").value("c"), etcd.put("order/d").value("d")).commit();
  await etcd.put("elsewhere").value("x");
  await eventually("6 events", 10_000, () => events.length >= 6);
  await watcher.cancel();
  t.deepEqual(events.map(({ type, key, value, previous }) => [type, key, value, previous]), [
    ["put", "order/a", "1", undefined],
    ["put", "order/a", "2", "1"],
    ["put", "order/b", "1", undefined],
    ["delete", "order/a", "", "2"],
    ["put", "order/c", "c", undefined],
    ["put", "order/d", "d", undefined],
  ]);
  const revisions = events.map((event) => event.modRevision);
  for (let i = 1; i < 5; i++) t.is(revisions[i], (revisions[i - 1] ?? 0n) + 1n);
  t.is(revisions[5], revisions[4]);
  const txnResponse = responses.find((response) => response.events.length === 2);
  t.deepEqual(txnResponse?.events.map((event) => event.kv.key.toString()), ["order/c", "order/d"]);
  t.is(txnResponse?.header.revision, txnResponse?.events[0]?.kv.mod_revision);
});

test.serial("a watch from an old revision replays history; filters drop puts or deletes",
  async (t) => {
    const etcd = cluster().client();
    const first = await etcd.put("replay/k").value("v1").exec();
    await etcd.put("replay/k").value("v2");
    await etcd.delete().key("replay/k");
    const replay = await etcd.watch().key("replay/k").startRevision(first.header.revision)
      .create();
    const replayed = recordEvents(replay);
    const putsOnly = await etcd.watch().key("replay/k").startRevision(first.header.revision)
      .only("put").create();
    const puts = recordEvents(putsOnly);
    const deletesOnly = await etcd.watch().key("replay/k").startRevision(first.header.revision)
      .only("delete").create();
    const deletes = recordEvents(deletesOnly);
    await etcd.put("replay/k").value("v3");
    await eventually("replay", 10_000, () => replayed.events.length >= 4
      && puts.events.length >= 3 && deletes.events.length >= 1);
    await Promise.all([replay.cancel(), putsOnly.cancel(), deletesOnly.cancel()]);
    t.deepEqual(replayed.events.map((event) => `${event.type}:${event.value}`),
      ["put:v1", "put:v2", "delete:", "put:v3"]);
    t.is(replayed.events[0]?.modRevision, BigInt(first.header.revision));
    t.deepEqual(puts.events.map((event) => event.value), ["v1", "v2", "v3"]);
    t.deepEqual(deletes.events.map((event) => event.type), ["delete"]);
  });

test.serial("watcher.cancel() ends the watcher and no event follows", async (t) => {
  const etcd = cluster().client();
  const kept = await etcd.watch().prefix("cancel/").create();
  const keptEvents = recordEvents(kept);
  const canceled = await etcd.watch().prefix("cancel/").create();
  const canceledEvents = recordEvents(canceled);
  let ended = false;
  canceled.on("end", () => {
    ended = true;
  });
  await etcd.put("cancel/a").value("before");
  await eventually("both see the first put", 10_000,
    () => keptEvents.events.length === 1 && canceledEvents.events.length === 1);
  await canceled.cancel();
  t.true(ended);
  await etcd.put("cancel/a").value("after");
  await etcd.put("cancel/b").value("after");
  await eventually("the kept watcher sees both", 10_000, () => keptEvents.events.length === 3);
  await kept.cancel();
  t.is(canceledEvents.events.length, 1);
});

/** Puts resume/<tag>/<n> through `etcd` until stopped; returns the acknowledged writes. */
function startWriter(etcd: Etcd3, tag: string): {
  acknowledged: Map<string, bigint>;
  stop: () => Promise<void>;
} {
  const acknowledged = new Map<string, bigint>();
  let running = true;
  const loop = async (): Promise<void> => {
    for (let n = 0; running; n++) {
      const key = `resume/${tag}/${String(n).padStart(6, "0")}`;
      try {
        const response = await etcd.put(key).value(String(n)).exec();
        acknowledged.set(key, BigInt(response.header.revision));
      } catch {
        await sleep(50); // no leader for a moment, or a member down: try the next key
      }
    }
  };
  const done = loop();
  return {
    acknowledged,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Watches resume/<tag>/ through `victim` alone, disrupts `victim` with `disrupt` while a writer
 * goes on through the other members, and checks that the watcher saw every applied write once.
 */
async function checkResume(t: ExecutionContext, tag: string,
  victim: ClusterMember, disrupt: () => Promise<void>): Promise<void> {
  const others = cluster().cluster.members.filter((member) => member !== victim);
  const watcherClient = cluster().client([victim]);
  const watcher = await watcherClient.watch().prefix(`resume/${tag}/`).create();
  const { events } = recordEvents(watcher);
  let disconnects = 0;
  watcher.on("disconnected", () => {
    disconnects++;
  });
  const writer = startWriter(cluster().client(others), tag);
  await eventually("writes before the fault", 10_000, () => writer.acknowledged.size >= 20);
  await disrupt();
  const afterFault = writer.acknowledged.size;
  await eventually("writes after the fault", 30_000,
    () => writer.acknowledged.size >= afterFault + 20);
  await writer.stop();
  const lastAcknowledged = [...writer.acknowledged.values()].reduce((a, b) => (a > b ? a : b));
  await eventually("the watcher catches up", 40_000,
    () => events.some((event) => event.modRevision >= lastAcknowledged));
  const stored = await cluster().client(others).getAll().prefix(`resume/${tag}/`).exec();
  await watcher.cancel();
  t.true(disconnects >= 1, "the watcher was disconnected");
  const seen = events.map((event) => `${event.key}@${event.modRevision}`);
  t.is(new Set(seen).size, seen.length, "no duplicate events");
  for (let i = 1; i < events.length; i++) {
    t.true((events[i]?.modRevision ?? 0n) > (events[i - 1]?.modRevision ?? 0n), `order at ${i}`);
  }
  const expected = stored.kvs
    .map((kv) => ({ key: kv.key.toString(), revision: BigInt(kv.mod_revision) }))
    .sort((a, b) => (a.revision < b.revision ? -1 : 1))
    .map(({ key, revision }) => `${key}@${revision}`);
  t.deepEqual(seen, expected, "the watcher saw exactly the applied writes");
  for (const [key, revision] of writer.acknowledged) {
    t.true(seen.includes(`${key}@${revision}`), `acknowledged ${key}@${revision} seen`);
  }
  t.log(`${events.length} events, ${writer.acknowledged.size} acknowledged, ${disconnects} ` +
    `disconnects`);
}

test.serial("a watcher resumes without loss or duplicates after its member (the leader) is " +
  "killed -9 and restarted", async (t) => {
  const victim = await leaderMember(cluster());
  await checkResume(t, "kill", victim, async () => {
    await victim.kill9();
    await sleep(1_500);
    await victim.restart();
    await victim.waitServing();
  });
});
