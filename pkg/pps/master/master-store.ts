/**
 * The pps master's reads and writes of the coordination store (keys.ts): job records, datum
 * tasks, skip records and a finished job's leftovers. Every write is a transaction fenced by
 * the master's election key (`fencedIf`), so a master whose term is over — noticed or not —
 * writes nothing: its write fails with `DeposedError` and the term ends.
 *
 * Batches are cut to `ppsMasterTxnOpsMax` operations per transaction; a batch that is refused
 * part way leaves the earlier transactions written, so every caller's writes are idempotent
 * (a task or skip record written twice holds the same bytes).
 */
import { type Etcd3, type IOperation, Range } from "etcd3";
import { PfsError, assert } from "../../common/index.js";
import { type Fence, fenceHeld, fencedIf, prefixEnd } from "../../pfs/index.js";
import type { PpsKeys } from "../keys.js";
import { type JobRecord, decodeJob, encodeJob } from "../records.js";
import {
  type DatumTaskRecord, type SkipRecord, decodeSkip, encodeDatumTask, encodeSkip,
} from "../task-records.js";
import { ppsMasterSkipReadPageMax, ppsMasterTxnOpsMax } from "./limits.js";

/** A fenced write found the term over: the term ends instead of retrying. */
export class DeposedError extends PfsError {
  constructor(key: string) {
    super("FAILED_PRECONDITION", `deposed: the pps master election key ${key} is gone`);
  }
}

/** UNAVAILABLE for a failed store call doing `what`. */
function unavailable(what: string, error: unknown): PfsError {
  if (error instanceof PfsError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new PfsError("UNAVAILABLE", `${what}: ${detail}`);
}

export class MasterStore {
  readonly #client: Etcd3;
  readonly #keys: PpsKeys;
  readonly #fence: Fence;

  constructor(client: Etcd3, keys: PpsKeys, fence: Fence) {
    this.#client = client;
    this.#keys = keys;
    this.#fence = fence;
  }

  get keys(): PpsKeys {
    return this.#keys;
  }

  /** Runs `ops` (at most `ppsMasterTxnOpsMax`) in one fenced transaction. */
  async #fenced(what: string, ops: readonly IOperation[]): Promise<void> {
    assert(ops.length > 0 && ops.length <= ppsMasterTxnOpsMax,
      () => `a fenced write of ${ops.length} operations`);
    const response = await fencedIf(this.#client, this.#fence).then(...ops).commit()
      .catch((error: unknown) => { throw unavailable(`cannot write ${what}`, error); });
    if (response.succeeded) return;
    const held = await fenceHeld(this.#client, this.#fence);
    if (!held) throw new DeposedError(this.#fence.key);
    throw new PfsError("INTERNAL", `the fenced write of ${what} failed with the fence held`);
  }

  /** Runs `ops` in fenced transactions of at most `ppsMasterTxnOpsMax` each, in order. */
  async #fencedBatches(what: string, ops: readonly IOperation[]): Promise<void> {
    for (let start = 0; start < ops.length; start += ppsMasterTxnOpsMax) {
      await this.#fenced(what, ops.slice(start, start + ppsMasterTxnOpsMax));
    }
  }

  /** Every job record, by id (a record that does not decode is left out and reported). */
  async readJobs(onCorrupt: (key: string, error: unknown) => void):
    Promise<Map<string, JobRecord>> {
    const prefix = this.#keys.jobsPrefix;
    const values = await this.#client.getAll().prefix(prefix).buffers()
      .catch((error: unknown) => { throw unavailable(`cannot read ${prefix}`, error); });
    const jobs = new Map<string, JobRecord>();
    for (const [key, value] of Object.entries(values)) {
      try {
        const job = decodeJob(key, value);
        jobs.set(job.id, job);
      } catch (error: unknown) {
        onCorrupt(key, error);
      }
    }
    return jobs;
  }

  async putJob(job: JobRecord): Promise<void> {
    const key = this.#keys.job(job.id);
    await this.#fenced(key, [this.#client.put(key).value(encodeJob(job))]);
  }

  /** Writes the tasks (idempotent: a task written again holds the same bytes). */
  async putTasks(tasks: readonly DatumTaskRecord[]): Promise<void> {
    const ops = tasks.map((task) =>
      this.#client.put(this.#keys.task(task.jobId, task.datum.id)).value(encodeDatumTask(task)));
    if (ops.length > 0) await this.#fencedBatches("datum tasks", ops);
  }

  /** Deletes every task, claim and result of `jobId`. */
  async deleteJobKeys(jobId: string): Promise<void> {
    const keys = this.#keys;
    await this.#fenced(`the keys of job ${jobId}`, [keys.tasksOf(jobId), keys.claimsOf(jobId),
      keys.resultsOf(jobId)].map((prefix) => this.#client.delete().prefix(prefix)));
  }

  /** The job ids that still have a task, a claim or a result. */
  async jobsWithKeys(): Promise<Set<string>> {
    const keys = this.#keys;
    const ids = new Set<string>();
    for (const prefix of [keys.tasksPrefix, keys.claimsPrefix, keys.resultsPrefix]) {
      const found = await this.#client.getAll().prefix(prefix).keys()
        .catch((error: unknown) => { throw unavailable(`cannot read ${prefix}`, error); });
      for (const key of found) ids.add(key.slice(prefix.length).split("/")[0] ?? "");
    }
    ids.delete("");
    return ids;
  }

  /** Every skip record of `pipeline`, by datum key, read in pages. */
  async readSkips(pipeline: string): Promise<Map<string, SkipRecord>> {
    const prefix = this.#keys.skipOf(pipeline);
    const end = prefixEnd(prefix);
    const skips = new Map<string, SkipRecord>();
    let start: Buffer = Buffer.from(prefix);
    for (;;) {
      const response = await this.#client.getAll().inRange(new Range(start, end))
        .limit(ppsMasterSkipReadPageMax).exec()
        .catch((error: unknown) => { throw unavailable(`cannot read ${prefix}`, error); });
      for (const kv of response.kvs) {
        const key = kv.key.toString("utf8");
        skips.set(key.slice(prefix.length), decodeSkip(key, kv.value));
      }
      const last = response.kvs.at(-1);
      if (!response.more || last === undefined) return skips;
      start = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /**
   * Makes `pipeline`'s skip records exactly `records` (datum key → record): writes them and
   * deletes the others (a datum key no later job can reuse is not kept forever).
   */
  async replaceSkips(pipeline: string, records: ReadonlyMap<string, SkipRecord>,
    stale: Iterable<string>): Promise<void> {
    const ops: IOperation[] = [];
    for (const [key, record] of records) {
      ops.push(this.#client.put(this.#keys.skip(pipeline, key)).value(encodeSkip(record)));
    }
    for (const key of stale) {
      if (!records.has(key)) ops.push(this.#client.delete().key(this.#keys.skip(pipeline, key)));
    }
    if (ops.length > 0) await this.#fencedBatches(`the skip records of ${pipeline}`, ops);
  }
}
