// Goal: a real pfsd serves /metrics as valid Prometheus text with etcd's metric names and
// types, the pfs node's metrics and the process's, values move with the work done (a put and
// a get move the pfs byte counters and the commit counters, writes move the Raft gauges, etcd
// gRPC calls show up with their method and code, a failing one with its code), and /livez,
// /readyz (Kubernetes' format, ?verbose, one check by name) and etcd's /health answer. A pfsd
// with --etcd-endpoints (no embedded member) on a Debian etcd serves process and pfs metrics
// only, and its /readyz checks the pfs node.
// Method: pfsd processes on probed free ports with --listen-metrics-urls, raw gRPC clients,
// and a strict exposition parser (pfsd-metrics-support.ts). The seed of the data is printed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Prng } from "../../pkg/common/index.js";
import { etcdService, freePort, unary } from "../compat/support/etcd-process.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient, type PfsdProcess, pfsAddresses, spawnPfsd } from "./pfs-api-support.js";
import {
  type Family, httpGet, sampleSum, scrape, typeOf, until,
} from "./pfsd-metrics-support.js";
import { credentials } from "@grpc/grpc-js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
let parent = "";
const processes: PfsdProcess[] = [];
let etcd: MemberCluster | undefined;

test.before(async () => {
  parent = await mkdtemp(join(tmpdir(), "pfsd-metrics-"));
});

test.after.always(async () => {
  await Promise.all(processes.map((each) => each.stop()));
  await etcd?.stop();
  if (parent !== "") await rm(parent, { recursive: true, force: true });
});

/** Families every embedded member with pfs must expose, with their types. */
const expectedTypes: Readonly<Record<string, string>> = {
  etcd_server_has_leader: "gauge", etcd_server_is_leader: "gauge",
  etcd_server_is_learner: "gauge", etcd_server_leader_changes_seen_total: "counter",
  etcd_server_proposals_committed_total: "gauge", etcd_server_proposals_applied_total: "gauge",
  etcd_server_proposals_pending: "gauge", etcd_server_proposals_failed_total: "counter",
  pfs_raft_term: "gauge", pfs_server_proposal_duration_seconds: "histogram",
  pfs_disk_snapshot_fsync_duration_seconds: "histogram",
  etcd_disk_wal_fsync_duration_seconds: "histogram",
  etcd_debugging_mvcc_current_revision: "gauge", etcd_mvcc_db_total_size_in_bytes: "gauge",
  etcd_debugging_mvcc_watcher_total: "gauge", etcd_debugging_mvcc_watch_stream_total: "gauge",
  etcd_debugging_lease_granted_total: "counter", etcd_debugging_lease_revoked_total: "counter",
  pfs_etcd_leases: "gauge", grpc_server_started_total: "counter",
  grpc_server_handled_total: "counter", pfs_api_received_bytes_total: "counter",
  pfs_api_sent_bytes_total: "counter", pfs_commits_started_total: "counter",
  pfs_commits_finished_total: "counter", pfs_replication_lag_commits: "gauge",
  pfs_shard_master: "gauge", pfs_masters_held: "gauge", pfs_chunk_store_bytes: "gauge",
  process_cpu_seconds_total: "counter", process_resident_memory_bytes: "gauge",
  nodejs_heap_size_used_bytes: "gauge", nodejs_eventloop_lag_seconds: "gauge",
};

function checkTypes(t: { is(a: unknown, b: unknown, m?: string): void },
  families: ReadonlyMap<string, Family>, names: readonly string[]): void {
  for (const name of names) t.is(typeOf(families, name), expectedTypes[name], name);
}

test(`a single pfsd with pfs: metrics, their movement, livez, readyz, health (seed ${seed})`,
  async (t) => {
    const [client, peer, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const base = `http://127.0.0.1:${metricsPort}`;
    const node = spawnPfsd(["--name", "m1", "--data-dir", join(parent, "m1"),
      "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
      "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
      "--initial-cluster", `m1=${peerUrl}`, "--listen-metrics-urls", base,
      "--pfs-address", "127.0.0.1:0", "--shards", "4", "--log-level", "warn"]);
    processes.push(node);
    await until("readyz", async () => (await httpGet(`${base}/readyz`)).status === 200)
      .catch((error: unknown) => { throw new Error(`${String(error)}\n${node.stderr()}`); });
    // Masters are elected after the node serves: wait for all four.
    await until("masters", async () => sampleSum(await scrape(base), "pfs_masters_held") === 4);
    const before = await scrape(base);
    checkTypes(t, before, Object.keys(expectedTypes));
    t.is(sampleSum(before, "etcd_server_has_leader"), 1);
    t.is(sampleSum(before, "etcd_server_is_leader"), 1);
    t.is(sampleSum(before, "etcd_server_is_learner"), 0);
    t.true(sampleSum(before, "etcd_server_leader_changes_seen_total") >= 1);
    t.true(sampleSum(before, "etcd_disk_wal_fsync_duration_seconds_count") > 0);
    t.deepEqual(before.get("etcd_disk_wal_fsync_duration_seconds")?.samples
      .filter((sample) => sample.name.endsWith("_bucket")).map((sample) => sample.labels["le"]),
    [...Array.from({ length: 14 }, (_, i) => String(0.001 * 2 ** i)), "+Inf"]);
    t.is(sampleSum(before, "pfs_masters_held"), 4, "the only node masters every shard");
    t.is(sampleSum(before, "pfs_replication_lag_commits"), 0);

    // Work: a put and a get through the pfs API, etcd calls that succeed and one that fails.
    const prng = new Prng(seed);
    const size = 10_000 + prng.intBelow(50_000);
    const data = Buffer.from(Array.from({ length: size }, () => prng.intBelow(256)));
    const [address = ""] = await pfsAddresses([clientUrl], 1);
    const pfs = new PfsClient(address);
    const kv = new (etcdService("etcdserverpb.KV"))(`127.0.0.1:${client}`,
      credentials.createInsecure());
    const lease = new (etcdService("etcdserverpb.Lease"))(`127.0.0.1:${client}`,
      credentials.createInsecure());
    try {
      await pfs.call("CreateRepo", { name: "metrics", description: "" });
      await pfs.putFile({ repo: "metrics", commit: "master", path: "/data.bin" }, [data]);
      t.deepEqual(await pfs.getFile("metrics", "master", "/data.bin"), data);
      await unary(kv, "Put", { key: Buffer.from("k"), value: Buffer.from("v") });
      await unary(kv, "Range", { key: Buffer.from("k") });
      const refused = await unary(lease, "LeaseRevoke", { ID: "12345" }).then(() => undefined,
        (error: unknown) => error);
      t.truthy(refused, "revoking a lease that does not exist fails");
    } finally {
      pfs.close();
      kv.close();
      lease.close();
    }
    const after = await scrape(base);
    const grew = (name: string, labels: Record<string, string> = {}): number =>
      sampleSum(after, name, labels) - sampleSum(before, name, labels);
    t.is(grew("pfs_api_received_bytes_total", { method: "PutFile" }), size);
    t.is(grew("pfs_api_sent_bytes_total", { method: "GetFile" }), size);
    t.true(grew("pfs_commits_started_total") >= 1);
    t.true(grew("pfs_commits_finished_total") >= 1);
    t.true(grew("etcd_server_proposals_committed_total") >= 1);
    t.true(grew("etcd_server_proposals_applied_total") >= 1);
    t.true(grew("pfs_server_proposal_duration_seconds_count") >= 1);
    t.true(grew("etcd_debugging_mvcc_current_revision") >= 1);
    t.true(sampleSum(after, "pfs_chunk_store_bytes") >= 0);
    const kvLabels = { grpc_service: "etcdserverpb.KV", grpc_type: "unary" };
    t.true(grew("grpc_server_started_total", { ...kvLabels, grpc_method: "Range" }) >= 1);
    t.true(grew("grpc_server_handled_total",
      { ...kvLabels, grpc_method: "Range", grpc_code: "OK" }) >= 1);
    t.is(grew("grpc_server_handled_total", { grpc_service: "etcdserverpb.Lease",
      grpc_method: "LeaseRevoke", grpc_code: "NotFound" }), 1);

    const livez = await httpGet(`${base}/livez?verbose`);
    t.is(livez.status, 200);
    t.regex(livez.body, /^\[\+\]ping ok\n\[\+\]event-loop ok\nlivez check passed\n$/u);
    t.deepEqual(await httpGet(`${base}/livez`), { status: 200, body: "ok\n" });
    const readyz = await httpGet(`${base}/readyz?verbose`);
    t.is(readyz.status, 200);
    for (const check of ["started", "pfs", "etcd-leader", "etcd-alarm"]) {
      t.true(readyz.body.includes(`[+]${check} ok\n`), readyz.body);
    }
    t.is((await httpGet(`${base}/readyz/etcd-leader`)).status, 200);
    t.is((await httpGet(`${base}/readyz/no-such-check`)).status, 404);
    t.deepEqual(await httpGet(`${base}/health`), { status: 200, body: "{\"health\":\"true\"}" });
    t.is((await httpGet(`${base}/nothing`)).status, 404);
    t.is(node.child.exitCode, null, node.stderr());
  });

test("a pfsd with --etcd-endpoints serves process and pfs metrics and a pfs readiness",
  async (t) => {
    etcd = await startCluster({ kind: "etcd", size: 1 });
    const base = `http://127.0.0.1:${await freePort()}`;
    const node = spawnPfsd(["--name", "x1", "--data-dir", join(parent, "x1"),
      "--etcd-endpoints", etcd.endpoints, "--pfs-address", "127.0.0.1:0", "--shards", "2",
      "--listen-metrics-urls", base, "--log-level", "warn"]);
    processes.push(node);
    await until("readyz", async () => (await httpGet(`${base}/readyz`)).status === 200)
      .catch((error: unknown) => { throw new Error(`${String(error)}\n${node.stderr()}`); });
    const families = await scrape(base);
    checkTypes(t, families, ["pfs_api_received_bytes_total", "pfs_commits_finished_total",
      "pfs_masters_held", "process_cpu_seconds_total", "nodejs_heap_size_used_bytes"]);
    const names = [...families.keys()];
    t.deepEqual(names.filter((name) => name.startsWith("etcd_") || name.startsWith("grpc_")), [],
      "no member: no member or etcd gRPC metrics");
    const readyz = await httpGet(`${base}/readyz?verbose`);
    t.is(readyz.body, "[+]started ok\n[+]pfs ok\nreadyz check passed\n");
    t.deepEqual(await httpGet(`${base}/health`), { status: 200, body: "{\"health\":\"true\"}" });
    t.is((await httpGet(`${base}/livez`)).status, 200);
    t.is(node.child.exitCode, null, node.stderr());
  });
