// Goal: the etcd3 npm client (1.1.2) works unchanged against a 3-member cluster with client TLS
// and --client-cert-auth: KV reads and writes with every range option it offers, revision
// reads, txns, namespaces, STM under contention, and roles with password auth.
// Method: one cluster for the whole file (pfsd by default; PFS_ETCD3_KIND=etcd runs the same
// tests against etcd 3.4.23); clients carry the CA and the client certificate (CN root); every
// test uses its own key prefix, and the tests run one at a time because the roles test turns
// auth on for the whole cluster.
import { readFileSync } from "node:fs";
import test from "ava";
import { type Etcd3, EtcdPermissionDeniedError } from "etcd3";
import { type Etcd3Cluster, startEtcd3Cluster } from "./support-etcd3/etcd3-cluster.js";

let etcd3: Etcd3Cluster | undefined;

function cluster(): Etcd3Cluster {
  if (etcd3 === undefined) throw new Error("no cluster");
  return etcd3;
}

function client(): Etcd3 {
  return cluster().client();
}

test.before(async () => {
  etcd3 = await startEtcd3Cluster({ tls: "client-cert-auth" });
});

test.after.always(async () => {
  await etcd3?.stop();
});

test.serial("put, get, exists and delete over TLS on every member", async (t) => {
  t.true(cluster().cluster.endpoints.startsWith("https://"));
  const members = cluster().cluster.members;
  for (const [i, member] of members.entries()) {
    const etcd = cluster().client([member]);
    await etcd.put(`kv/member/${i}`).value(`from ${member.name}`);
  }
  const etcd = client();
  for (const [i, member] of members.entries()) {
    t.is(await etcd.get(`kv/member/${i}`).string(), `from ${member.name}`);
  }
  await etcd.put("kv/json").value(JSON.stringify({ a: 1 }));
  t.deepEqual(await etcd.get("kv/json").json(), { a: 1 });
  await etcd.put("kv/number").value(42);
  t.is(await etcd.get("kv/number").number(), 42);
  t.true(await etcd.get("kv/number").exists());
  t.false(await etcd.get("kv/missing").exists());
  t.is(await etcd.get("kv/missing").string(), null);
  const deleted = await etcd.delete().key("kv/number").exec();
  t.is(deleted.deleted, "1");
  t.false(await etcd.get("kv/number").exists());
  const none = await etcd.delete().key("kv/number").exec();
  t.is(none.deleted, "0");
});

test.serial("a client without a client certificate is refused", async (t) => {
  const certs = cluster().certs;
  if (certs === undefined) throw new Error("no certificates");
  const etcd = cluster().client(undefined, {
    credentials: { rootCertificate: readFileSync(certs.caFile) },
    defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }),
  });
  const error = await t.throwsAsync(etcd.get("kv/member/0").string());
  t.regex(error.message, /certificate|handshake|UNAVAILABLE/i);
});

test.serial("getAll with prefix, limit, sort, count, keys and values", async (t) => {
  const etcd = client();
  const values: Record<string, string> = { "p/a": "3", "p/b": "1", "p/c": "2", "p/d": "0" };
  for (const [key, value] of Object.entries(values)) await etcd.put(key).value(value);
  await etcd.put("p0").value("outside");
  await etcd.put("o/a").value("outside");
  t.deepEqual(await etcd.getAll().prefix("p/").keys(), ["p/a", "p/b", "p/c", "p/d"]);
  t.deepEqual(await etcd.getAll().prefix("p/").strings(), values);
  t.is(await etcd.getAll().prefix("p/").count(), 4);
  t.deepEqual(await etcd.getAll().prefix("p/").limit(2).keys(), ["p/a", "p/b"]);
  t.deepEqual(await etcd.getAll().prefix("p/").sort("Key", "Descend").limit(3).keys(),
    ["p/d", "p/c", "p/b"]);
  t.deepEqual(await etcd.getAll().prefix("p/").sort("Value", "Ascend").keys(),
    ["p/d", "p/b", "p/c", "p/a"]);
  const limited = await etcd.getAll().prefix("p/").limit(1).exec();
  t.true(limited.more);
  t.is(limited.count, "4");
  t.is(limited.kvs.length, 1);
  t.deepEqual(await etcd.getAll().prefix("p/").numbers(),
    { "p/a": 3, "p/b": 1, "p/c": 2, "p/d": 0 });
  const all = await etcd.getAll().keys();
  t.true(all.includes("p0") && all.includes("o/a") && all.includes("p/a"));
  const removed = await etcd.delete().prefix("p/").exec();
  t.is(removed.deleted, "4");
  t.is(await etcd.getAll().prefix("p/").count(), 0);
  t.is(await etcd.get("p0").string(), "outside");
});

test.serial("revisions: create, mod, version, reads at an old revision", async (t) => {
  const etcd = client();
  const first = await etcd.put("rev/k").value("v1").exec();
  const second = await etcd.put("rev/k").value("v2").exec();
  const firstRevision = BigInt(first.header.revision);
  t.is(BigInt(second.header.revision), firstRevision + 1n);
  const now = await etcd.get("rev/k").exec();
  const kv = now.kvs[0];
  t.is(kv?.create_revision, first.header.revision);
  t.is(kv?.mod_revision, second.header.revision);
  t.is(kv?.version, "2");
  t.is(await etcd.get("rev/k").revision(first.header.revision).string(), "v1");
  t.is(await etcd.get("rev/k").revision(second.header.revision).string(), "v2");
  const previous = await etcd.put("rev/k").value("v3").getPrevious();
  t.is(previous.value.toString(), "v2");
  await etcd.delete().key("rev/k");
  t.is(await etcd.get("rev/k").revision(second.header.revision).string(), "v2");
  const recreated = await etcd.put("rev/k").value("again").exec();
  const again = await etcd.get("rev/k").exec();
  t.is(again.kvs[0]?.version, "1");
  t.is(again.kvs[0]?.create_revision, recreated.header.revision);
});

test.serial("txn: if/then/else on version and value", async (t) => {
  const etcd = client();
  await etcd.put("txn/k").value("old");
  const swapped = await etcd.if("txn/k", "Value", "==", "old")
    .then(etcd.put("txn/k").value("new"))
    .else(etcd.get("txn/k"))
    .commit();
  t.true(swapped.succeeded);
  const refused = await etcd.if("txn/k", "Value", "==", "old")
    .then(etcd.put("txn/k").value("newer"))
    .else(etcd.get("txn/k"))
    .commit();
  t.false(refused.succeeded);
  t.is(refused.responses[0]?.response_range.kvs[0]?.value.toString(), "new");
  const created = await etcd.if("txn/absent", "Create", "==", 0)
    .then(etcd.put("txn/absent").value("made"), etcd.put("txn/other").value("too"))
    .commit();
  t.true(created.succeeded);
  t.is(await etcd.get("txn/absent").string(), "made");
  t.is(await etcd.get("txn/other").string(), "too");
});

test.serial("namespaces prefix keys and confine reads and deletes", async (t) => {
  const etcd = client();
  const app = etcd.namespace("app/");
  const nested = app.namespace("inner/");
  await app.put("x").value("1");
  await app.put("y").value("2");
  await nested.put("z").value("3");
  await etcd.put("appx").value("outside");
  t.is(await etcd.get("app/x").string(), "1");
  t.is(await etcd.get("app/inner/z").string(), "3");
  t.is(await app.get("x").string(), "1");
  t.is(await nested.get("z").string(), "3");
  t.deepEqual(await app.getAll().keys(), ["inner/z", "x", "y"]);
  t.deepEqual(await nested.getAll().strings(), { z: "3" });
  t.is(await app.getAll().count(), 3);
  const committed = await app.if("x", "Value", "==", "1").then(app.put("y").value("20")).commit();
  t.true(committed.succeeded);
  t.is(await etcd.get("app/y").string(), "20");
  await nested.delete().all();
  t.deepEqual(await app.getAll().keys(), ["x", "y"]);
  await app.delete().all();
  t.is(await app.getAll().count(), 0);
  t.is(await etcd.get("appx").string(), "outside");
});

test.serial("STM: concurrent increments from clients on different members all count",
  async (t) => {
    const members = cluster().cluster.members;
    const workers = members.map((member) => cluster().client([member]));
    const incrementsPerWorker = 8;
    const increment = (etcd: Etcd3): Promise<void> => etcd.stm({ retries: 200 }).transact(
      async (tx) => {
        const current = (await tx.get("stm/counter").number()) ?? 0;
        await tx.put("stm/counter").value(current + 1);
      });
    await Promise.all(workers.map(async (etcd) => {
      for (let i = 0; i < incrementsPerWorker; i++) await increment(etcd);
    }));
    const final = await client().get("stm/counter").number();
    t.is(final, incrementsPerWorker * workers.length);
    const kv = (await client().get("stm/counter").exec()).kvs[0];
    t.is(kv?.version, String(incrementsPerWorker * workers.length));
  });

test.serial("roles: a user reads its range and is denied outside it", async (t) => {
  const admin = client();
  await admin.put("roles/mine/a").value("readable");
  await admin.put("roles/other").value("secret");
  const reader = await admin.role("reader").create();
  await reader.grant({ permission: "Read", range: admin.range({ prefix: "roles/mine/" }) });
  const user = await admin.user("alice").create("alice-password");
  await user.addRole("reader");
  await admin.role("root").create();
  const root = await admin.user("root").create("root-password");
  await root.addRole("root");
  t.deepEqual((await user.roles()).map((role) => role.name), ["reader"]);
  await admin.auth.authEnable({});
  const rootClient = cluster().client(undefined,
    { auth: { username: "root", password: "root-password" } });
  try {
    const alice = cluster().client(undefined,
      { auth: { username: "alice", password: "alice-password" } });
    t.is(await alice.get("roles/mine/a").string(), "readable");
    t.deepEqual(await alice.getAll().prefix("roles/mine/").keys(), ["roles/mine/a"]);
    await t.throwsAsync(alice.get("roles/other").string(),
      { instanceOf: EtcdPermissionDeniedError });
    await t.throwsAsync(alice.put("roles/mine/a").value("written").exec(),
      { instanceOf: EtcdPermissionDeniedError });
    t.is(await rootClient.get("roles/other").string(), "secret");
  } finally {
    await rootClient.auth.authDisable({});
  }
  t.is(await client().get("roles/other").string(), "secret");
});
