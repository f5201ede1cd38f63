/**
 * PfsErrors across gRPC: the server side turns any thrown value into a status with
 * `toGrpcStatus` and adds the pfs code in the `pfs-code` trailer; the client side (RemoteShard)
 * rebuilds the same PfsError from it, so an error raised on another node reaches the user with
 * its code and message unchanged. A status without a known code becomes UNAVAILABLE (the node
 * could not be reached or died mid-call).
 */
import {
  Metadata, type ServerErrorResponse, type ServiceError, status as grpcStatus,
} from "@grpc/grpc-js";
import {
  type ErrorCode, GrpcStatus, type Logger, PfsError, errorTable, toGrpcStatus,
} from "../../common/index.js";

const codeKey = "pfs-code";

/** The status to send for `error`; an error that is not a PfsError is logged (a bug). */
export function statusOf(error: unknown, logger: Logger, method: string): ServerErrorResponse {
  const wire = toGrpcStatus(error);
  const metadata = new Metadata();
  if (error instanceof PfsError) {
    metadata.set(codeKey, error.code);
  } else {
    logger.error("unexpected error in a pfs call", { method, error });
  }
  // GrpcStatus has grpc-js's names and numbers (test/unit/common/errors.test.ts checks it).
  const code = grpcStatus[GrpcStatus[wire.code] as keyof typeof grpcStatus];
  return Object.assign(new Error(wire.message), { code, details: wire.message, metadata });
}

function isErrorCode(text: string): text is ErrorCode {
  return Object.hasOwn(errorTable, text);
}

/** The PfsError a failed call to another node stands for. */
export function errorOfStatus(error: unknown, what: string): PfsError {
  if (error instanceof PfsError) return error;
  const service = error as Partial<ServiceError>;
  const code = service.metadata?.get(codeKey)[0];
  const message = typeof service.details === "string" ? service.details : String(error);
  if (typeof code === "string" && isErrorCode(code)) return new PfsError(code, message);
  return new PfsError("UNAVAILABLE", `${what}: ${message}`);
}
