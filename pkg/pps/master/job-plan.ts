/**
 * A job's plan: its input commit split into datums by the pipeline's glob, and which of them
 * are skipped (a successful earlier job produced their key's outputs) and which run. The
 * master computes it when the job starts, and again when a new master resumes a running job:
 * the same input commit, spec version and skip records (written only when a job of the
 * pipeline succeeds, and jobs of a pipeline run one at a time) give the same plan, so the
 * datums that got tasks are exactly the plan's `toRun`.
 *
 * Errors: an input commit that is gone is NOT_FOUND and more datums than `ppsDatumsPerJobMax`
 * LIMIT_EXCEEDED, returned (the job then fails); other failures of the listing are thrown as
 * pfs says (UNAVAILABLE: the step runs again).
 */
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import { type PfsClient, commitRef } from "../../pfs/client/index.js";
import { PfsError, type Result, assert, err, ok } from "../../common/index.js";
import { compileGlob, shardOf } from "../../pfs/index.js";
import { type Datum, type DatumFile, datumKey, splitDatums, transformKey } from "../datum.js";
import type { JobRecord, PipelineRecord } from "../records.js";
import type { DatumTaskRecord, SkipRecord } from "../task-records.js";
import type { MasterStore } from "./master-store.js";

/** A job's datums and what happens to each. */
export interface JobPlan {
  /** Every datum of the input, sorted by root. */
  readonly datums: readonly Datum[];
  /** Datum id → its skip key (the pipeline's transform key and the datum's id). */
  readonly keyOf: ReadonlyMap<string, string>;
  /** Datum id → the skip record whose outputs it reuses. */
  readonly skipped: ReadonlyMap<string, SkipRecord>;
  /** The datums that run (one task each), sorted by root. */
  readonly toRun: readonly Datum[];
  /** The pipeline's skip keys when the plan was made (the stale ones go when the job ends). */
  readonly skipKeys: readonly string[];
}

/** "repo@id" split into its parts; INVALID_ARGUMENT when it has no "@". */
export function parseCommitName(name: string): { repo: string; id: string } {
  const at = name.lastIndexOf("@");
  if (at <= 0 || at === name.length - 1) {
    throw new PfsError("INVALID_ARGUMENT", `commit ${JSON.stringify(name)} is not repo@id`);
  }
  return { repo: name.slice(0, at), id: name.slice(at + 1) };
}

/** The files of a finished commit (directories left out). */
export async function listInputFiles(pfs: PfsClient, commit: string): Promise<DatumFile[]> {
  const { repo, id } = parseCommitName(commit);
  const entries = await pfs.globFile(commitRef(repo, id), "/**");
  return entries.filter((entry) => entry.type === "FILE").map((entry) => ({
    path: entry.path, size: Number(entry.size_bytes), hash: entry.hash,
  }));
}

/** The datums of `files` under the pipeline's glob; LIMIT_EXCEEDED past the per-job bound. */
export function datumsOf(record: PipelineRecord, files: readonly DatumFile[]):
  Result<readonly Datum[], PfsError> {
  const glob = compileGlob(record.spec.input.glob);
  // The spec was checked when it was stored, its glob with it.
  assert(glob.ok, () => `stored glob ${record.spec.input.glob} does not compile`);
  const datums = splitDatums(glob.value, files);
  return datums.ok ? datums : err(datums.error);
}

/**
 * The skip records of `stored` whose output commit is still there and finished (a pipeline
 * deleted and created again must not reuse outputs of a repo that is gone), by datum key.
 */
async function usableSkips(pfs: PfsClient, stored: ReadonlyMap<string, SkipRecord>):
  Promise<Map<string, SkipRecord>> {
  const usable = new Map<string, boolean>();
  for (const commit of new Set([...stored.values()].map((skip) => skip.outputCommit))) {
    const { repo, id } = parseCommitName(commit);
    const info = await pfs.inspectCommit(commitRef(repo, id)).catch((error: unknown) => {
      if (error instanceof PfsError && error.code === "NOT_FOUND") return undefined;
      throw error;
    });
    usable.set(commit, info?.state === "FINISHED");
  }
  return new Map([...stored].filter(([, skip]) => usable.get(skip.outputCommit) === true));
}

/**
 * The plan of `job` (of `record`'s version): lists its input commit, splits it, and looks up
 * the skip records unless `reprocess` (the version asked for it, and this is its first job).
 */
export async function planJob(pfs: PfsClient, store: MasterStore, job: JobRecord,
  record: PipelineRecord, reprocess: boolean): Promise<Result<JobPlan, PfsError>> {
  assert(job.pipelineVersion === record.version,
    () => `job ${job.id} of version ${job.pipelineVersion} planned with ${record.version}`);
  let files: DatumFile[];
  try {
    files = await listInputFiles(pfs, job.inputCommit);
  } catch (error: unknown) {
    // A deleted input repo or commit never comes back: the job fails instead of waiting.
    if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
    return err(new PfsError("NOT_FOUND",
      `the input commit ${job.inputCommit} is gone: ${error.message}`));
  }
  const datums = datumsOf(record, files);
  if (!datums.ok) return datums;
  const transform = transformKey(record.spec);
  const stored = await store.readSkips(record.spec.name);
  const usable = reprocess ? new Map<string, SkipRecord>() : await usableSkips(pfs, stored);
  const keyOf = new Map<string, string>();
  const skipped = new Map<string, SkipRecord>();
  const toRun: Datum[] = [];
  for (const datum of datums.value) {
    const key = datumKey(transform, datum);
    keyOf.set(datum.id, key);
    const skip = usable.get(key);
    if (skip !== undefined && skip.datumId === datum.id) skipped.set(datum.id, skip);
    else toRun.push(datum);
  }
  return ok({ datums: datums.value, keyOf, skipped, toRun, skipKeys: [...stored.keys()] });
}

/** The task of each datum to run, with the shards of its files. */
export function tasksOf(job: JobRecord, plan: JobPlan, shards: number, nowMs: number):
  DatumTaskRecord[] {
  return plan.toRun.map((datum) => ({
    jobId: job.id, pipeline: job.pipeline, datum, inputCommit: job.inputCommit,
    shards: [...new Set(datum.files.map((file) => shardOf(file.path, shards) as number))]
      .sort((a, b) => a - b),
    createdMs: nowMs,
  }));
}
