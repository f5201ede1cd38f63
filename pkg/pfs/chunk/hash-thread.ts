/**
 * The body of a chunk hasher's worker thread (chunk-hasher.ts): it names chunks (sha256 of
 * each) and hashes whole streams (sha256 of all their chunks in order), so the main thread
 * only cuts and copies. Chunks in a pool's shared buffers arrive without a copy.
 *
 * Protocol (one message port, the parent's): `{ stream, bytes }` adds the next chunk of
 * `stream` and is answered `{ stream, id }`; `{ stream, end: true }` ends it, answered
 * `{ stream, hash }`; `{ stream, drop: true }` forgets it unanswered. Invariants: answers for
 * a stream come in the order of its requests (one port, handled in order); a stream's hash
 * covers exactly the chunks added before its end, in order.
 */
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/** A request from the main thread. */
export type HashRequest =
  | { readonly stream: number; readonly bytes: Uint8Array }
  | { readonly stream: number; readonly end: true }
  | { readonly stream: number; readonly drop: true };

/** An answer to the main thread. */
export type HashAnswer =
  | { readonly stream: number; readonly id: string }
  | { readonly stream: number; readonly hash: string };

function serve(port: NonNullable<typeof parentPort>): void {
  const streams = new Map<number, Hash>();
  port.on("message", (request: HashRequest) => {
    const stream = request.stream;
    if ("bytes" in request) {
      let whole = streams.get(stream);
      if (whole === undefined) {
        whole = createHash("sha256");
        streams.set(stream, whole);
      }
      whole.update(request.bytes);
      const id = createHash("sha256").update(request.bytes).digest("hex");
      port.postMessage({ stream, id } satisfies HashAnswer);
    } else if ("end" in request) {
      const hash = (streams.get(stream) ?? createHash("sha256")).digest("hex");
      streams.delete(stream);
      port.postMessage({ stream, hash } satisfies HashAnswer);
    } else {
      streams.delete(stream);
    }
  });
}

if (parentPort !== null) serve(parentPort);
