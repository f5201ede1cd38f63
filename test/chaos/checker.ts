/**
 * The chaos run's checker, run once every node is up again. It judges the writers' records
 * (writers.ts) and the nemesis's kills (nemesis.ts) against the cluster:
 * 1. every "ok" commit is FINISHED, and each of its files reads back with its sha256 through
 *    pfs.API from several different nodes;
 * 2. every node the replica map names for a shard a finished commit wrote to holds its
 *    manifest, byte-identical to the others', and every chunk of its files there, each
 *    hashing to its id (read on disk; waits up to healMsMax for lagging replicas), and each
 *    holder's pfs.Shard ReadManifest (when the built pfsd has it) answers those bytes;
 * 3. no "failed-definite" commit is FINISHED, and none of its files is visible on the branch;
 * 4. an "indeterminate" commit that FINISHED shows only files its writer sent, each whole;
 * 5. the branch head shows exactly the directories of the commits that finished;
 * 6. after every kill, a commit succeeded within writeResumeMsMax (the delays are reported).
 * Failures are sentences naming the commit; the caller prints them with the seed.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { shardOf } from "../../pkg/pfs/index.js";
import { features } from "./features.js";
import type { PfsCluster } from "./pfs-cluster.js";
import { shardReadManifest } from "./shard-calls.js";
import type { KillRecord } from "./nemesis.js";
import {
  type CommitRecord, type WriterLog, Writers, describeError, withDeadline,
} from "./writers.js";
import { callDeadlineMs, healMsMax, pollMs, readBackNodes, writeResumeMsMax } from "./limits.js";

export interface ChaosVerdict {
  readonly failures: string[];
  /** Per kill, ms from the kill to the next "ok" finish (undefined: none came). */
  readonly resumeDelaysMs: (number | undefined)[];
  readonly counts: Record<"ok" | "failed-definite" | "indeterminate" | "finished", number>;
}

/** Commits checked at once (reads of small files are latency-bound). */
const checkConcurrency = 8;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The commit's state as one node sees it ("NOT_FOUND" when it has no record of it). */
async function stateOf(cluster: PfsCluster, node: string, record: CommitRecord):
  Promise<string> {
  try {
    const info = await cluster.client(node).call("InspectCommit",
      { commit: { repo: record.repo, commit: record.commit } });
    return info.state;
  } catch (error: unknown) {
    if ((error as { code?: unknown }).code === 5) return "NOT_FOUND";
    throw error;
  }
}

async function sha256Read(cluster: PfsCluster, node: string, repo: string, commit: string,
  path: string): Promise<string> {
  const bytes = await withDeadline(cluster.client(node).getFile(repo, commit, path),
    callDeadlineMs, `get ${path}`);
  return createHash("sha256").update(bytes).digest("hex");
}

/** Shards the commit's files live on. */
function shardsOf(cluster: PfsCluster, record: CommitRecord): number[] {
  const shards = new Set(record.files.map((file) => shardOf(file.path, cluster.options.shards)));
  return [...shards].sort((a, b) => a - b);
}

/** Failures of the chunks of `files` on `node`: each chunk file must hash to its id. */
async function checkChunkFiles(cluster: PfsCluster, node: string, shard: number,
  chunks: readonly { readonly path: string; readonly ids: readonly string[] }[]):
  Promise<string[]> {
  const failures: string[] = [];
  for (const file of chunks) {
    for (const id of file.ids) {
      const bytes = await readFile(cluster.chunkPath(node, shard, id)).catch(() => undefined);
      const sha = bytes === undefined ? "missing"
        : createHash("sha256").update(bytes).digest("hex");
      if (sha !== id) failures.push(`${file.path}: chunk ${id} on ${node} is ${sha}`);
    }
  }
  return failures;
}

/** The chunk ids of each file of `record` on `shard`, as the metadata names them. */
async function chunksOf(cluster: PfsCluster, node: string, record: CommitRecord, shard: number):
  Promise<{ path: string; ids: string[] }[]> {
  const files = record.files.filter((file) =>
    shardOf(file.path, cluster.options.shards) === shard);
  return Promise.all(files.map(async (file) => {
    const info = await cluster.client(node).call("InspectFile",
      { file: { commit: { repo: record.repo, commit: record.commit }, path: file.path } })
      .catch(() => ({ chunks: [] }));
    return { path: file.path, ids: info.chunks.map((chunk) => chunk.id) };
  }));
}

/**
 * "full": manifests, chunk files and served manifests; "manifests": only that every holder has
 * the same manifest on disk (cheap, for waiting on catch-up).
 */
export type ReplicaCheckDepth = "full" | "manifests";

/** Each holder's pfs.Shard ReadManifest answers `expected` (its bytes on disk). */
async function checkServedManifests(cluster: PfsCluster, record: CommitRecord, shard: number,
  holders: readonly string[], expected: Buffer): Promise<string[]> {
  const target = { shard, repo: record.repo, commit: record.commit, parent: "" };
  const failures: string[] = [];
  for (const holder of holders) {
    const served = await shardReadManifest(cluster.shardClient(holder), target)
      .catch((error: unknown) => describeError(error));
    if (typeof served === "string") {
      failures.push(`ReadManifest of shard ${shard} on ${holder} failed: ${served}`);
    } else if (!served.equals(expected)) {
      failures.push(`ReadManifest of shard ${shard} on ${holder} answers other bytes than ` +
        "its disk holds");
    }
  }
  return failures;
}

/**
 * Waits until every holder of every shard the commit wrote holds its manifest, then compares
 * them and checks that each holder has every chunk of the commit's files there, intact (its
 * file on disk hashes to its id); returns failures.
 */
export async function checkReplicas(cluster: PfsCluster, node: string, record: CommitRecord,
  deadlineMs: number, depth: ReplicaCheckDepth = "full"): Promise<string[]> {
  const failures: string[] = [];
  for (const shard of shardsOf(cluster, record)) {
    for (;;) {
      const problems = await replicaProblems(cluster, node, record, shard, depth);
      if (problems.length === 0) break;
      if (Date.now() > deadlineMs) {
        failures.push(...problems.map((problem) =>
          `${record.repo}@${record.commit} (${record.dir}): ${problem}`));
        break;
      }
      await sleep(pollMs);
    }
  }
  return failures;
}

/** What is wrong with `shard`'s replicas of the commit now (see checkReplicas). */
async function replicaProblems(cluster: PfsCluster, node: string, record: CommitRecord,
  shard: number, depth: ReplicaCheckDepth): Promise<string[]> {
  const holders = await cluster.holders(shard);
  if (holders.length === 0) return [`shard ${shard} has no holders`];
  const copies = await Promise.all(holders.map((holder) =>
    readFile(cluster.manifestPath(holder, shard, record.repo, record.commit))
      .catch(() => undefined)));
  const missing = holders.filter((_, index) => copies[index] === undefined);
  if (missing.length > 0) return [`shard ${shard}'s manifest is missing on ${missing.join(",")}`];
  const first = copies[0] ?? Buffer.of();
  const differing = holders.filter((_, index) => copies[index]?.equals(first) !== true);
  if (differing.length > 0) {
    return [`shard ${shard}'s manifest differs on ${differing.join(",")} from ` +
      `${holders[0] ?? "?"}'s`];
  }
  if (depth === "manifests") return [];
  const chunks = await chunksOf(cluster, node, record, shard);
  const damaged = (await Promise.all(holders.map((holder) =>
    checkChunkFiles(cluster, holder, shard, chunks)))).flat();
  if (damaged.length > 0 || !features.readManifest) return damaged;
  return checkServedManifests(cluster, record, shard, holders, first);
}

/** Reads every file of a finished commit from up to readBackNodes nodes; returns failures. */
async function checkReads(cluster: PfsCluster, record: CommitRecord, nodes: readonly string[],
  files: CommitRecord["files"]): Promise<string[]> {
  const failures: string[] = [];
  await Promise.all(nodes.map(async (node) => {
    for (const file of files) {
      try {
        const sha = await sha256Read(cluster, node, record.repo, record.commit, file.path);
        if (sha !== file.sha256) {
          failures.push(`${record.repo}@${record.commit}${file.path} read from ${node}: ` +
            `sha256 ${sha}, written ${file.sha256} (${file.size} bytes)`);
        }
      } catch (error: unknown) {
        failures.push(`${record.repo}@${record.commit}${file.path} not readable from ${node}: ` +
          describeError(error));
      }
    }
  }));
  return failures;
}

/** The directories ("/c<n>") the head of a writer's branch shows. */
async function headDirs(cluster: PfsCluster, node: string, repo: string): Promise<Set<string>> {
  const listing = await cluster.client(node).call("ListFile",
    { file: { commit: { repo, commit: "master" }, path: "/" } });
  return new Set(listing.files.map((file) => file.path.replace(/\/$/, "")));
}

/** An indeterminate commit that finished: only sent files, each whole. */
async function checkIndeterminate(cluster: PfsCluster, node: string, record: CommitRecord):
  Promise<string[]> {
  const listing = await cluster.client(node).call("ListFile",
    { file: { commit: { repo: record.repo, commit: record.commit }, path: record.dir } })
    .catch(() => ({ files: [] }));
  const failures: string[] = [];
  for (const entry of listing.files) {
    const sent = record.files.find((file) => file.path === entry.path);
    if (sent === undefined) {
      failures.push(`${record.repo}@${record.commit}: finished with ${entry.path}, never sent`);
    } else if (entry.hash !== "" && entry.hash !== sent.sha256) {
      failures.push(`${record.repo}@${record.commit}${entry.path}: finished with sha256 ` +
        `${entry.hash}, sent ${sent.sha256}`);
    }
  }
  for (const file of record.files.filter((candidate) => candidate.acknowledged)) {
    if (!listing.files.some((entry) => entry.path === file.path)) {
      failures.push(`${record.repo}@${record.commit}: finished without acknowledged ${file.path}`);
    }
  }
  return failures;
}

/** Per kill, the delay to the next ok finish. */
export function resumeDelays(kills: readonly KillRecord[], okTimes: readonly number[]):
  (number | undefined)[] {
  return kills.map((kill) => {
    const next = okTimes.find((time) => time > kill.atMs);
    return next === undefined ? undefined : next - kill.atMs;
  });
}

/** Judges a run after healing (see the module comment). */
export async function checkChaosRun(cluster: PfsCluster, writers: WriterLog,
  kills: readonly KillRecord[], writerCount: number): Promise<ChaosVerdict> {
  const failures = [...writers.violations];
  const nodes = cluster.running();
  const counts = { "ok": 0, "failed-definite": 0, "indeterminate": 0, "finished": 0 };
  const finishedDirs = new Map<string, Set<string>>();
  const deadlineMs = Date.now() + healMsMax;
  const checkOne = async (index: number, record: CommitRecord): Promise<void> => {
    counts[record.outcome] += 1;
    const node = nodes[index % nodes.length] ?? "";
    const state = await stateOf(cluster, node, record).catch((error: unknown) =>
      `unreadable (${describeError(error)})`);
    const finished = state === "FINISHED";
    if (finished) {
      counts.finished += 1;
      const dirs = finishedDirs.get(record.repo) ?? new Set<string>();
      dirs.add(record.dir);
      finishedDirs.set(record.repo, dirs);
    }
    const name = `${record.repo}@${record.commit} (${record.dir}, via ${record.node})`;
    if (record.outcome === "ok") {
      if (!finished) failures.push(`${name}: acknowledged, but its state is ${state}`);
      const readers = Array.from({ length: Math.min(readBackNodes, nodes.length) },
        (_, k) => nodes[(index + k) % nodes.length] ?? "");
      failures.push(...await checkReads(cluster, record, readers, record.files));
    } else if (record.outcome === "failed-definite" && finished) {
      failures.push(`${name}: failed definitely (${record.error}), but it is FINISHED`);
    } else if (record.outcome === "indeterminate" && finished) {
      failures.push(...await checkIndeterminate(cluster, node, record));
    }
    if (finished) failures.push(...await checkReplicas(cluster, node, record, deadlineMs));
  };
  for (let start = 0; start < writers.records.length; start += checkConcurrency) {
    await Promise.all(writers.records.slice(start, start + checkConcurrency)
      .map((record, offset) => checkOne(start + offset, record)));
  }
  failures.push(...await checkHeads(cluster, nodes, finishedDirs, writerCount));
  const delays = resumeDelays(kills, writers.records.filter((record) => record.outcome === "ok")
    .map((record) => record.endedMs).sort((a, b) => a - b));
  for (const [index, delay] of delays.entries()) {
    const kill = kills[index];
    if (delay === undefined || delay > writeResumeMsMax) {
      failures.push(`writes did not resume within ${writeResumeMsMax} ms after kill ${index} ` +
        `(${kill?.node ?? "?"}, ${kill?.role ?? "?"}): ${delay ?? "never"}`);
    }
    if (kill !== undefined && kill.restartError !== "") {
      failures.push(`${kill.node} did not restart: ${kill.restartError}`);
    }
  }
  return { failures, resumeDelaysMs: delays, counts };
}

/** Each branch head shows exactly the finished commits' directories. */
async function checkHeads(cluster: PfsCluster, nodes: readonly string[],
  finishedDirs: ReadonlyMap<string, ReadonlySet<string>>, writerCount: number):
  Promise<string[]> {
  const failures: string[] = [];
  for (let writer = 0; writer < writerCount; writer += 1) {
    const repo = Writers.repoOf(writer);
    const expected = finishedDirs.get(repo) ?? new Set<string>();
    for (const node of nodes) {
      const shown = await headDirs(cluster, node, repo).catch((error: unknown) => {
        if (expected.size > 0) failures.push(`${repo}: head unreadable on ${node}: ` +
          describeError(error));
        return expected;
      });
      const extra = [...shown].filter((dir) => !expected.has(dir));
      const lost = [...expected].filter((dir) => !shown.has(dir));
      if (extra.length > 0 || lost.length > 0) {
        failures.push(`${repo} head on ${node}: shows unfinished ${extra.join(",") || "-"}, ` +
          `lacks finished ${lost.join(",") || "-"}`);
      }
    }
  }
  return failures;
}
