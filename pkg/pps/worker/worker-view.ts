/**
 * `WorkerView`: what a worker knows of the coordination store, as watched copies
 * (PrefixCache) of five prefixes of keys.ts: tasks, claims, slots, jobs and pipelines.
 * Records are decoded once per value seen; a record that does not decode is logged and
 * treated as absent (a worker never runs what it cannot read).
 *
 * It also remembers when this worker first saw each task (claim-order.ts's locality delay),
 * forgetting tasks that are gone.
 */
import type { Etcd3 } from "etcd3";
import type { Clock, Logger } from "../../common/index.js";
import { PrefixCache } from "../../pfs/index.js";
import type { PpsKeys } from "../keys.js";
import {
  type JobRecord, type PipelineRecord, decodeJob, decodePipeline, isFinal,
} from "../records.js";
import { type DatumTaskRecord, decodeDatumTask } from "../task-records.js";
import type { SeenTask } from "./claim-order.js";

/** Decodes each value once; keeps the last decoding per key. */
class DecodedCache<T> {
  readonly #decode: (key: string, bytes: Uint8Array) => T;
  readonly #logger: Logger;
  readonly #memo = new Map<string, { readonly raw: string; readonly value: T | undefined }>();

  constructor(decode: (key: string, bytes: Uint8Array) => T, logger: Logger) {
    this.#decode = decode;
    this.#logger = logger;
  }

  /** Drops the decoding of `key` (its key is gone). */
  forget(key: string): void {
    this.#memo.delete(key);
  }

  get(key: string, raw: string | undefined): T | undefined {
    if (raw === undefined) {
      this.#memo.delete(key);
      return undefined;
    }
    const memo = this.#memo.get(key);
    if (memo !== undefined && memo.raw === raw) return memo.value;
    let value: T | undefined;
    try {
      value = this.#decode(key, Buffer.from(raw, "utf8"));
    } catch (error: unknown) {
      this.#logger.error("a pps record does not decode; ignored", { key, error });
    }
    this.#memo.set(key, { raw, value });
    return value;
  }
}

const taskSuffixPattern = /^[0-9a-f]{1,64}\/[0-9a-f]{1,64}$/;
const pipelineNamePattern = /^[A-Za-z0-9_-]{1,63}$/;

/** Whether a task's key matches its record and every name in it can become a key. */
function wellFormed(suffix: string, task: DatumTaskRecord): boolean {
  return suffix === `${task.jobId}/${task.datum.id}` && taskSuffixPattern.test(suffix) &&
    pipelineNamePattern.test(task.pipeline);
}

export class WorkerView {
  readonly #keys: PpsKeys;
  readonly #clock: Clock;
  readonly tasks: PrefixCache;
  readonly claims: PrefixCache;
  readonly slots: PrefixCache;
  readonly jobs: PrefixCache;
  readonly pipelines: PrefixCache;
  readonly #taskRecords: DecodedCache<DatumTaskRecord>;
  readonly #jobRecords: DecodedCache<JobRecord>;
  readonly #pipelineRecords: DecodedCache<PipelineRecord>;
  readonly #seenMs = new Map<string, number>();

  constructor(client: Etcd3, keys: PpsKeys, clock: Clock, logger: Logger) {
    this.#keys = keys;
    this.#clock = clock;
    this.tasks = new PrefixCache(client, keys.tasksPrefix, logger);
    this.claims = new PrefixCache(client, keys.claimsPrefix, logger);
    this.slots = new PrefixCache(client, `${keys.root}/slots/`, logger);
    this.jobs = new PrefixCache(client, keys.jobsPrefix, logger);
    this.pipelines = new PrefixCache(client, keys.pipelinesPrefix, logger);
    this.#taskRecords = new DecodedCache(decodeDatumTask, logger);
    this.#jobRecords = new DecodedCache(decodeJob, logger);
    this.#pipelineRecords = new DecodedCache(decodePipeline, logger);
  }

  #caches(): PrefixCache[] {
    return [this.pipelines, this.jobs, this.slots, this.claims, this.tasks];
  }

  /** Reads every prefix and starts the watches; UNAVAILABLE when the store is unreachable. */
  async start(): Promise<void> {
    for (const cache of this.#caches()) await cache.start();
  }

  /** Calls `listener` after any change of any prefix. */
  onChange(listener: () => void): void {
    for (const cache of this.#caches()) cache.onChange(listener);
  }

  /** Every task that decodes, with when this worker first saw it. */
  seenTasks(): SeenTask[] {
    const nowMs = this.#clock.nowMs();
    const seen: SeenTask[] = [];
    for (const [suffix, raw] of this.tasks.entries) {
      const task = this.#taskRecords.get(this.#keys.tasksPrefix + suffix, raw);
      if (task === undefined || !wellFormed(suffix, task)) continue;
      const seenMs = this.#seenMs.get(suffix) ?? nowMs;
      this.#seenMs.set(suffix, seenMs);
      seen.push({ suffix, task, seenMs });
    }
    for (const suffix of this.#seenMs.keys()) {
      if (this.tasks.entries.has(suffix)) continue;
      this.#seenMs.delete(suffix);
      this.#taskRecords.forget(this.#keys.tasksPrefix + suffix);
    }
    return seen;
  }

  /** Whether some worker's claim on the task "<job id>/<datum id>" is there. */
  claimed(suffix: string): boolean {
    return this.claims.entries.has(suffix);
  }

  /** Whether slot `index` of `pipeline` is held. */
  slotTaken(pipeline: string, index: number): boolean {
    return this.slots.entries.has(`${pipeline}/${index}`);
  }

  job(jobId: string): JobRecord | undefined {
    const key = this.#keys.job(jobId);
    return this.#jobRecords.get(key, this.jobs.entries.get(jobId));
  }

  pipeline(name: string): PipelineRecord | undefined {
    const key = this.#keys.pipeline(name);
    return this.#pipelineRecords.get(key, this.pipelines.entries.get(name));
  }

  /** Whether the job may run: known, not final, and its pipeline still at the job's version. */
  runnable(task: DatumTaskRecord): boolean {
    const job = this.job(task.jobId);
    if (job === undefined || isFinal(job.state) || job.pipeline !== task.pipeline) return false;
    return this.pipeline(task.pipeline)?.version === job.pipelineVersion;
  }

  /** Whether an unclaimed task of `jobId` is waiting (this node may claim it soon). */
  hasUnclaimedTask(jobId: string): boolean {
    const prefix = `${jobId}/`;
    for (const suffix of this.tasks.entries.keys()) {
      if (suffix.startsWith(prefix) && !this.claimed(suffix)) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await Promise.all(this.#caches().map((cache) => cache.close()));
  }
}
