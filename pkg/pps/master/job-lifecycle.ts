/**
 * What the pps master does to one job (the runtime rules of task-records.ts): start it, keep
 * its progress, finish it when every task has a result, kill it. Each step is idempotent, so
 * a step that failed part way (pfs or the store unreachable, the term lost) is run again from
 * the top by the next master or the next round:
 *
 * - start: a created job's leftovers of an interrupted start are cleared (tasks, claims,
 *   results, staging branches, a stray open output commit), then the input is planned
 *   (job-plan.ts), the output commit opens (its provenance: the input commit), the tasks are
 *   written and the job becomes running. An input that cannot be planned (gone, too many
 *   datums) fails the job and an output commit opened for it.
 * - complete: the final counts are written first (so they are final once the output commit is
 *   visible), then the output commit is finished with the union of the outputs (or failed with
 *   the job's error), the logs are copied into a commit on the `logs` branch, the skip records
 *   are replaced (success only), the job becomes final, and its keys and staging branches go.
 * - kill (or fail a running job whose input is gone): its output commit is failed and its
 *   keys deleted, then the job becomes killed (failed) and its staging branches go.
 *
 * Every store write goes through the fenced MasterStore.
 */
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import { type PfsClient, commitRef, fileRef } from "../../pfs/client/index.js";
import { type Clock, type Logger, PfsError, type Result, err, ok } from "../../common/index.js";
import { type JobRecord, type JobState, type PipelineRecord, moveJob } from "../records.js";
import { type DatumResultRecord, type SkipRecord, logsBranch } from "../task-records.js";
import { copyLogs, copyOutputs, judgeResults, writeLogIndex } from "./assembly.js";
import {
  deleteDeadStagingBranches, deleteIfOpen, deleteStagingBranches, failIfOpen,
  finishCommit, isCode, openCommit, outputBranch,
} from "./commits.js";
import { type JobPlan, parseCommitName, planJob, tasksOf } from "./job-plan.js";
import { ppsMasterAssembleAttemptsMax, ppsMasterFinishingWaitMs } from "./limits.js";
import type { MasterStore } from "./master-store.js";

/** What a job step works with. */
export interface JobContext {
  readonly pfs: PfsClient;
  readonly store: MasterStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The cluster's shard count S (for the tasks' shards). */
  readonly shards: number;
}

/** `job` moved to `to`; the move is one the caller checked (an assertion otherwise). */
function moved(job: JobRecord, to: JobState, nowMs: number, error = ""): JobRecord {
  const next = moveJob(job, to, nowMs, error);
  if (!next.ok) throw new PfsError("INTERNAL", next.error.message);
  return next.value;
}

/** Deletes the job's tasks, claims, results and staging branches. */
async function cleanUp(context: JobContext, job: JobRecord): Promise<void> {
  await context.store.deleteJobKeys(job.id);
  await deleteStagingBranches(context.pfs, job.pipeline, job.id, context.logger);
}

/**
 * Starts a created job of `record`'s version (skipping nothing when `reprocess`); resolves
 * with its new record (running, or final when its input cannot be split) and its plan.
 */
export async function startJob(context: JobContext, job: JobRecord, record: PipelineRecord,
  reprocess: boolean): Promise<{ job: JobRecord; plan: JobPlan | undefined }> {
  const { pfs, store, clock } = context;
  await cleanUp(context, job);
  const plan = await planJob(pfs, store, job, record, reprocess);
  if (!plan.ok) {
    // Without provenance: the input commit may be what is gone.
    const failedOutput = await openCommit(pfs, job.pipeline, outputBranch);
    await finishCommit(pfs, failedOutput, plan.error.message);
    const failed = moved({ ...job, outputCommit: failedOutput }, "failure", clock.wallMs(),
      plan.error.message);
    await store.putJob(failed);
    return { job: failed, plan: undefined };
  }
  const output = await openCommit(pfs, job.pipeline, outputBranch, [job.inputCommit]);
  const opened = { ...job, outputCommit: output };
  await store.putTasks(tasksOf(opened, plan.value, context.shards, clock.wallMs()));
  const running = moved({
    ...opened, datumsTotal: plan.value.datums.length, datumsSkipped: plan.value.skipped.size,
  }, "running", clock.wallMs());
  await store.putJob(running);
  context.logger.info("job started", {
    job: job.id, pipeline: job.pipeline, input: job.inputCommit, output,
    datums: running.datumsTotal, skipped: running.datumsSkipped,
  });
  return { job: running, plan: plan.value };
}

/** The job's counts from its results so far. */
export function progressOf(job: JobRecord, results: Iterable<DatumResultRecord>): JobRecord {
  let processed = 0;
  let failed = 0;
  for (const result of results) {
    if (result.ok) processed += 1;
    else failed += 1;
  }
  return { ...job, datumsProcessed: processed, datumsFailed: failed };
}

/** The output commit's state once it is not finishing; "GONE" when it was deleted. */
async function settledState(pfs: PfsClient, commit: string): Promise<string> {
  const { repo, id } = parseCommitName(commit);
  try {
    const info = await pfs.inspectCommit(commitRef(repo, id));
    if (info.state !== "FINISHING") return info.state;
    return (await pfs.waitCommit(commitRef(repo, id), ppsMasterFinishingWaitMs)).state;
  } catch (error: unknown) {
    if (isCode(error, "NOT_FOUND")) return "GONE";
    throw error;
  }
}

/**
 * Finishes the output commit with the union of the outputs. A commit that cannot take them or
 * finish (FAILED_PRECONDITION: a shard master changed under it), or that is gone or failed,
 * is replaced by a new one and the assembly runs again, up to `ppsMasterAssembleAttemptsMax`
 * times. Resolves with the job (its output commit possibly new), or the error that fails it.
 */
async function finishOutput(context: JobContext, start: JobRecord, plan: JobPlan,
  results: ReadonlyMap<string, DatumResultRecord>): Promise<Result<JobRecord, string>> {
  const { pfs, store } = context;
  let job = start;
  for (let attempt = 1; attempt <= ppsMasterAssembleAttemptsMax; attempt += 1) {
    const state = await settledState(pfs, job.outputCommit);
    if (state === "FINISHED") return ok(job);
    if (state === "OPEN") {
      try {
        await copyOutputs(pfs, job.id, job.outputCommit, results, plan.skipped);
        await finishCommit(pfs, job.outputCommit);
        return ok(job);
      } catch (error: unknown) {
        if (!isCode(error, "FAILED_PRECONDITION")) throw error;
        context.logger.warn("the output commit cannot finish; assembling again in a new one",
          { job: job.id, commit: job.outputCommit, attempt, error });
        await deleteIfOpen(pfs, job.outputCommit);
      }
    }
    const reopened = await openCommit(pfs, job.pipeline, outputBranch, [job.inputCommit]);
    job = { ...job, outputCommit: reopened };
    await store.putJob(job);
  }
  await failIfOpen(pfs, job.outputCommit, "the output commit could not finish");
  return err(`the output commit could not finish after ${ppsMasterAssembleAttemptsMax} ` +
    "attempts (ppsMasterAssembleAttemptsMax)");
}

/** Copies the datums' logs into a commit on the logs branch, unless one already has them. */
async function writeLogs(context: JobContext, job: JobRecord,
  results: ReadonlyMap<string, DatumResultRecord>): Promise<void> {
  const { pfs } = context;
  if (![...results.values()].some((result) => result.staged !== "")) return;
  try {
    const branch = await pfs.inspectBranch(job.pipeline, logsBranch);
    if (branch.open === "" && branch.head !== "") {
      await pfs.inspectFile(fileRef(job.pipeline, branch.head, `/${job.id}`));
      return; // An earlier run of this step finished the job's logs commit.
    }
  } catch (error: unknown) {
    if (!isCode(error, "NOT_FOUND")) throw error;
  }
  const logs = await openCommit(pfs, job.pipeline, logsBranch);
  await copyLogs(pfs, job.id, logs, results, context.logger);
  await writeLogIndex(pfs, job.id, logs, results);
  await finishCommit(pfs, logs);
}

/** The skip records a successful job leaves: every datum's key → where its outputs are. */
function skipRecords(job: JobRecord, plan: JobPlan,
  results: ReadonlyMap<string, DatumResultRecord>): Map<string, SkipRecord> {
  const records = new Map<string, SkipRecord>();
  for (const datum of plan.datums) {
    const key = plan.keyOf.get(datum.id);
    const outputs = results.get(datum.id)?.outputs ?? plan.skipped.get(datum.id)?.outputs;
    if (key === undefined || outputs === undefined) continue;
    records.set(key, {
      datumId: datum.id, root: datum.root, outputCommit: job.outputCommit, outputs,
    });
  }
  return records;
}

/** Ends a running job whose every task has a result; resolves with its final record. */
export async function completeJob(context: JobContext, job: JobRecord, plan: JobPlan,
  results: ReadonlyMap<string, DatumResultRecord>): Promise<JobRecord> {
  const { pfs, store, clock } = context;
  const judgement = judgeResults(results, plan.skipped);
  let counted: JobRecord = {
    ...job, datumsProcessed: judgement.processed, datumsFailed: judgement.failed,
  };
  if (counted.datumsProcessed !== job.datumsProcessed ||
    counted.datumsFailed !== job.datumsFailed) await store.putJob(counted);
  let error = judgement.error;
  if (error === "") {
    const finished = await finishOutput(context, counted, plan, results);
    if (finished.ok) counted = finished.value;
    else error = finished.error;
  } else {
    await failIfOpen(pfs, counted.outputCommit, error);
  }
  await writeLogs(context, counted, results);
  if (error === "") {
    await store.replaceSkips(job.pipeline, skipRecords(counted, plan, results), plan.skipKeys);
  }
  const final = moved(counted, error === "" ? "success" : "failure", clock.wallMs(), error);
  await store.putJob(final);
  context.logger.info("job ended", { job: job.id, pipeline: job.pipeline, state: final.state,
    output: final.outputCommit, error });
  await cleanUp(context, final);
  return final;
}

/**
 * Ends a created or running job early as `state` (killed: its pipeline changed; failure: its
 * input cannot be planned any more): `reason` becomes its error and its output commit's.
 */
export async function endJob(context: JobContext, job: JobRecord,
  state: "killed" | "failure", reason: string): Promise<JobRecord> {
  // The output commit fails and the tasks go first: a job seen ended has neither left.
  await failIfOpen(context.pfs, job.outputCommit, reason);
  await context.store.deleteJobKeys(job.id);
  const ended = moved(job, state, context.clock.wallMs(), reason);
  await context.store.putJob(ended);
  await deleteStagingBranches(context.pfs, job.pipeline, job.id, context.logger);
  context.logger.info("job ended early", { job: job.id, pipeline: job.pipeline, state, reason });
  return ended;
}

/**
 * Removes what interrupted cleanups left of `pipeline`'s jobs: the keys of the final jobs
 * `withKeys`, and each staging branch whose job is not `live` (final, or no job at all).
 */
export async function sweepPipeline(context: JobContext, pipeline: string,
  withKeys: readonly JobRecord[], live: (jobId: string) => boolean): Promise<void> {
  for (const job of withKeys) await context.store.deleteJobKeys(job.id);
  await deleteDeadStagingBranches(context.pfs, pipeline, live, context.logger);
}
