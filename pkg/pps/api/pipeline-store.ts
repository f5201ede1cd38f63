/**
 * The pipelines API's reads and writes of the coordination store (keys.ts): pipeline records
 * with their mod revisions, job records, datum results and skip records, and the
 * compare-and-swap writes the API makes. Only the API writes pipeline records; the elected
 * pps master writes jobs, the workers results.
 *
 * Invariants: a write is a transaction whose compare covers what the caller read (create
 * revision 0 for a new record, the mod revision read for an update or delete), and returns
 * whether it held; a failure of the store itself is UNAVAILABLE naming the operation; a record
 * that does not decode is DATA_CORRUPTED naming its key (records.ts, task-records.ts).
 */
import type { Etcd3 } from "etcd3";
import { PfsError } from "../../common/index.js";
import { PpsKeys } from "../keys.js";
import {
  type JobRecord, type PipelineRecord, decodeJob, decodePipeline, encodePipeline,
} from "../records.js";
import {
  type DatumResultRecord, type SkipRecord, decodeDatumResult, decodeSkip,
} from "../task-records.js";
import { ppsDeleteKeysPerTxnMax } from "./limits.js";

/** A pipeline record as read, with the revision a later write compares against. */
export interface StoredPipeline {
  readonly record: PipelineRecord;
  readonly modRevision: string;
}

/** Runs one store operation; a failure that is not a PfsError becomes UNAVAILABLE. */
async function storeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    if (error instanceof PfsError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new PfsError("UNAVAILABLE", `cannot ${what} in the coordination store: ${reason}`);
  }
}

/** The pipelines API's view of the store under one pps root. */
export class PipelineStore {
  readonly #client: Etcd3;
  readonly keys: PpsKeys;

  constructor(client: Etcd3, keys: PpsKeys) {
    this.#client = client;
    this.keys = keys;
  }

  /** Every pipeline, by name. */
  async pipelines(): Promise<Map<string, StoredPipeline>> {
    const prefix = this.keys.pipelinesPrefix;
    const response = await storeCall("read the pipelines",
      () => this.#client.getAll().prefix(prefix).exec());
    const pipelines = new Map<string, StoredPipeline>();
    for (const kv of response.kvs) {
      const key = kv.key.toString("utf8");
      pipelines.set(PpsKeys.suffix(prefix, key),
        { record: decodePipeline(key, kv.value), modRevision: kv.mod_revision });
    }
    return pipelines;
  }

  /** Writes a new pipeline's record; false when one exists already. */
  async createPipeline(record: PipelineRecord): Promise<boolean> {
    const key = this.keys.pipeline(record.spec.name);
    const outcome = await storeCall(`create ${key}`, () =>
      this.#client.if(key, "Create", "==", 0)
        .then(this.#client.put(key).value(encodePipeline(record))).commit());
    return outcome.succeeded;
  }

  /** Replaces a pipeline's record if it is unchanged since `modRevision`; false if not. */
  async updatePipeline(record: PipelineRecord, modRevision: string): Promise<boolean> {
    const key = this.keys.pipeline(record.spec.name);
    const outcome = await storeCall(`update ${key}`, () =>
      this.#client.if(key, "Mod", "==", modRevision)
        .then(this.#client.put(key).value(encodePipeline(record))).commit());
    return outcome.succeeded;
  }

  /** Deletes a pipeline's record if it is unchanged since `modRevision`; false if not. */
  async deletePipeline(name: string, modRevision: string): Promise<boolean> {
    const key = this.keys.pipeline(name);
    const outcome = await storeCall(`delete ${key}`, () =>
      this.#client.if(key, "Mod", "==", modRevision)
        .then(this.#client.delete().key(key)).commit());
    return outcome.succeeded;
  }

  /** Every job record (any pipeline, any order). */
  async jobs(): Promise<JobRecord[]> {
    const response = await storeCall("read the jobs",
      () => this.#client.getAll().prefix(this.keys.jobsPrefix).exec());
    return response.kvs.map((kv) => decodeJob(kv.key.toString("utf8"), kv.value));
  }

  /** One job record, or undefined. `id` must be a valid job id (checked by the caller). */
  async job(id: string): Promise<JobRecord | undefined> {
    const key = this.keys.job(id);
    const value = await storeCall(`read ${key}`, () => this.#client.get(key).buffer());
    return value === null ? undefined : decodeJob(key, value);
  }

  /** The datum results written so far for job `jobId`. */
  async results(jobId: string): Promise<DatumResultRecord[]> {
    const prefix = this.keys.resultsOf(jobId);
    const response = await storeCall(`read ${prefix}`,
      () => this.#client.getAll().prefix(prefix).exec());
    return response.kvs.map((kv) => decodeDatumResult(kv.key.toString("utf8"), kv.value));
  }

  /** Every skip record of pipeline `name`. */
  async skips(name: string): Promise<SkipRecord[]> {
    const prefix = this.keys.skipOf(name);
    const response = await storeCall(`read ${prefix}`,
      () => this.#client.getAll().prefix(prefix).exec());
    return response.kvs.map((kv) => decodeSkip(kv.key.toString("utf8"), kv.value));
  }

  /** Deletes `keys`, at most `ppsDeleteKeysPerTxnMax` per transaction. */
  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += ppsDeleteKeysPerTxnMax) {
      const batch = keys.slice(start, start + ppsDeleteKeysPerTxnMax);
      await storeCall(`delete ${batch.length} keys`, async () => {
        // Version > -1 holds for every key, present or not: the txn only batches the deletes.
        const txn = this.#client.if(batch[0] ?? "", "Version", ">", -1);
        await txn.then(...batch.map((key) => this.#client.delete().key(key))).commit();
      });
    }
  }

  /** Deletes every key under `prefix` (one range deletion). */
  async deletePrefix(prefix: string): Promise<void> {
    await storeCall(`delete ${prefix}`, () => this.#client.delete().prefix(prefix).exec());
  }
}
