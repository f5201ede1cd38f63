// Support for the PpsWorker tests: one real pfsd (embedded etcd and the pfs API) shared by a
// test file, and a "master played by hand" per test: its own pps key root, an input repo with
// files in one finished commit, the output repo, a pipeline record, a job record and one task
// per datum, as pkg/pps/master would write them. Data lives in /dev/shm when there is one.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { Etcd3 } from "etcd3";
import { MemoryLogger, SystemClock } from "../../../pkg/common/index.js";
import { compileGlob } from "../../../pkg/pfs/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs does not re-export its client
import { PfsClient } from "../../../pkg/pfs/client/index.js";
import {
  type JobRecord, type PipelineSpec, PpsKeys, checkPipelineSpec, decodeDatumResult,
  type DatumResultRecord, encodeDatumTask, encodeJob, encodePipeline, splitDatums, type Datum,
} from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pps re-exports the worker once pps-node wires it
import { PpsWorker, type PpsWorkerOptions } from "../../../pkg/pps/worker/index.js";
import { type MemberCluster, startCluster } from "../../support/member-cluster.js";
import { pfsAddresses } from "../../e2e/pfs-api-support.js";

/** One pfsd for a whole test file. */
export interface Server {
  readonly cluster: MemberCluster;
  readonly etcd: Etcd3;
  readonly pfs: PfsClient;
  readonly scratch: string;
}

export async function startServer(): Promise<Server> {
  const parentDir = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const cluster = await startCluster({ kind: "pfsd", size: 1, parentDir, extraArgs: [
    "--pfs-address", "127.0.0.1:0", "--shards", "4"] });
  const [address] = await pfsAddresses([cluster.endpoints], 1);
  if (address === undefined) throw new Error("no pfs node registered");
  const etcd = new Etcd3({ hosts: cluster.endpoints.split(",") });
  const scratch = await mkdtemp(join(parentDir, "pfs-worker-test-"));
  return { cluster, etcd, pfs: new PfsClient({ address }), scratch };
}

export async function stopServer(server: Server): Promise<void> {
  server.pfs.close();
  server.etcd.close();
  await server.cluster.stop();
  await rm(server.scratch, { recursive: true, force: true });
}

/** A job set up by hand: its keys, spec, job record, datums and where its files are. */
export interface HandJob {
  readonly keys: PpsKeys;
  readonly spec: PipelineSpec;
  readonly job: JobRecord;
  readonly datums: readonly Datum[];
  readonly inputCommit: string;
}

/** A 32-hex job id made from `name` (tests need no randomness for it). */
function jobIdOf(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 32);
}

export function pipelineSpec(name: string, document: Record<string, unknown>): PipelineSpec {
  const checked = checkPipelineSpec({ name, input: { repo: `${name}-in`, glob: "/*" },
    ...document });
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
}

/**
 * Creates `<spec.name>-in` with `files` in one finished commit, the output repo, and under
 * the root `/pps-<spec.name>` the pipeline, a running job and one task per datum.
 */
export async function setUpJob(server: Server, spec: PipelineSpec,
  files: ReadonlyMap<string, string>): Promise<HandJob> {
  const { pfs, etcd } = server;
  const keys = new PpsKeys(`/pps-${spec.name}`);
  await pfs.createRepo(spec.input.repo);
  await pfs.createRepo(spec.name);
  const commit = await pfs.startCommit(spec.input.repo, "master");
  for (const [path, text] of files) {
    await pfs.putFile({ commit: { repo: spec.input.repo, commit: commit.id }, path,
      append: false, format: "RAW" }, Readable.from([Buffer.from(text)]));
  }
  await pfs.finishCommit({ repo: spec.input.repo, commit: commit.id });
  const inputCommit = `${spec.input.repo}@${commit.id}`;
  const glob = compileGlob(spec.input.glob);
  if (!glob.ok) throw new Error(glob.error.message);
  const split = splitDatums(glob.value, [...files].map(([path, text]) => ({
    path, size: Buffer.byteLength(text), hash: createHash("sha256").update(text).digest("hex"),
  })));
  if (!split.ok) throw new Error(split.error.message);
  const now = Date.now();
  await etcd.put(keys.pipeline(spec.name)).value(encodePipeline({
    spec, version: 1, createdMs: now, updatedMs: now, reprocess: false }));
  const job: JobRecord = {
    id: jobIdOf(spec.name), pipeline: spec.name, pipelineVersion: 1, state: "running",
    inputCommit, outputCommit: "", datumsTotal: split.value.length, datumsProcessed: 0,
    datumsSkipped: 0, datumsFailed: 0, createdMs: now, startedMs: now, finishedMs: 0, error: "",
  };
  await etcd.put(keys.job(job.id)).value(encodeJob(job));
  for (const datum of split.value) {
    await etcd.put(keys.task(job.id, datum.id)).value(encodeDatumTask({
      jobId: job.id, pipeline: spec.name, datum, inputCommit, shards: [0], createdMs: now }));
  }
  return { keys, spec, job, datums: split.value, inputCommit };
}

/** A started worker for `hand`'s key root, with its own work root and a memory logger. */
export async function startWorker(server: Server, hand: HandJob, node: string,
  extra: Partial<PpsWorkerOptions> = {}): Promise<{ worker: PpsWorker; logger: MemoryLogger }> {
  const logger = new MemoryLogger({ node });
  const workRoot = await mkdtemp(join(server.scratch, `${node}-`));
  const worker = new PpsWorker({
    client: server.etcd, keys: hand.keys, pfs: server.pfs, node, workRoot,
    holdsShard: () => true, clock: new SystemClock(), logger, leaseTtlSeconds: 5, ...extra,
  });
  await worker.start();
  return { worker, logger };
}

/** The results written so far, by datum id. */
export async function results(server: Server, hand: HandJob):
  Promise<Map<string, DatumResultRecord>> {
  const prefix = hand.keys.resultsOf(hand.job.id);
  const kvs = await server.etcd.getAll().prefix(prefix).buffers();
  const map = new Map<string, DatumResultRecord>();
  for (const [key, value] of Object.entries(kvs)) {
    map.set(PpsKeys.suffix(prefix, key), decodeDatumResult(key, value));
  }
  return map;
}

/** Key count under `prefix`. */
export function keyCount(server: Server, prefix: string): Promise<number> {
  return server.etcd.getAll().prefix(prefix).count();
}

/** Polls `check` every 100 ms until it returns true; throws `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A file of a commit ("repo@id") as text. */
export async function readText(server: Server, commit: string, path: string): Promise<string> {
  const at = commit.indexOf("@");
  const pieces: Buffer[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) {
    pieces.push(chunk);
    done();
  } });
  await server.pfs.getFile({ commit: { repo: commit.slice(0, at), commit: commit.slice(at + 1) },
    path }, sink);
  return Buffer.concat(pieces).toString("utf8");
}
