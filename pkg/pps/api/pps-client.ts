/**
 * `PpsClient`: a typed client of pps.API (pkg/proto/pps.proto) over grpc-js, one method per
 * RPC, for the `pfs` CLI and tests. Unary calls have the connection's data-less deadline;
 * GetLogs has none (its length follows the logs), but its channel must connect within it.
 * Every failure is a PfsError with the server's code and message (pkg/pfs/client's
 * clientError), so the CLI prints what the server said.
 */
import {
  type CallOptions, type ChannelCredentials, type Client, type ClientReadableStream,
  type ServiceError, credentials,
} from "@grpc/grpc-js";
import { PfsError, assert } from "../../common/index.js";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import { clientError } from "../../pfs/client/index.js";
import {
  type JobInfoMessage, type LogEntryMessage, type PipelineInfoMessage, type PpsMessages,
  type PpsMethodName, type WireJobState, loadPpsService, type ppsMethods,
} from "../../proto/index.js";
import type { JobRecord, JobState } from "../records.js";

/** Each job state's wire name (pps.proto JobState): the upper-case of its name. */
export function jobStateToWire(state: JobState): WireJobState {
  return state.toUpperCase() as Uppercase<JobState>;
}

/** The job state a wire name stands for; DATA_CORRUPTED for JOB_STATE_UNKNOWN. */
export function jobStateOfWire(state: WireJobState): JobState {
  if (state === "JOB_STATE_UNKNOWN") {
    throw new PfsError("DATA_CORRUPTED", "a job without a state");
  }
  return state.toLowerCase() as Lowercase<typeof state>;
}

/** The job record a JobInfo message carries (for `jobView`). */
export function jobOfWire(job: JobInfoMessage): JobRecord {
  return {
    id: job.id, pipeline: job.pipeline, pipelineVersion: job.pipeline_version,
    state: jobStateOfWire(job.state), inputCommit: job.input_commit,
    outputCommit: job.output_commit, datumsTotal: job.datums_total,
    datumsProcessed: job.datums_processed, datumsSkipped: job.datums_skipped,
    datumsFailed: job.datums_failed, createdMs: Number(job.created_ms),
    startedMs: Number(job.started_ms), finishedMs: Number(job.finished_ms), error: job.error,
  };
}

type UnaryMethod = {
  [M in PpsMethodName]: (typeof ppsMethods)[M] extends "unary" ? M : never;
}[PpsMethodName];

type UnaryFunction = (request: unknown, options: CallOptions,
  callback: (error: ServiceError | null, response?: unknown) => void) => unknown;
type ServerStreamFunction = (request: unknown, options: CallOptions) => unknown;

/** Where a client connects and how long its unary calls may take. */
export interface PpsClientOptions {
  /** host:port of a pfsd's --pfs-address. */
  readonly address: string;
  readonly callDeadlineMs: number;
  /** Plaintext when absent. */
  readonly credentials?: ChannelCredentials;
}

export class PpsClient {
  readonly address: string;
  readonly #client: Client;
  readonly #callDeadlineMs: number;
  readonly #secure: boolean;

  constructor(options: PpsClientOptions) {
    assert(Number.isSafeInteger(options.callDeadlineMs) && options.callDeadlineMs > 0,
      () => `call deadline ${options.callDeadlineMs}`);
    const { Client: ApiClient } = loadPpsService();
    const channelCredentials = options.credentials ?? credentials.createInsecure();
    this.address = options.address;
    this.#callDeadlineMs = options.callDeadlineMs;
    this.#secure = channelCredentials._isSecure();
    this.#client = new ApiClient(options.address, channelCredentials);
  }

  close(): void {
    this.#client.close();
  }

  #method(name: PpsMethodName): (...args: unknown[]) => unknown {
    const method = (this.#client as unknown as Record<string, unknown>)[name];
    assert(typeof method === "function", () => `pps.API client lacks ${name}`);
    return (method as (...args: unknown[]) => unknown).bind(this.#client);
  }

  #unary<M extends UnaryMethod>(name: M, request: PpsMessages[M][0]):
    Promise<PpsMessages[M][1]> {
    const call = this.#method(name) as UnaryFunction;
    return new Promise((resolve, reject) => {
      call(request, { deadline: Date.now() + this.#callDeadlineMs }, (error, response) => {
        if (error !== null) reject(clientError(error, name, this.address, this.#secure));
        else resolve(response as PpsMessages[M][1]);
      });
    });
  }

  createPipeline(specText: string): Promise<PipelineInfoMessage> {
    return this.#unary("CreatePipeline", { spec_text: specText });
  }

  updatePipeline(specText: string, reprocess: boolean): Promise<PipelineInfoMessage> {
    return this.#unary("UpdatePipeline", { spec_text: specText, reprocess });
  }

  inspectPipeline(name: string): Promise<PipelineInfoMessage> {
    return this.#unary("InspectPipeline", { name });
  }

  async listPipeline(): Promise<PipelineInfoMessage[]> {
    return (await this.#unary("ListPipeline", {})).pipelines;
  }

  async deletePipeline(name: string): Promise<number> {
    return (await this.#unary("DeletePipeline", { name })).jobs_deleted;
  }

  /** Jobs newest first, of `pipeline` ("" = every pipeline). */
  async listJob(pipeline: string): Promise<JobInfoMessage[]> {
    return (await this.#unary("ListJob", { pipeline })).jobs;
  }

  inspectJob(id: string): Promise<JobInfoMessage> {
    return this.#unary("InspectJob", { id });
  }

  /** The datum logs of `pipeline`'s jobs (or of job `job`), as the server streams them. */
  async *getLogs(pipeline: string, job: string): AsyncGenerator<LogEntryMessage> {
    await new Promise<void>((resolve, reject) => {
      this.#client.waitForReady(Date.now() + this.#callDeadlineMs, (error) => {
        if (error === undefined) resolve();
        else reject(new PfsError("UNAVAILABLE", `cannot reach the pfs API at ${this.address} ` +
          `(GetLogs): no gRPC connection within ${this.#callDeadlineMs} ms`));
      });
    });
    const call = (this.#method("GetLogs") as ServerStreamFunction)({ pipeline, job }, {}) as
      ClientReadableStream<LogEntryMessage>;
    try {
      for await (const entry of call) yield entry as LogEntryMessage;
    } catch (error: unknown) {
      throw clientError(error, "GetLogs", this.address, this.#secure);
    } finally {
      call.cancel();
    }
  }
}
