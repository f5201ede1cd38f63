/**
 * The receiving side of the gRPC peer transport: the RaftPeer service handlers. Each call's
 * headers are checked first (cluster id, sender id); a call from another cluster is refused
 * with FAILED_PRECONDITION before anything is read. Stream frames go to the handler in
 * order; when the handler asks for push-back, the stream is paused until it has room.
 * Snapshot chunks are reassembled (bounded by raftSnapshotBytesMax), checked against the
 * sender's SHA-256, and delivered as one message.
 */
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { formatHexId, limits, type Logger, type NodeId } from "../common/index.js";
import type { TransportHandler } from "./transport.js";
import {
  clusterIdHeader, decodeChunk, decodeFrame, parseIdHeader, senderIdHeader,
} from "./transport-proto.js";

/** What the handlers need; `handler()` is undefined before start and after close. */
export interface ReceiverOptions {
  readonly clusterId: bigint;
  readonly logger: Logger;
  readonly handler: () => TransportHandler | undefined;
}

/** The sender of a call whose headers check out, or a status to refuse it with. */
function checkHeaders(
  metadata: grpc.Metadata,
  clusterId: bigint,
): { sender: NodeId } | { refusal: Partial<grpc.StatusObject> } {
  const cluster = parseIdHeader(metadata.get(clusterIdHeader)[0]);
  const sender = parseIdHeader(metadata.get(senderIdHeader)[0]);
  if (cluster !== clusterId) {
    return {
      refusal: {
        code: grpc.status.FAILED_PRECONDITION,
        details: `cluster id mismatch: this member is in cluster ${formatHexId(clusterId)}, ` +
          `the sender in ${String(metadata.get(clusterIdHeader)[0])}`,
      },
    };
  }
  if (sender === undefined || sender === 0n) {
    return { refusal: { code: grpc.status.INVALID_ARGUMENT, details: "missing sender id" } };
  }
  return { sender };
}

/** The RaftPeer service implementation. */
export function raftPeerHandlers(options: ReceiverOptions): grpc.UntypedServiceImplementation {
  return {
    Stream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      handleStream(call, options);
    },
    Snapshot: (
      call: grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      handleSnapshot(call, callback, options);
    },
  };
}

function handleStream(call: grpc.ServerDuplexStream<unknown, unknown>, options: ReceiverOptions) {
  const checked = checkHeaders(call.metadata, options.clusterId);
  if ("refusal" in checked) {
    options.logger.warn("refused a peer stream", { reason: checked.refusal.details });
    call.emit("error", checked.refusal);
    return;
  }
  call.write({});
  call.on("data", (value: unknown) => {
    const messages = decodeFrame(value);
    const handler = options.handler();
    if (messages === undefined || handler === undefined) {
      call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "malformed frame" });
      return;
    }
    const room = handler.receive(checked.sender, messages);
    if (room !== undefined) {
      call.pause();
      room.then(() => call.resume(), () => call.resume());
    }
  });
  call.on("end", () => { call.end(); });
  call.on("error", () => undefined);
}

/** Reassembly state of one incoming snapshot. */
interface Reassembly {
  buffer: Buffer;
  sha256: Uint8Array;
  received: number;
}

function handleSnapshot(
  call: grpc.ServerReadableStream<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
  options: ReceiverOptions,
): void {
  const checked = checkHeaders(call.metadata, options.clusterId);
  if ("refusal" in checked) {
    callback(checked.refusal);
    return;
  }
  let reassembly: Reassembly | undefined;
  let failed = false;
  const fail = (details: string): void => {
    if (failed) return;
    failed = true;
    options.logger.warn("refused a snapshot", { sender: formatHexId(checked.sender), details });
    callback({ code: grpc.status.INVALID_ARGUMENT, details });
  };
  call.on("data", (value: unknown) => {
    if (failed) return;
    const next = addChunk(reassembly, value);
    if (typeof next === "string") fail(next);
    else reassembly = next;
  });
  call.on("end", () => {
    if (failed) return;
    const whole = finish(reassembly);
    const handler = options.handler();
    if (typeof whole === "string") fail(whole);
    else if (handler === undefined) fail("member is closed");
    else {
      void handler.receive(checked.sender, [whole]);
      callback(null, {});
    }
  });
  call.on("error", () => { failed = true; });
}

/** The reassembly with chunk `value` added, or why it is refused. */
function addChunk(reassembly: Reassembly | undefined, value: unknown): Reassembly | string {
  const chunk = decodeChunk(value);
  if (chunk === undefined) return "malformed snapshot chunk";
  if (reassembly === undefined) {
    if (chunk.offset !== 0) return `first chunk at offset ${chunk.offset}`;
    if (chunk.totalBytes > limits.raftSnapshotBytesMax) {
      return `snapshot of ${chunk.totalBytes} B above ${limits.raftSnapshotBytesMax} B`;
    }
    if (chunk.sha256.length !== 32) return "first chunk without a sha256";
    reassembly = { buffer: Buffer.alloc(chunk.totalBytes), sha256: chunk.sha256, received: 0 };
  }
  if (chunk.offset !== reassembly.received) {
    return `chunk at offset ${chunk.offset}, expected ${reassembly.received}`;
  }
  if (chunk.offset + chunk.data.length > reassembly.buffer.length) {
    return `chunk past the declared ${reassembly.buffer.length} B`;
  }
  reassembly.buffer.set(chunk.data, chunk.offset);
  reassembly.received += chunk.data.length;
  return reassembly;
}

/** The whole message, or why it is refused. */
function finish(reassembly: Reassembly | undefined): Uint8Array | string {
  if (reassembly === undefined) return "snapshot stream without chunks";
  if (reassembly.received !== reassembly.buffer.length) {
    return `snapshot truncated: ${reassembly.received} of ${reassembly.buffer.length} B`;
  }
  const digest = createHash("sha256").update(reassembly.buffer).digest();
  if (!digest.equals(reassembly.sha256)) return "snapshot checksum mismatch";
  return reassembly.buffer;
}
