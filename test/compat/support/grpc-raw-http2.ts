// A gRPC request written by hand over node:http2, for sending bytes no gRPC library would: a
// frame whose protobuf body is invalid, a frame cut short, a compressed flag with no encoding.
// The outcome is what a client sees: the grpc-status and grpc-message (from the trailers, or
// from the headers of a trailers-only response) and whether a response message came back.
import { connect, constants } from "node:http2";

/** How long a raw request may take. */
const rawRequestMsMax = 15_000;

/** The status a server answered with. */
export interface RawGrpcOutcome {
  readonly grpcStatus: string | null;
  readonly grpcMessage: string | null;
  /** Whether any response message came back (its bytes hold member IDs, so not compared). */
  readonly answered: boolean;
}

/** A gRPC length-prefixed message: flag byte, 32-bit big-endian length, then the bytes. */
export function grpcFrame(body: Uint8Array, compressed = false, length = body.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(compressed ? 1 : 0, 0);
  prefix.writeUInt32BE(length, 1);
  return Buffer.concat([prefix, body]);
}

function headerText(value: string | string[] | number | undefined): string | null {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value.join(",") : String(value);
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** POSTs `payload` as the whole body of a gRPC call to `path` ("/etcdserverpb.KV/Range"). */
export function rawGrpcRequest(
  address: string, path: string, payload: Buffer, extraHeaders: Record<string, string> = {},
): Promise<RawGrpcOutcome> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`raw gRPC request to ${path} timed out`));
    }, rawRequestMsMax);
    const status: { code: string | null; message: string | null } = { code: null, message: null };
    let bodyBytes = 0;
    const take = (headers: Record<string, string | string[] | number | undefined>): void => {
      status.code = headerText(headers["grpc-status"]) ?? status.code;
      status.message = headerText(headers["grpc-message"]) ?? status.message;
    };
    session.on("error", (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST", [constants.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc", te: "trailers", ...extraHeaders,
    });
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    stream.on("error", () => undefined);
    stream.on("close", () => {
      clearTimeout(timer);
      session.close();
      // A message on status OK means nothing to clients (grpc-go sends "", grpc-js "OK").
      const grpcMessage = status.code === "0" ? null : status.message;
      resolve({ grpcStatus: status.code, grpcMessage, answered: bodyBytes > 0 });
    });
    stream.end(payload);
  });
}
