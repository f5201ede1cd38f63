/**
 * The plumbing every etcd gRPC handler shares (STYLE rule 13: validate, call, map the error,
 * fill the header): the call context from metadata, the `hasleader` and learner gates, etcd's
 * max-request-bytes check, header filling, and the one mapping of thrown errors to a gRPC
 * status (toGrpcStatus; an error that is not a PfsError is a bug and is logged).
 */
import type {
  Metadata,
  ServerErrorResponse,
  ServerUnaryCall,

  handleUnaryCall,
  sendUnaryData,
} from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import {
  EtcdError,
  GrpcStatus,
  type Logger,
  type WireStatus,
  toGrpcStatus,
} from "../../common/index.js";
import type { CallContext, EtcdBackend } from "../backend.js";
import { type HeaderFill, encodeHeader } from "../kv-response-codec.js";
import { type WireMessage, messageOf } from "../wire-fields.js";
import type { GrpcCounters, MethodLabel } from "./grpc-counters.js";
import { peerCommonNameKey } from "./client-front.js";
import { proposalBytes, requestBytesOf } from "./request-size.js";
import { revision } from "../../common/index.js";

/** What every service needs; one per server. */
export interface ServiceKit {
  readonly backend: EtcdBackend;
  readonly logger: Logger;
  readonly counters: GrpcCounters;
  /** etcd's --max-request-bytes: a bigger proposal is refused with "request is too large". */
  readonly requestBytesMax: number;
}

/** The first value of a metadata key, as a string. */
function metadataValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.toString("utf8");
}

/** A call as the context needs it: its metadata and (for TLS) the peer certificate. */
export interface ContextSource {
  readonly metadata: Metadata;
  getAuthContext(): { readonly sslPeerCertificate?: { readonly subject?: { CN?: unknown } } };
}

/**
 * The `token` metadata and a verified client certificate's common name: from the client
 * front (which terminates TLS), or from grpc-js when it terminated TLS itself.
 */
export function callContext(call: ContextSource): CallContext {
  const fromFront = metadataValue(call.metadata, peerCommonNameKey);
  const fromGrpc = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  let commonName: string | undefined;
  if (fromFront !== undefined && fromFront !== "") commonName = decodeURIComponent(fromFront);
  else if (typeof fromGrpc === "string" && fromGrpc !== "") commonName = fromGrpc;
  return { token: metadataValue(call.metadata, "token"), certCommonName: commonName };
}

/** Whether the client asked for a leader (`hasleader: true`, etcd-api.md §3). */
export function requiresLeader(metadata: Metadata): boolean {
  return metadataValue(metadata, "hasleader") === "true";
}

/** The header fields the services own, read now. */
export function headerFill(backend: EtcdBackend): HeaderFill {
  return {
    clusterId: backend.clusterId,
    memberId: backend.memberId,
    raftTerm: BigInt(backend.raftTerm()),
  };
}

/** A full ResponseHeader at `at` (default: the current revision). */
export function currentHeader(backend: EtcdBackend, at?: number): object {
  return encodeHeader({ revision: revision(at ?? backend.revision()) }, headerFill(backend));
}

/** Refuses a proposal bigger than --max-request-bytes, measured as etcd measures it. */
export function checkProposalSize(kit: ServiceKit, request: unknown): void {
  if (proposalBytes(requestBytesOf(request)) > kit.requestBytesMax) {
    throw new EtcdError("ETCD_REQUEST_TOO_LARGE");
  }
}

/** Maps a thrown value to its status, logging the ones that are bugs. */
export function wireStatusOf(kit: ServiceKit, label: MethodLabel, error: unknown): WireStatus {
  const wire = toGrpcStatus(error);
  if (!wire.known) {
    kit.logger.error("unexpected error in an etcd RPC", {
      method: `${label.service}/${label.method}`,
      error,
      stack: error instanceof Error ? error.stack : undefined,
    });
  }
  return wire;
}

/** A grpc-js error response for `wire`. */
export function serviceError(wire: WireStatus): ServerErrorResponse {
  // GrpcStatus has grpc-js's names and numbers (test/unit/common/errors.test.ts checks it).
  const code = grpcStatus[GrpcStatus[wire.code] as keyof typeof grpcStatus];
  return Object.assign(new Error(wire.message), { code, details: wire.message });
}

/** Gates that run before any handler: learner support and `hasleader`. */
export function checkGates(
  kit: ServiceKit,
  metadata: Metadata,
  learnerAllowed: boolean,
): void {
  if (kit.backend.isLearner() && !learnerAllowed) {
    throw new EtcdError("ETCD_LEARNER_NOT_SUPPORTED");
  }
  if (requiresLeader(metadata) && !kit.backend.hasLeader()) {
    throw new EtcdError("ETCD_NO_LEADER");
  }
}

/** Options of one unary method. */
export interface UnaryOptions {
  /** Whether a learner serves this request (etcd 3.4: Status and serializable Range). */
  readonly learnerAllowed?: (request: WireMessage) => boolean;
}

/** The answer of a unary handler: the response object, or a thrown error. */
export type UnaryHandler = (
  request: WireMessage,
  context: CallContext,
  /** Aborts when the client cancels the call. */
  signal: AbortSignal,
) => Promise<object>;

/** A grpc-js unary handler around `handle`, with the gates, counters and error mapping. */
export function unaryCall(
  kit: ServiceKit,
  label: MethodLabel,
  handle: UnaryHandler,
  options: UnaryOptions = {},
): handleUnaryCall<unknown, object> {
  return (call: ServerUnaryCall<unknown, object>, callback: sendUnaryData<object>): void => {
    kit.counters.started(label);
    const cancel = new AbortController();
    call.on("cancelled", () => {
      cancel.abort();
    });
    const answer = async (): Promise<object> => {
      const request = messageOf(call.request, "request");
      checkGates(kit, call.metadata, options.learnerAllowed?.(request) ?? false);
      return handle(request, callContext(call), cancel.signal);
    };
    answer().then(
      (response) => {
        kit.counters.handled(label, GrpcStatus.OK);
        callback(null, response);
      },
      (error: unknown) => {
        const wire = wireStatusOf(kit, label, error);
        kit.counters.handled(label, wire.code);
        callback(serviceError(wire));
      },
    );
  };
}
