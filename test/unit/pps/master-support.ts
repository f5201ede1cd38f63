// Support for the pps master tests: a real 1-node pfsd (embedded coordination store and pfs
// API), a fresh pps key root per test (so tests share the node and run side by side), input
// commits put through the real pfs client, and the worker's side of the contract played by
// hand (task-records.ts): claim each task, stage outputs and logs in a commit on the staging
// branch, finish it, then write the results and delete task and claim in one transaction.
import { Writable } from "node:stream";
import { Etcd3 } from "etcd3";
import { Prng, SystemClock, createLogger, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the tests drive pfs through its client
import { PfsClient, commitRef, fileRef } from "../../../pkg/pfs/client/index.js";
import {
  type DatumResultRecord, type DatumTaskRecord, type JobRecord, PpsKeys, type PipelineRecord,
  checkPipelineSpec, decodeDatumTask, decodeJob, encodeDatumClaim, encodeDatumResult,
  encodePipeline, stagedLogPath, stagedOutputPath, stagingBranch,
} from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- the master under test, from its own index
import { PpsMaster } from "../../../pkg/pps/master/index.js";
import { type MemberCluster, startCluster } from "../../support/member-cluster.js";
import { pfsAddresses } from "../../e2e/pfs-api-support.js";

/** `text` as the async source putFile streams. */
async function* bytesOf(text: string): AsyncGenerator<Buffer> {
  yield await Promise.resolve(Buffer.from(text));
}

/** One shared node: its etcd client and pfs client. */
export interface Node {
  readonly cluster: MemberCluster;
  readonly etcd: Etcd3;
  readonly pfs: PfsClient;
}

export async function startNode(): Promise<Node> {
  const cluster = await startCluster({ kind: "pfsd", size: 1, parentDir: "/dev/shm",
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "4"] });
  const urls = cluster.members.map((member) => member.clientUrl);
  const [address] = await pfsAddresses(urls, 1);
  if (address === undefined) throw new Error("no pfs address");
  return { cluster, etcd: new Etcd3({ hosts: urls }), pfs: new PfsClient({ address }) };
}

/** One node shared by a file's tests, started by the first that asks. */
export class SharedNode {
  #node: Promise<Node> | undefined;

  get(): Promise<Node> {
    this.#node ??= startNode();
    return this.#node;
  }

  async stop(): Promise<void> {
    if (this.#node === undefined) return;
    const started = await this.#node;
    started.pfs.close();
    started.etcd.close();
    await started.cluster.stop();
  }
}

/**
 * A test file's seed (PFS_TEST_SEED or the clock), its PRNG and its shared node, stopped by
 * the hook `after` registers.
 */
export function fileSetup(after: (stop: () => Promise<void>) => void):
  { seed: number; prng: Prng; node: () => Promise<Node> } {
  const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
  const shared = new SharedNode();
  after(() => shared.stop());
  return { seed, prng: new Prng(seed), node: () => shared.get() };
}

/** `count` random words. */
export function words(prng: Prng, count: number): string {
  return Array.from({ length: count }, () => prng.nextUint32().toString(36)).join(" ");
}

/** A pps key root of its own, from the seeded PRNG. */
export function freshKeys(prng: Prng, tag: string): PpsKeys {
  return new PpsKeys(`/pps-${tag}-${prng.nextUint32().toString(16)}`);
}

export function newMaster(node: Node, keys: PpsKeys, name: string): PpsMaster {
  const master = new PpsMaster({ client: node.etcd, keys, pfs: node.pfs, node: name,
    clock: new SystemClock(), logger: process.env["PPS_TEST_LOG"] === undefined ? silentLogger : createLogger({ nodeId: name, component: "test", level: "debug", format: "text" }), leaseTtlSeconds: 2 });
  master.start();
  return master;
}

/** Stores pipeline `name` (version `version`) reading `input` with `glob`. */
export async function putPipeline(node: Node, keys: PpsKeys, name: string, input: string,
  glob: string, version = 1, extra: object = {}, reprocess = false): Promise<PipelineRecord> {
  const spec = checkPipelineSpec({ name, input: { repo: input, glob },
    transform: { cmd: ["true"] }, ...extra });
  if (!spec.ok) throw new Error(spec.error.message);
  const record = { spec: spec.value, version, createdMs: Date.now(), updatedMs: Date.now(),
    reprocess };
  await node.etcd.put(keys.pipeline(name)).value(encodePipeline(record));
  return record;
}

/** Commits `files` (path → text) to `repo@master`; `error` fails the commit instead. */
export async function commitFiles(pfs: PfsClient, repo: string,
  files: ReadonlyMap<string, string>, error = ""): Promise<string> {
  await pfs.createRepo(repo).catch(() => undefined);
  const commit = await pfs.startCommit(repo, "master");
  for (const [path, text] of files) {
    await pfs.putFile({ commit: commitRef(repo, commit.id), path, append: false, format: "RAW" },
      bytesOf(text));
  }
  await pfs.finishCommit(commitRef(repo, commit.id), error);
  return commit.id;
}

/** The files (path → text) of `repo@commit`. */
export async function readFiles(pfs: PfsClient, repo: string, commit: string):
  Promise<Map<string, string>> {
  const entries = await pfs.globFile(commitRef(repo, commit), "/**");
  const files = new Map<string, string>();
  for (const entry of entries.filter((candidate) => candidate.type === "FILE")) {
    const pieces: Buffer[] = [];
    await pfs.getFile(fileRef(repo, commit, entry.path), new Writable({
      write(piece: Buffer, _encoding, done) { pieces.push(piece); done(); },
    }));
    files.set(entry.path, Buffer.concat(pieces).toString("utf8"));
  }
  return files;
}

export async function jobsOf(node: Node, keys: PpsKeys): Promise<JobRecord[]> {
  const values = await node.etcd.getAll().prefix(keys.jobsPrefix).buffers();
  return Object.entries(values).map(([key, value]) => decodeJob(key, value))
    .sort((a, b) => a.createdMs - b.createdMs);
}

/** Polls until `pick` finds something (30 s at most). */
export async function until<T>(what: string, pick: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await pick();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The job matching `test` once it exists. */
export function jobWhere(node: Node, keys: PpsKeys, what: string,
  test: (job: JobRecord) => boolean): Promise<JobRecord> {
  return until(what, async () => (await jobsOf(node, keys)).find(test));
}

export async function tasksOf(node: Node, keys: PpsKeys, jobId: string):
  Promise<DatumTaskRecord[]> {
  const values = await node.etcd.getAll().prefix(keys.tasksOf(jobId)).buffers();
  return Object.entries(values).map(([key, value]) => decodeDatumTask(key, value))
    .sort((a, b) => (a.datum.root < b.datum.root ? -1 : 1));
}

/** What a fake datum run gives: outputs (path → text), or a failure. */
export interface FakeRun {
  readonly outputs: ReadonlyMap<string, string>;
  readonly error?: string;
}

/**
 * Plays one worker node: claims `tasks`, stages their outputs and logs (plus `extra` files,
 * by their full staged paths, that no result names) in one staging commit, finishes it, then
 * writes the results.
 */
export async function playWorker(node: Node, keys: PpsKeys, tasks: readonly DatumTaskRecord[],
  name: string, run: (task: DatumTaskRecord) => FakeRun,
  extra: ReadonlyMap<string, string> = new Map()): Promise<void> {
  const { etcd, pfs } = node;
  const first = tasks[0];
  if (first === undefined) return;
  for (const task of tasks) {
    const claimed = await etcd.if(keys.claim(task.jobId, task.datum.id), "Create", "==", 0)
      .and(keys.task(task.jobId, task.datum.id), "Create", ">", 0)
      .then(etcd.put(keys.claim(task.jobId, task.datum.id))
        .value(encodeDatumClaim({ node: name, claimedMs: Date.now() }))).commit();
    if (!claimed.succeeded) throw new Error(`cannot claim ${task.datum.root}`);
  }
  const repo = first.pipeline;
  const staging = await pfs.startCommit(repo, stagingBranch(first.jobId, name));
  const put = (path: string, text: string): Promise<unknown> => pfs.putFile(
    { commit: commitRef(repo, staging.id), path, append: false, format: "RAW" },
    bytesOf(text));
  const runs = new Map(tasks.map((task) => [task.datum.id, run(task)]));
  for (const task of tasks) {
    const outcome = runs.get(task.datum.id);
    for (const [path, text] of outcome?.outputs ?? []) await put(stagedOutputPath(path), text);
    await put(stagedLogPath(task.datum.id), `log of ${task.datum.root}\n${outcome?.error ?? ""}`);
  }
  for (const [path, text] of extra) await put(path, text);
  await pfs.finishCommit(commitRef(repo, staging.id));
  for (const task of tasks) {
    const outcome = runs.get(task.datum.id);
    const ok = outcome?.error === undefined;
    const result: DatumResultRecord = {
      jobId: task.jobId, datumId: task.datum.id, root: task.datum.root, ok, node: name,
      attempts: ok ? 1 : 3, outputs: ok ? [...(outcome?.outputs.keys() ?? [])].sort() : [],
      staged: `${repo}@${staging.id}`, error: outcome?.error ?? "", durationMs: 1,
      finishedMs: Date.now(),
    };
    const claim = keys.claim(task.jobId, task.datum.id);
    const written = await etcd.if(claim, "Create", ">", 0)
      .then(etcd.put(keys.result(task.jobId, task.datum.id)).value(encodeDatumResult(result)),
        etcd.delete().key(keys.task(task.jobId, task.datum.id)), etcd.delete().key(claim))
      .commit();
    if (!written.succeeded) throw new Error(`claim of ${task.datum.root} lost`);
  }
}

/** "repo@id" split. */
export function commitParts(name: string): { repo: string; id: string } {
  const at = name.lastIndexOf("@");
  return { repo: name.slice(0, at), id: name.slice(at + 1) };
}
