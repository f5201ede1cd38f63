/**
 * `JobStager`: the staging commits of one job on this node (task-records.ts). Datums that
 * ended are put into the open staging commit of `stagingBranch(job, node)` on the output
 * repo: each output `/p` at `stagedOutputPath(p)` (streamed from the work directory) and the
 * log at `stagedLogPath(datum id)`. A batch is finished by `flush()` (the worker calls it when
 * the batch is full or no more work of the job is left here) or when it is
 * `ppsStagingBatchAgeMs` old; only a FINISHED commit is replicated and durable, so only then
 * does the outcome say "finished" and the worker writes the datums' results.
 *
 * A batch whose commit could not open, whose put failed or whose finish failed (its shard
 * master changed, the store is gone) is deleted (best effort: an unfinishable commit may be
 * refused too) and its datums come back as "abandoned": the worker releases their claims and
 * they run again.
 *
 * Invariant: at most one staging commit of the branch is open at a time: a batch opens its
 * commit only after the previous one finished or was deleted, and an open commit it finds on
 * the branch (a crashed run's) is deleted first.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { type Clock, type Logger, type Timer, PfsError, assert } from "../../common/index.js";
import type { CommitRefMessage, PutFileHeaderMessage } from "../../proto/index.js";
import { stagedLogPath, stagedOutputPath } from "../task-records.js";
import type { DatumRun } from "./datum-run.js";

/** The pfs calls staging makes (PfsClient has them). */
export interface StagingPfs {
  startCommit(repo: string, branch: string): Promise<{ readonly id: string }>;
  inspectBranch(repo: string, branch: string): Promise<{ readonly open: string }>;
  finishCommit(commit: CommitRefMessage, error?: string): Promise<unknown>;
  deleteCommit(commit: CommitRefMessage): Promise<unknown>;
  putFile(header: PutFileHeaderMessage, source: AsyncIterable<Uint8Array | string>):
    Promise<unknown>;
}

/** What became of a batch. `staged` is "repo@commit id" of the finished commit. */
export type BatchOutcome<T> =
  | { readonly kind: "finished"; readonly staged: string; readonly datums: readonly T[] }
  | { readonly kind: "abandoned"; readonly error: string; readonly datums: readonly T[] };

export interface JobStagerOptions<T> {
  readonly pfs: StagingPfs;
  /** The output repo (the pipeline's name). */
  readonly repo: string;
  readonly branch: string;
  readonly batchAgeMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once per batch, in the order the batches were sealed. */
  readonly onOutcome: (outcome: BatchOutcome<T>) => Promise<void>;
}

class Batch<T> {
  readonly datums: T[] = [];
  readonly puts: Promise<void>[] = [];
  readonly opened: Promise<string>;
  failure: string | undefined;
  timer: Timer | undefined;

  constructor(opened: Promise<string>) {
    this.opened = opened;
    // Observed at once: a failed open is recorded, then reported when the batch is sealed.
    opened.catch((error: unknown) => { this.fail(error); });
  }

  fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error.message : String(error);
  }
}

function header(repo: string, commit: string, path: string): PutFileHeaderMessage {
  return { commit: { repo, commit }, path, append: false, format: "RAW" };
}

export class JobStager<T> {
  readonly #options: JobStagerOptions<T>;
  #current: Batch<T> | undefined;
  /** Settles when the last sealed batch's commit is finished or deleted. */
  #settled: Promise<void> = Promise.resolve();
  /** Settles when every sealed batch's outcome has been handled. */
  #handled: Promise<void> = Promise.resolve();

  constructor(options: JobStagerOptions<T>) {
    assert(options.batchAgeMs > 0, () => `batch age ${options.batchAgeMs} ms`);
    this.#options = options;
  }

  /** Datums in the open batch. */
  get size(): number {
    return this.#current?.datums.length ?? 0;
  }

  /**
   * Puts the datum's outputs (when it succeeded) and its log into the open batch, opening one
   * when none is; resolves when the puts ended, well or not (a failure marks the batch).
   */
  async stage(datumId: string, run: DatumRun, datum: T): Promise<void> {
    const batch = this.#current ?? this.#open();
    batch.datums.push(datum);
    const put = this.#put(batch, datumId, run).catch((error: unknown) => { batch.fail(error); });
    batch.puts.push(put);
    await put;
  }

  async #put(batch: Batch<T>, datumId: string, run: DatumRun): Promise<void> {
    const { pfs, repo } = this.#options;
    const commit = await batch.opened;
    for (const output of run.outputs) {
      await pfs.putFile(header(repo, commit, stagedOutputPath(output.path)),
        createReadStream(output.file));
    }
    await pfs.putFile(header(repo, commit, stagedLogPath(datumId)), Readable.from([run.log]));
  }

  #open(): Batch<T> {
    const { clock, batchAgeMs } = this.#options;
    const opened = this.#settled.then(() => this.#startCommit());
    const batch = new Batch<T>(opened);
    this.#current = batch;
    batch.timer = clock.setTimer(batchAgeMs, () => {
      if (this.#current === batch) this.flush().catch(() => undefined);
    });
    return batch;
  }

  /**
   * Starts the batch's commit. The branch is this node's own for the job, so an open commit
   * already on it is stale (left by a crashed run of this node, or by a stager of a lost
   * lease): it is deleted and the start tried once more.
   */
  async #startCommit(): Promise<string> {
    const { pfs, repo, branch, logger } = this.#options;
    try {
      return (await pfs.startCommit(repo, branch)).id;
    } catch (error: unknown) {
      const stale = await pfs.inspectBranch(repo, branch).then((info) => info.open,
        () => "");
      if (stale === "" || !(error instanceof PfsError) || error.code !== "FAILED_PRECONDITION") {
        throw error;
      }
      logger.warn("deleting a stale open staging commit", { repo, branch, commit: stale });
      await this.#delete(stale);
      return (await pfs.startCommit(repo, branch)).id;
    }
  }

  /** Seals the open batch (if any) and finishes its commit; resolves once it is handled. */
  flush(): Promise<void> {
    return this.#seal((batch, commit) => this.#finish(batch, commit));
  }

  /**
   * Seals the open batch (if any) and deletes its commit without finishing it (the job was
   * killed, or the worker stops); its datums come back as abandoned.
   */
  abort(reason: string): Promise<void> {
    return this.#seal(async (batch, commit) => {
      await this.#delete(commit);
      return { kind: "abandoned", error: reason, datums: batch.datums };
    });
  }

  /** Resolves when every batch sealed so far has been handled. */
  idle(): Promise<void> {
    return this.#handled;
  }

  #seal(end: (batch: Batch<T>, commit: string) => Promise<BatchOutcome<T>>): Promise<void> {
    const batch = this.#current;
    if (batch === undefined) return this.#handled;
    this.#current = undefined;
    batch.timer?.cancel();
    const outcome = (async (): Promise<BatchOutcome<T>> => {
      await Promise.all(batch.puts);
      const commit = await batch.opened.catch(() => "");
      if (batch.failure !== undefined) {
        await this.#delete(commit);
        return { kind: "abandoned", error: batch.failure, datums: batch.datums };
      }
      return end(batch, commit);
    })();
    this.#settled = outcome.then(() => undefined, () => undefined);
    const previous = this.#handled;
    this.#handled = (async () => {
      const result = await outcome;
      await previous;
      await this.#options.onOutcome(result);
    })().catch((error: unknown) => {
      this.#options.logger.error("a staging batch's outcome was not handled", { error });
    });
    return this.#handled;
  }

  async #finish(batch: Batch<T>, commit: string): Promise<BatchOutcome<T>> {
    const { pfs, repo } = this.#options;
    try {
      await pfs.finishCommit({ repo, commit });
      return { kind: "finished", staged: `${repo}@${commit}`, datums: batch.datums };
    } catch (error: unknown) {
      batch.fail(error);
      await this.#delete(commit);
      return { kind: "abandoned", error: batch.failure ?? "finish failed", datums: batch.datums };
    }
  }

  /** Deletes the open staging commit `commit` ("" = none was opened); best effort. */
  async #delete(commit: string): Promise<void> {
    if (commit === "") return;
    const { pfs, repo, branch, logger } = this.#options;
    await pfs.deleteCommit({ repo, commit }).catch((error: unknown) => {
      logger.warn("cannot delete a staging commit", { repo, branch, commit, error });
    });
  }
}
