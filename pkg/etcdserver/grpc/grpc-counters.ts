/**
 * Counters of the etcd gRPC services, named as etcd's go-grpc-prometheus metrics
 * (grpc_server_started_total, grpc_server_handled_total), rendered in the Prometheus text
 * format for /metrics. Label sets are bounded: methods and status codes are finite.
 */
import { GrpcStatus } from "../../common/index.js";

/** One RPC method: its service ("etcdserverpb.KV") and name ("Range"), and its kind. */
export interface MethodLabel {
  readonly service: string;
  readonly method: string;
  readonly type: "unary" | "client_stream" | "server_stream" | "bidi_stream";
}

function labelKey(label: MethodLabel): string {
  return `grpc_method="${label.method}",grpc_service="${label.service}",grpc_type="${label.type}"`;
}

export class GrpcCounters {
  readonly #started = new Map<string, number>();
  readonly #handled = new Map<string, number>();

  /** An RPC began. */
  started(label: MethodLabel): void {
    const key = labelKey(label);
    this.#started.set(key, (this.#started.get(key) ?? 0) + 1);
  }

  /** An RPC ended with `code`. */
  handled(label: MethodLabel, code: GrpcStatus): void {
    const key = `grpc_code="${GrpcStatus[code]}",${labelKey(label)}`;
    this.#handled.set(key, (this.#handled.get(key) ?? 0) + 1);
  }

  /** The counters in the Prometheus text exposition format, sorted for stable output. */
  render(): string {
    const lines: string[] = [
      "# HELP grpc_server_started_total Total number of RPCs started on the server.",
      "# TYPE grpc_server_started_total counter",
      ...[...this.#started].sort().map(([key, value]) => `grpc_server_started_total{${key}} ${value}`),
      "# HELP grpc_server_handled_total Total number of RPCs completed on the server.",
      "# TYPE grpc_server_handled_total counter",
      ...[...this.#handled].sort().map(([key, value]) => `grpc_server_handled_total{${key}} ${value}`),
    ];
    return `${lines.join("\n")}\n`;
  }
}
