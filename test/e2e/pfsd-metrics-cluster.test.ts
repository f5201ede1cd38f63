// Goal: /readyz and /livez mean what Kubernetes expects on a 3-member embedded cluster: with
// 1 of 3 members started there is no quorum, so /readyz is 503 naming the failing check
// (etcd-leader) while /livez stays 200 (a member cut off from its quorum must not be
// restarted) and etcd's /health is 503; once all three run, every /readyz is 200, and each
// member's /metrics parses strictly and agrees on one leader and the term. (The pfs
// readiness check and the pfs metrics are covered by pfsd-metrics.test.ts.)
// Method: three pfsd processes (etcd members, no pfs: quick to start) on probed free ports,
// the first started alone; /livez is checked at every poll of /readyz.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { freePort } from "../compat/support/etcd-process.js";
import { type PfsdProcess, spawnPfsd } from "./pfs-api-support.js";
import { httpGet, sampleSum, scrape, until } from "./pfsd-metrics-support.js";

let parent = "";
const processes: PfsdProcess[] = [];

test.before(async () => {
  parent = await mkdtemp(join(tmpdir(), "pfsd-metrics-cluster-"));
});

test.after.always(async () => {
  await Promise.all(processes.map((each) => each.stop()));
  if (parent !== "") await rm(parent, { recursive: true, force: true });
});

interface Member {
  readonly name: string;
  readonly args: string[];
  readonly metrics: string;
}

async function members(count: number): Promise<Member[]> {
  const ports = [];
  for (let i = 0; i < count; i++) {
    ports.push({ client: await freePort(), peer: await freePort(), metrics: await freePort() });
  }
  const initial = ports.map((port, i) => `c${i}=http://127.0.0.1:${port.peer}`).join(",");
  return ports.map((port, i) => {
    const client = `http://127.0.0.1:${port.client}`;
    const peer = `http://127.0.0.1:${port.peer}`;
    const metrics = `http://127.0.0.1:${port.metrics}`;
    return { name: `c${i}`, metrics, args: ["--name", `c${i}`, "--data-dir", join(parent, `c${i}`),
      "--listen-client-urls", client, "--advertise-client-urls", client,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
      "--initial-cluster", initial, "--listen-metrics-urls", metrics,
      "--log-level", "warn"] };
  });
}

/** /readyz's status and body, after checking that /livez answers 200. */
async function probe(member: Member): Promise<{ status: number; body: string }> {
  const livez = await httpGet(`${member.metrics}/livez`);
  if (livez.status !== 200) throw new Error(`${member.name} /livez ${livez.status}`);
  return httpGet(`${member.metrics}/readyz`);
}

test("1 of 3 members: live but not ready; all 3: ready, one leader in the metrics", async (t) => {
  const cluster = await members(3);
  const [first, ...rest] = cluster;
  if (first === undefined) throw new Error("no member");
  const lone = spawnPfsd(first.args);
  processes.push(lone);
  // Its endpoints answer from the start; the member's checks join once the member has
  // started and pfsd is done starting (a loaded machine may take a while).
  await until("the lone member's etcd-leader check", async () => {
    const readyz = await probe(first);
    return readyz.status === 503 && readyz.body.includes("[+]started ok") &&
      readyz.body.includes("etcd-leader");
  });
  // Over a few election timeouts, it stays live and unready, naming what is missing.
  for (let i = 0; i < 5; i++) {
    const readyz = await probe(first);
    t.is(readyz.status, 503);
    t.regex(readyz.body, /\[-\]etcd-leader failed: no leader\n/u);
    t.regex(readyz.body, /^\[\+\]started ok\n/u);
    t.regex(readyz.body, /readyz check failed\n$/u);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const unready = await scrape(first.metrics);
  t.is(sampleSum(unready, "etcd_server_has_leader"), 0);
  t.is((await httpGet(`${first.metrics}/health`)).status, 503);

  for (const member of rest) processes.push(spawnPfsd(member.args));
  for (const member of cluster) {
    await until(`${member.name} ready`, async () => (await probe(member)).status === 200, 60_000)
      .catch((error: unknown) => {
        throw new Error(`${String(error)}\n${processes.map((each) => each.stderr()).join("\n")}`);
      });
  }
  const scraped = await Promise.all(cluster.map((member) => scrape(member.metrics)));
  t.deepEqual(scraped.map((families) => sampleSum(families, "etcd_server_has_leader")), [1, 1, 1]);
  t.is(scraped.reduce((sum, families) => sum + sampleSum(families, "etcd_server_is_leader"), 0), 1);
  const terms = new Set(scraped.map((families) => sampleSum(families, "pfs_raft_term")));
  t.is(terms.size, 1, "one term");
  for (const families of scraped) {
    t.true(sampleSum(families, "etcd_server_leader_changes_seen_total") >= 1);
  }
  // Every member publishes its attributes through Raft once it runs: every member's
  // committed and applied gauges reach that entry.
  await until("entries committed and applied everywhere", async () => {
    const all = await Promise.all(cluster.map((member) => scrape(member.metrics)));
    return all.every((families) =>
      sampleSum(families, "etcd_server_proposals_committed_total") >= 3 &&
      sampleSum(families, "etcd_server_proposals_applied_total") >= 3);
  }, 20_000);
  for (const each of processes) t.is(each.child.exitCode, null, each.stderr());
});
