// Goal: what only makes sense against a running cluster, run by scripts/launch_test: `pfs
// cluster status` shows every node online and every shard mastered; etcdctl and the pfs CLI
// used at once on the same cluster each see all of their own writes and none of the other's
// damage; the etcd3 npm client works against ETCDCTL_ENDPOINTS (put, txn, lease, a watch that
// sees an etcdctl put, and the pfs node records); /livez, /readyz and /metrics of every node
// when the launch says the nodes serve them (PFS_METRICS_URLS; skipped otherwise).
// Method: child processes (`pfs`, `etcdctl`) that inherit the launch environment, TLS
// included; every key and repo here is prefixed `launch-` so it cannot meet the CLI suite's.
import { execFile } from "node:child_process";
import test from "ava";
import { runPfs } from "../e2e/pfs-cli-suite.js";
import { clusterStatus, launchEnv, launchEtcdClient } from "./launch-env.js";

/** Runs `etcdctl args…` (v3, ETCDCTL_* from the environment); resolves with stdout. */
function etcdctl(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("etcdctl", [...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`etcdctl ${args.join(" ")}: ${stderr.trim() || error.message}`));
    });
    child.stdin?.end(input ?? "");
  });
}

/** Runs `pfs args…` and requires success; resolves with stdout. */
async function pfsOk(args: readonly string[], input?: Buffer): Promise<string> {
  const run = await runPfs(args, input === undefined ? {} : { input });
  if (run.code !== 0) throw new Error(`pfs ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

test.before(() => { launchEnv(); });

test("pfs cluster status: every node online and not faulty, every shard has a master",
  async (t) => {
    const status = await clusterStatus();
    t.true(status.nodes.length >= 3, JSON.stringify(status.nodes));
    for (const node of status.nodes) {
      t.true(node.online && !node.faulty, `node ${node.id}: ${JSON.stringify(node)}`);
    }
    t.true(status.shards.length > 0);
    for (const shard of status.shards) t.not(shard.master, "", `shard ${shard.shard}`);
    const human = await pfsOk(["cluster", "status"]);
    for (const node of status.nodes) t.true(human.includes(node.id), human);
  });

test("etcdctl and the pfs CLI at once on the same cluster", async (t) => {
  const keys = 20;
  const commits = 8;
  await pfsOk(["create", "repo", "launch-mixed"]);
  const putKeys = async (): Promise<void> => {
    for (let i = 0; i < keys; i++) await etcdctl(["put", `launch-mixed/k${i}`, `v${i}`]);
  };
  const putFiles = async (): Promise<void> => {
    for (let i = 0; i < commits; i++) {
      await pfsOk(["put", "file", `launch-mixed@master:/f${i}`, "-f", "-"],
        Buffer.from(`file ${i}\n`));
    }
  };
  await Promise.all([putKeys(), putFiles()]);
  const listed = (await etcdctl(["get", "launch-mixed/", "--prefix"])).trim().split("\n");
  const pairs = new Map<string, string>();
  for (let i = 0; i + 1 < listed.length; i += 2) pairs.set(listed[i] ?? "", listed[i + 1] ?? "");
  t.is(pairs.size, keys);
  for (let i = 0; i < keys; i++) t.is(pairs.get(`launch-mixed/k${i}`), `v${i}`);
  const history = JSON.parse(await pfsOk(["list", "commit", "launch-mixed@master", "--json"])) as
    { state: string }[];
  t.is(history.length, commits);
  t.true(history.every((commit) => commit.state === "FINISHED"));
  for (let i = 0; i < commits; i++) {
    t.is(await pfsOk(["get", "file", `launch-mixed@master:/f${i}`]), `file ${i}\n`);
  }
});

test("the etcd3 client against ETCDCTL_ENDPOINTS: put, txn, lease, watch, pfs records",
  async (t) => {
    const client = launchEtcdClient();
    try {
      await client.put("launch-etcd3/a").value("1");
      t.is(await etcdctl(["get", "launch-etcd3/a", "--print-value-only"]), "1\n");
      const swapped = await client.if("launch-etcd3/a", "Value", "==", "1")
        .then(client.put("launch-etcd3/a").value("2")).else(client.get("launch-etcd3/a")).commit();
      t.true(swapped.succeeded);
      const refused = await client.if("launch-etcd3/a", "Value", "==", "1")
        .then(client.put("launch-etcd3/a").value("3")).commit();
      t.false(refused.succeeded);
      t.is(await client.get("launch-etcd3/a").string(), "2");
      const lease = client.lease(30, { autoKeepAlive: false });
      await lease.put("launch-etcd3/leased").value("x");
      t.is(await client.get("launch-etcd3/leased").string(), "x");
      await lease.revoke();
      t.is(await client.get("launch-etcd3/leased").string(), null);
      const watcher = await client.watch().key("launch-etcd3/watched").create();
      const seen = new Promise<string>((resolve) => {
        watcher.on("put", (kv) => { resolve(kv.value.toString()); });
      });
      await etcdctl(["put", "launch-etcd3/watched", "from etcdctl"]);
      t.is(await seen, "from etcdctl");
      await watcher.cancel();
      const nodes = await client.getAll().prefix("/pfs/nodes/").strings();
      t.true(Object.keys(nodes).length >= 3, JSON.stringify(nodes));
    } finally {
      client.close();
    }
  });

const metricsUrls = (process.env["PFS_METRICS_URLS"] ?? "").split(",").filter((url) => url !== "");
// Registered only when the launch says the nodes serve metrics (launch_test says when not).
if (metricsUrls.length > 0) metricsTests(metricsUrls);

function metricsTests(urls: readonly string[]): void {
  test("/livez, /readyz and /metrics of every node (PFS_METRICS_URLS)", async (t) => {
    for (const base of urls) {
      for (const path of ["/livez", "/readyz"]) {
        const response = await fetch(new URL(path, base));
        t.is(response.status, 200, `${base}${path}: ${await response.text()}`);
      }
      const metrics = await fetch(new URL("/metrics", base));
      const text = await metrics.text();
      t.is(metrics.status, 200, `${base}/metrics`);
      t.regex(text, /^# (HELP|TYPE) /m, `${base}/metrics is not Prometheus text`);
    }
  });
}

// Registered only for a TLS launch (PFS_CACERT set): shows the suites really ran over TLS.
if ((process.env["PFS_CACERT"] ?? "") !== "") {
  test("TLS launch: a pfs command without the certificates is refused", async (t) => {
    const plaintext = await runPfs(["list", "repo"],
      { env: { PFS_CACERT: "", PFS_CERT: "", PFS_KEY: "" } });
    t.not(plaintext.code, 0, plaintext.stdout);
    t.regex(plaintext.stderr, /^pfs: [^\n]+\n$/);
    t.is(await pfsOk(["list", "repo", "--json"]).then((out) => out.startsWith("[")), true);
  });
}
