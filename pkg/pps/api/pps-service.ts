/**
 * The pps.API handlers (pkg/proto/pps.proto): each validates its request (api-wire.ts), calls
 * the PipelineService or JobLogs, and maps errors to statuses as pfs.API does (pkg/pfs
 * statusOf: the PfsError's code and message, or UNKNOWN for a bug, which is logged). GetLogs
 * honours gRPC flow control (a slow reader holds the reads back).
 *
 * The service is served from the moment the node binds its port, before the rest of pps has
 * started: until `services()` answers, a call is UNAVAILABLE ("retry").
 */
import type { ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import { type Logger, PfsError } from "../../common/index.js";
import { endWithStatus, statusOf, writeMessage } from "../../pfs/index.js";
import type {
  LogEntryMessage, PpsMessages, PpsMethodName, PpsServiceHandlers,
} from "../../proto/index.js";
import {
  jobToWire, pipelineToWire, requestJobId, requestPipelineName,
} from "./api-wire.js";
import { JobLogs } from "./job-logs.js";
import { ppsListJobsMax } from "./limits.js";
import type { PipelineService, PpsPfsClient } from "./pipeline-service.js";
import type { PipelineStore } from "./pipeline-store.js";

/** What the handlers call, once pps has started on this node. */
export interface PpsServices {
  readonly service: PipelineService;
  readonly store: PipelineStore;
  readonly pfs: PpsPfsClient;
}

type Body<M extends PpsMethodName> = (request: PpsMessages[M][0], services: PpsServices) =>
  Promise<PpsMessages[M][1]>;

/** The started services, or UNAVAILABLE while pps is still starting on this node. */
export type ServicesLookup = () => PpsServices | undefined;

function started(lookup: ServicesLookup): PpsServices {
  const services = lookup();
  if (services === undefined) {
    throw new PfsError("UNAVAILABLE", "pipelines are still starting on this node; retry");
  }
  return services;
}

function unary<M extends PpsMethodName>(name: M, lookup: ServicesLookup, logger: Logger,
  body: Body<M>) {
  return (call: { request: PpsMessages[M][0] }, callback: sendUnaryData<PpsMessages[M][1]>):
    void => {
    Promise.resolve().then(() => body(call.request, started(lookup)))
      .then((response) => { callback(null, response); },
        (error: unknown) => { callback(statusOf(error, logger, name), null); });
  };
}

async function getLogs(call: ServerWritableStream<PpsMessages["GetLogs"][0], LogEntryMessage>,
  services: PpsServices): Promise<void> {
  const pipeline = requestPipelineName(call.request.pipeline, "pipeline");
  const job = requestJobId(call.request.job, "job", true);
  const logs = new JobLogs(services.store, services.pfs, services.service);
  for await (const entry of logs.logs(pipeline, job)) {
    if (call.cancelled) return;
    await writeMessage(call, { ...entry });
  }
  call.end();
}

/** The pps.API handlers over the services `lookup` gives once pps has started. */
export function ppsApiHandlers(lookup: ServicesLookup, logger: Logger): PpsServiceHandlers {
  return {
    CreatePipeline: unary("CreatePipeline", lookup, logger, async (request, { service }) =>
      pipelineToWire({ record: await service.create(request.spec_text), lastJob: undefined })),
    UpdatePipeline: unary("UpdatePipeline", lookup, logger, async (request, { service }) => {
      const record = await service.update(request.spec_text, request.reprocess);
      return pipelineToWire({ record, lastJob: undefined });
    }),
    InspectPipeline: unary("InspectPipeline", lookup, logger, async (request, { service }) =>
      pipelineToWire(await service.inspect(requestPipelineName(request.name, "name")))),
    ListPipeline: unary("ListPipeline", lookup, logger, async (_request, { service }) =>
      ({ pipelines: (await service.list()).map(pipelineToWire) })),
    DeletePipeline: unary("DeletePipeline", lookup, logger, async (request, { service }) => {
      const deleted = await service.delete(requestPipelineName(request.name, "name"));
      return { name: deleted.name, jobs_deleted: deleted.jobsDeleted };
    }),
    ListJob: unary("ListJob", lookup, logger, async (request, { service }) => {
      const pipeline = requestPipelineName(request.pipeline, "pipeline", true);
      return { jobs: (await service.jobs(pipeline, ppsListJobsMax)).map(jobToWire) };
    }),
    InspectJob: unary("InspectJob", lookup, logger, async (request, { service }) =>
      jobToWire(await service.job(requestJobId(request.id, "id")))),
    GetLogs: (call) => {
      Promise.resolve().then(() => getLogs(call, started(lookup)))
        .catch((error: unknown) => { endWithStatus(call, statusOf(error, logger, "GetLogs")); });
    },
  };
}
