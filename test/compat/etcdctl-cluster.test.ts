// Goal: etcdctl's cluster commands (member list/add/promote/remove, move-leader, the endpoint
// commands with --cluster) print the same against a 3-member pfsd cluster as against a
// 3-member etcd 3.4.23 cluster. Method as in etcdctl-kv.test.ts (same masking; see
// support/etcdctl-masker.ts), plus: member IDs are masked by member name, outputs listing
// members in ID order are sorted (the IDs, hashes of random ports, differ), and before the
// compared commands the leader is moved to m1 on both clusters so "is leader" is comparable.
// A learner is started for real (support/etcdctl-member.ts) so that it can be promoted.
// The commands covered here are listed (and counted) in etcdctl-kv.test.ts.
import { mkdir, rm } from "node:fs/promises";
import test from "ava";
import {
  type CtlDiffer, type CtlTarget, connect, otherKind, startPair, stopPair,
} from "./support/etcdctl-differ.js";
import { normalize } from "./support/etcdctl-masker.js";
import {
  type JoiningMember, type JoiningUrls, joiningUrls, startJoiningMember,
} from "./support/etcdctl-member.js";
import { type CtlResult, runCtl } from "./support/etcdctl-runner.js";
import { pollUntil, setVar, varOr } from "./support/etcdctl-steps.js";

const scratchRoot = `/dev/shm/pfs-etcdctl-cluster-${process.pid}`;
let differ: CtlDiffer | undefined;
const joined: JoiningMember[] = [];
const all = [0, 1, 2];
/**
 * etcd's HealthInterval: etcd refuses to add a voting member ("unhealthy cluster") until every
 * peer has been connected for this long. The compared commands run on settled clusters, so the
 * outcome does not depend on how fast the machine started them (pfsd has no such check yet:
 * README, known differences).
 */
const etcdHealthIntervalMs = 5_000;

/**
 * Resolves once `member list` on `target` shows every member started with its client URLs: a
 * member publishes its name and URLs through Raft after it starts, and the compared listings
 * must not catch one half way.
 */
function waitMembersPublished(target: CtlTarget): Promise<void> {
  return pollUntil(`every member of ${target.label} published`, async () => {
    const result = await runCtl(connect(target), ["member", "list"]);
    const lines = result.stdout.trim().split("\n").filter((line) => line !== "");
    return result.code === 0 && lines.length === 3 &&
      lines.every((line) => /, started, m\d, \S+, \S+, false$/.test(line));
  });
}

test.before(async () => {
  await mkdir(scratchRoot, { recursive: true });
  differ = await startPair({ size: 3, scratchDir: scratchRoot });
  const serving = Date.now(); // every peer was connected by then: a leader was elected
  const targets = [differ.etcd, differ.other];
  await Promise.all(targets.map((target) => waitMembersPublished(target)));
  await new Promise((resolve) => setTimeout(resolve,
    Math.max(0, serving + etcdHealthIntervalMs - Date.now())));
  differ.knownDifferences.set("start the learner; get from it", "pfsd bug: a learner serves " +
    "a linearizable Range; etcd 3.4 refuses it with Unavailable \"etcdserver: rpc not " +
    "supported for learner\" (etcd-api.md §11)");
  await Promise.all([differ.etcd, differ.other].map((target) => moveLeaderTo(target, "m1")));
});

test.after.always(async () => {
  await Promise.all(joined.map((member) => member.stop()));
  await stopPair(differ);
  await rm(scratchRoot, { recursive: true, force: true });
});

function pair(): CtlDiffer {
  if (differ === undefined) throw new Error("clusters not started");
  return differ;
}

/** Member name → ID (decimal), from `member list -w json`. */
async function memberIds(target: CtlTarget): Promise<Map<string, string>> {
  const listed = await runCtl(connect(target), ["member", "list", "-w", "json"]);
  const ids = new Map<string, string>();
  for (const match of listed.stdout.matchAll(/"ID":(\d+),"name":"([^"]*)"/g)) {
    ids.set(match[2] ?? "", match[1] ?? "");
  }
  return ids;
}

async function memberHex(target: CtlTarget, name: string): Promise<string> {
  const id = (await memberIds(target)).get(name);
  return id === undefined ? "0" : BigInt(id).toString(16);
}

/** Name of the member the cluster's members name as leader, or "" while there is none. */
async function leaderName(target: CtlTarget): Promise<string> {
  const status = await runCtl(connect(target, all, true), ["endpoint", "status", "-w", "json"]);
  const leader = /"leader":(\d+)/.exec(status.stdout)?.[1];
  for (const [name, id] of await memberIds(target)) if (id === leader) return name;
  return "";
}

/** Setup, not compared: makes `name` the leader (elections pick any member). */
async function moveLeaderTo(target: CtlTarget, name: string): Promise<void> {
  await pollUntil(`a leader on ${target.label}`, async () => (await leaderName(target)) !== "");
  if ((await leaderName(target)) === name) return;
  const moved = await runCtl(connect(target, all, true),
    ["move-leader", await memberHex(target, name)]);
  if (moved.code !== 0) throw new Error(`move-leader: ${JSON.stringify(moved)}`);
  await pollUntil(`${name} leading ${target.label}`, async () =>
    (await leaderName(target)) === name);
}

/** host:port of an http URL: etcdctl's per-endpoint commands are given endpoints so. */
function bareUrl(url: string): string {
  return url.replace(/^http:\/\//, "");
}

const sortedStatus = (text: string): string => normalize.sortLines(normalize.statusLines(text));
const sortedHashes = (text: string): string => normalize.sortLines(normalize.hashLines(text));

/** `member list` in every format; rows follow member IDs, so they are sorted. */
async function memberLists(d: CtlDiffer): Promise<void> {
  await d.ctl(["member", "list"], { normalize: normalize.sortLines });
  await d.ctl(["member", "list", "-w", "table"], { normalize: normalize.sortLines });
  await d.ctl(["member", "list", "-w", "json"], { normalize: normalize.jsonMembers });
}

test.serial("etcdctl endpoint --cluster and move-leader: same output as etcd", async (t) => {
  const d = pair();
  const before = d.mismatches.length;
  await memberLists(d);
  await d.step("endpoint status --cluster", (target) =>
    runCtl(connect(target), ["endpoint", "status", "--cluster"]), { normalize: sortedStatus });
  await d.step("endpoint health --cluster", (target) =>
    runCtl(connect(target), ["endpoint", "health", "--cluster"]),
  { normalize: normalize.sortLines });
  await d.step("endpoint hashkv --cluster", (target) =>
    runCtl(connect(target), ["endpoint", "hashkv", "--cluster"]), { normalize: sortedHashes });
  await d.step("endpoint status (3 host:port endpoints)", (target) =>
    runCtl(connect(target, all, true), ["endpoint", "status"]), { normalize: sortedStatus });
  await d.step("endpoint hashkv (3 host:port endpoints; members agree)", (target) =>
    runCtl(connect(target, all, true), ["endpoint", "hashkv"]),
  { normalize: (text) => normalize.sortLines(normalize.hashClasses(text)) });
  await d.step("put through a follower", (target) =>
    runCtl(connect(target, [1]), ["put", "cluster/a", "1"]));
  await d.step("get from another follower", (target) =>
    runCtl(connect(target, [2]), ["get", "cluster/a", "-w", "json"]));
  // move-leader and endpoint status dial each endpoint on its own: host:port endpoints
  await d.step("move-leader m2", async (target) =>
    runCtl(connect(target, all, true), ["move-leader", await memberHex(target, "m2")]));
  await d.step("endpoint status (table) after move-leader", (target) =>
    runCtl(connect(target, all, true), ["endpoint", "status", "-w", "table"]),
  { normalize: normalize.sortLines });
  await d.step("move-leader to an unknown member", (target) =>
    runCtl(connect(target, all, true), ["move-leader", "abcdef12345"]));
  await d.step("move-leader sent to followers only", (target) =>
    runCtl(connect(target, [0, 2], true), ["move-leader", "abcdef12345"]));
  d.assertNoMismatch(t, before);
});

/** A uniquely named `member list` (-w json when `json`), rows sorted. */
async function memberListStep(d: CtlDiffer, name: string, json = false): Promise<void> {
  await d.step(name, (target) =>
    runCtl(connect(target), ["member", "list", ...(json ? ["-w", "json"] : [])]),
  { normalize: json ? normalize.jsonMembers : normalize.sortLines });
}

/** `member add` on one target, its new ID registered under `<member:NAME>`. */
async function memberAdd(target: CtlTarget, name: string, urls: JoiningUrls,
  learner: boolean): Promise<CtlResult> {
  target.masker.registerText(urls.peerUrl, `<peer:${name}>`);
  target.masker.registerText(urls.clientUrl, `<client:${name}>`);
  target.masker.registerText(bareUrl(urls.clientUrl), `<client:${name}>`);
  const result = await runCtl(connect(target), ["member", "add", name,
    `--peer-urls=${urls.peerUrl}`, ...(learner ? ["--learner"] : [])]);
  const id = /Member\s+([0-9a-f]+) added/.exec(result.stdout)?.[1];
  if (id !== undefined) {
    target.masker.registerId(BigInt(`0x${id}`).toString(), `<member:${name}>`);
    setVar(target, `${name}.id`, id);
  }
  const initial = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(result.stdout)?.[1];
  if (initial !== undefined) setVar(target, `${name}.initialCluster`, initial);
  return result;
}

/** Fresh URLs for a joining member on each target, looked up by target. */
async function joiningUrlsPerTarget(targets: readonly CtlTarget[]):
  Promise<(target: CtlTarget) => JoiningUrls> {
  const urls = new Map<CtlTarget, JoiningUrls>();
  for (const target of targets) urls.set(target, await joiningUrls());
  return (target) => urls.get(target) ?? { clientUrl: "", peerUrl: "" };
}

test.serial("etcdctl member add/remove of an unstarted member: same output as etcd", async (t) => {
  const d = pair();
  const before = d.mismatches.length;
  const urlsOf = await joiningUrlsPerTarget([d.etcd, d.other]);
  await d.step("member add m6 with m1's peer URL", (target) =>
    runCtl(connect(target), ["member", "add", "m6",
      `--peer-urls=${target.cluster.members[0]?.peerUrl ?? ""}`]));
  await d.step("member add m5", (target) => memberAdd(target, "m5", urlsOf(target), false),
    { normalize: normalize.initialCluster });
  await memberListStep(d, "member list (m5 unstarted)");
  await d.step("member promote m1 (not a learner)", async (target) =>
    runCtl(connect(target), ["member", "promote", await memberHex(target, "m1")]));
  await d.step("member remove m5", (target) =>
    runCtl(connect(target), ["member", "remove", varOr(target, "m5.id", "0")]));
  await d.step("member remove m5 again", (target) =>
    runCtl(connect(target), ["member", "remove", varOr(target, "m5.id", "0")]));
  await memberListStep(d, "member list (m5 removed)");
  d.assertNoMismatch(t, before);
});

/** Promotes until the learner has caught up (etcd refuses while it lags); the last answer. */
async function promoteWhenReady(target: CtlTarget, id: string): Promise<CtlResult> {
  let result: CtlResult = { code: null, stdout: "", stderr: "" };
  await pollUntil(`learner in sync on ${target.label}`, async () => {
    result = await runCtl(connect(target), ["member", "promote", id]);
    return !result.stderr.includes("not in sync") && !result.stderr.includes("not ready");
  });
  return result;
}

test.serial("etcdctl member add --learner, promote, remove: same output as etcd", async (t) => {
  const d = pair();
  const before = d.mismatches.length;
  const urlsOf = await joiningUrlsPerTarget([d.etcd, d.other]);
  await d.step("member add m4 --learner", (target) => memberAdd(target, "m4", urlsOf(target), true),
    { normalize: normalize.initialCluster });
  await d.step("start the learner; get from it", async (target) => {
    const initialCluster = varOr(target, "m4.initialCluster", "");
    if (initialCluster === "") return { code: null, stdout: "", stderr: "member add failed" };
    const member = await startJoiningMember(target.cluster.kind, "m4", urlsOf(target),
      initialCluster, scratchRoot);
    joined.push(member);
    const learner = { endpoints: bareUrl(urlsOf(target).clientUrl), tlsArgs: [] };
    await pollUntil(`learner serving on ${target.label}`, async () =>
      (await runCtl(learner, ["endpoint", "status"])).code === 0);
    return runCtl({ ...learner, endpoints: urlsOf(target).clientUrl }, ["get", "cluster/a"]);
  });
  await d.step("endpoint status of the learner", (target) =>
    runCtl({ endpoints: bareUrl(urlsOf(target).clientUrl), tlsArgs: [] },
      ["endpoint", "status"]),
  { normalize: normalize.statusLines });
  await memberListStep(d, "member list (learner m4 started)");
  await d.step("member promote m4",
    (target) => promoteWhenReady(target, varOr(target, "m4.id", "0")));
  await memberListStep(d, "member list -w json (m4 promoted)", true);
  await d.step("member remove m4", (target) =>
    runCtl(connect(target), ["member", "remove", varOr(target, "m4.id", "0")]));
  await memberListStep(d, "member list (m4 removed)");
  await d.step("get after m4 left", (target) => runCtl(connect(target), ["get", "cluster/a"]));
  d.assertNoMismatch(t, before);
  t.log(`compared with ${otherKind()}: ${d.steps.length} steps`);
});

test.serial("every listed command ran", (t) => {
  t.is(pair().steps.length, 30);
});
