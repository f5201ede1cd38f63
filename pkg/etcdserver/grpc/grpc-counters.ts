/**
 * Counters of the etcd gRPC services, named and labelled as go-grpc-prometheus's (which etcd
 * uses): grpc_server_started_total{grpc_type, grpc_service, grpc_method} and
 * grpc_server_handled_total{…, grpc_code}, registered on the registry they are given (one per
 * process, see member-metrics.ts). Label sets are bounded: methods and status codes are
 * finite.
 */
import { Counter, Registry } from "prom-client";
import { GrpcStatus } from "../../common/index.js";

/** One RPC method: its service ("etcdserverpb.KV") and name ("Range"), and its kind. */
export interface MethodLabel {
  readonly service: string;
  readonly method: string;
  readonly type: "unary" | "client_stream" | "server_stream" | "bidi_stream";
}

type MethodLabelName = "grpc_type" | "grpc_service" | "grpc_method";

function labelsOf(label: MethodLabel): Record<MethodLabelName, string> {
  return { grpc_type: label.type, grpc_service: label.service, grpc_method: label.method };
}

export class GrpcCounters {
  readonly #started: Counter<MethodLabelName>;
  readonly #handled: Counter<MethodLabelName | "grpc_code">;

  /** Registers the counters on `registry` (a private one when none is given). */
  constructor(registry: Registry = new Registry()) {
    this.#started = new Counter({
      name: "grpc_server_started_total", help: "Total number of RPCs started on the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"], registers: [registry],
    });
    this.#handled = new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
      registers: [registry],
    });
  }

  /** An RPC began. */
  started(label: MethodLabel): void {
    this.#started.inc(labelsOf(label));
  }

  /** An RPC ended with `code` (its name as gRPC spells it: OK, NotFound, …). */
  handled(label: MethodLabel, code: GrpcStatus): void {
    this.#handled.inc({ ...labelsOf(label), grpc_code: grpcCodeName(code) });
  }
}

/** Go's codes.Code.String() of every status, the grpc_code label go-grpc-prometheus writes. */
const goCodeNames: Readonly<Record<GrpcStatus, string>> = {
  [GrpcStatus.OK]: "OK", [GrpcStatus.CANCELLED]: "Canceled", [GrpcStatus.UNKNOWN]: "Unknown",
  [GrpcStatus.INVALID_ARGUMENT]: "InvalidArgument",
  [GrpcStatus.DEADLINE_EXCEEDED]: "DeadlineExceeded", [GrpcStatus.NOT_FOUND]: "NotFound",
  [GrpcStatus.ALREADY_EXISTS]: "AlreadyExists", [GrpcStatus.PERMISSION_DENIED]: "PermissionDenied",
  [GrpcStatus.RESOURCE_EXHAUSTED]: "ResourceExhausted",
  [GrpcStatus.FAILED_PRECONDITION]: "FailedPrecondition", [GrpcStatus.ABORTED]: "Aborted",
  [GrpcStatus.OUT_OF_RANGE]: "OutOfRange", [GrpcStatus.UNIMPLEMENTED]: "Unimplemented",
  [GrpcStatus.INTERNAL]: "Internal", [GrpcStatus.UNAVAILABLE]: "Unavailable",
  [GrpcStatus.DATA_LOSS]: "DataLoss", [GrpcStatus.UNAUTHENTICATED]: "Unauthenticated",
};

/** The grpc_code label of `code` ("NotFound"), as go-grpc-prometheus spells it. */
export function grpcCodeName(code: GrpcStatus): string {
  return goCodeNames[code];
}
