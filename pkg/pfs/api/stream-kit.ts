/**
 * Flow control for pfs's gRPC streams, so memory stays flat whatever the file size: a writer
 * waits for 'drain' whenever grpc-js reports its buffer full (HTTP/2 flow control then holds
 * the sender), a reader pulls messages one at a time through async iteration (the stream
 * pauses while the consumer is busy), and data is cut into messages of at most
 * streamMessageBytesMax bytes. A failed stream ends with its status at once (`endWithStatus`).
 * A put's data is handed on as a `FirstPull`, which tells whether anyone has asked it for a piece
 * yet: until then the data is untouched and the put may go elsewhere (shard-router.ts).
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { PfsError } from "../../common/index.js";
import { streamMessageBytesMax } from "./limits.js";

/**
 * Ends a server stream with an error status, promptly. grpc-js sends a server stream's status
 * from the stream's `_final`, which `destroy` skips: the client would then wait for its
 * deadline. Emitting 'error' makes grpc-js record the status and end the stream, so the status
 * follows the messages already written. A stream already ended or gone is left alone.
 */
export function endWithStatus(stream: Writable, status: Error): void {
  if (stream.writableEnded || stream.destroyed) return;
  stream.emit("error", status);
}

/** Writes one message, resolving once the stream can take more. */
export async function writeMessage(stream: Writable, message: unknown): Promise<void> {
  if (stream.destroyed) throw new PfsError("UNAVAILABLE", "the stream was cancelled");
  if (!stream.write(message)) {
    await Promise.race([once(stream, "drain"), once(stream, "close")]);
  }
}

/** `data` re-cut into pieces of at most streamMessageBytesMax bytes. */
export async function* boundedPieces(data: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  for await (const piece of data) {
    const buffer = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    for (let start = 0; start < buffer.length; start += streamMessageBytesMax) {
      yield buffer.subarray(start, Math.min(buffer.length, start + streamMessageBytesMax));
    }
  }
}

/**
 * The data parts of a stream whose first message was a header: every later message must be
 * data (INVALID_ARGUMENT otherwise).
 */
export async function* dataParts<M extends { part: string; data?: Buffer | null }>(
  messages: AsyncIterator<M>,
): AsyncIterable<Buffer> {
  for (;;) {
    const next = await messages.next();
    if (next.done === true) return;
    const message = next.value;
    if (message.part !== "data" || message.data === null || message.data === undefined) {
      throw new PfsError("INVALID_ARGUMENT", "a put stream has a second header; send one header, then data");
    }
    yield message.data;
  }
}

/**
 * `source` as an async iterable that records its first pull: `pulled` turns true, and `onFirst`
 * runs, when a consumer first asks for an item (not when it merely opens an iterator). Until
 * then nothing of `source` has been read, so a caller may hand it to another consumer. Iterate
 * it at most once: a second iteration would read on from where the first stopped.
 */
export class FirstPull<T> implements AsyncIterable<T> {
  readonly #source: AsyncIterable<T>;
  readonly #onFirst: (() => void) | undefined;
  /** True from the first `next()` on. */
  #pulled = false;

  constructor(source: AsyncIterable<T>, onFirst?: () => void) {
    this.#source = source;
    this.#onFirst = onFirst;
  }

  get pulled(): boolean {
    return this.#pulled;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#items();
  }

  async* #items(): AsyncGenerator<T> {
    // A generator's body runs at the first next(): that is the first pull.
    this.#pulled = true;
    this.#onFirst?.();
    yield* this.#source;
  }
}
