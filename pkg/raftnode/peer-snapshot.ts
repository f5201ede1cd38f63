/**
 * Streams one snapshot message to a peer on the Snapshot RPC, in chunks of
 * raftSnapshotChunkBytes, honouring the call's flow control (waits for 'drain'). The first
 * chunk carries the total size and a SHA-256 of the whole message so the receiver can check
 * the reassembled bytes. The transfer has a deadline of raftSnapshotSendMsMax.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import { assert, limits, type Clock } from "../common/index.js";
import { encodeChunk } from "./transport-proto.js";

/** What one snapshot transfer needs. */
export interface SnapshotSendOptions {
  readonly client: grpc.Client;
  readonly service: grpc.ServiceDefinition;
  readonly metadata: grpc.Metadata;
  readonly clock: Clock;
  /** Aborting cancels the call (transport close). */
  readonly signal: AbortSignal;
}

/**
 * Sends `bytes` (an encoded snapshot message). Resolves true when the receiver answered that
 * it reassembled and checked the whole message, false on any failure; never rejects.
 */
export async function sendSnapshot(
  bytes: Uint8Array,
  options: SnapshotSendOptions,
): Promise<boolean> {
  const method = options.service["Snapshot"];
  assert(method !== undefined, "RaftPeer service has no Snapshot method");
  let settle: (delivered: boolean) => void = () => undefined;
  const answered = new Promise<boolean>((resolve) => { settle = resolve; });
  const call = options.client.makeClientStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    options.metadata,
    { deadline: options.clock.wallMs() + limits.raftSnapshotSendMsMax },
    (error: grpc.ServiceError | null) => { settle(error === null); },
  );
  const onAbort = (): void => { call.cancel(); };
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await writeChunks(call, bytes, answered);
    call.end();
  } catch {
    call.cancel();
  }
  const delivered = await answered;
  options.signal.removeEventListener("abort", onAbort);
  return delivered;
}

/** Writes every chunk; stops early when the call was answered (failed) while waiting. */
async function writeChunks(
  call: grpc.ClientWritableStream<unknown>,
  bytes: Uint8Array,
  answered: Promise<boolean>,
): Promise<void> {
  const sha256 = createHash("sha256").update(bytes).digest();
  const chunkBytes = limits.raftSnapshotChunkBytes;
  let offset = 0;
  do {
    const data = bytes.subarray(offset, offset + chunkBytes);
    const first = offset === 0;
    const chunk = encodeChunk({
      offset,
      totalBytes: first ? bytes.length : 0,
      sha256: first ? sha256 : new Uint8Array(0),
      data,
    });
    offset += data.length;
    if (!call.write(chunk)) {
      const drained = once(call, "drain").then(() => true, () => false);
      if (!await Promise.race([drained, answered.then(() => false)])) return;
    }
  } while (offset < bytes.length);
  assert(offset === bytes.length, () => `snapshot sent ${offset} of ${bytes.length} bytes`);
}
