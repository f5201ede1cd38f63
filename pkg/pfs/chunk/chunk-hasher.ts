/**
 * A chunk hasher: sha256 of chunks and of whole streams on a worker thread (hash-thread.ts),
 * so that for a big file the main thread only cuts chunks and copies bytes while the other
 * core hashes, instead of hashing every byte twice itself (the chunk's id and the file's hash
 * are two sha256 passes, most of a put's CPU).
 *
 * A stream (`openStream`) takes the chunks of one file in order: `name(bytes)` resolves to
 * the chunk's id, `finish()` to the sha256 of all of them together. Chunks in shared memory
 * (a buffer pool's) reach the worker without a copy, and must not change until named; other
 * bytes are copied.
 *
 * Lifetime: the worker starts on first use and stops after `chunkHasherIdleMs` without work;
 * while it has none it does not keep the process alive. If it dies, every outstanding request
 * rejects with INTERNAL and the next one starts a new worker. Invariants: answers for a stream
 * arrive in request order, so each stream's waiting requests are a queue; `#outstanding` is
 * the number of unanswered requests over all streams.
 */
import { Worker } from "node:worker_threads";
import { PfsError, assert } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import type { HashAnswer, HashRequest } from "./hash-thread.js";
import { chunkHasherIdleMs } from "./limits.js";

interface Waiter {
  readonly resolve: (value: string) => void;
  readonly reject: (error: unknown) => void;
}

export class ChunkHasher {
  #worker: Worker | undefined;
  #nextStream = 1;
  /** Per stream with requests in flight: their waiters, oldest first. */
  readonly #waiting = new Map<number, Waiter[]>();
  #outstanding = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  /** A new stream of chunks to name and hash together. */
  openStream(): HashStream {
    const stream = this.#nextStream;
    this.#nextStream += 1;
    return new HashStream(stream, (request) => this.#ask(request),
      (request) => this.#worker?.postMessage(request));
  }

  /** Stops the worker (outstanding requests reject); the next request starts another. */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    this.#worker = undefined;
    this.#rejectAll(new PfsError("INTERNAL", "chunk hasher closed"));
    if (worker !== undefined) await worker.terminate();
  }

  #ask(request: HashRequest): Promise<string> {
    const worker = this.#started();
    return new Promise<string>((resolve, reject) => {
      const queue = this.#waiting.get(request.stream) ?? [];
      queue.push({ resolve, reject });
      this.#waiting.set(request.stream, queue);
      this.#outstanding += 1;
      clearTimeout(this.#idleTimer);
      worker.ref();
      if ("bytes" in request && !(request.bytes.buffer instanceof SharedArrayBuffer)) {
        // Structured cloning copies a view's whole buffer: send just the view's bytes.
        worker.postMessage({ stream: request.stream, bytes: request.bytes.slice() });
      } else {
        worker.postMessage(request);
      }
    });
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(new URL("./hash-thread.js", import.meta.url));
    worker.on("message", (answer: HashAnswer) => { this.#answered(answer); });
    const fail = (reason: string): void => {
      if (this.#worker !== worker) return; // Closed already (its waiters were rejected then).
      this.#worker = undefined;
      this.#rejectAll(new PfsError("INTERNAL", `chunk hasher thread ${reason}`));
    };
    worker.on("error", (error) => { fail(`failed: ${error.message}`); });
    worker.on("exit", (code) => { fail(`exited with code ${code}`); });
    this.#worker = worker;
    return worker;
  }

  #answered(answer: HashAnswer): void {
    const queue = this.#waiting.get(answer.stream);
    const waiter = queue?.shift();
    assert(queue !== undefined && waiter !== undefined,
      () => `a hash answer for stream ${answer.stream} that asked nothing`);
    if (queue.length === 0) this.#waiting.delete(answer.stream);
    this.#outstanding -= 1;
    if (this.#outstanding === 0) this.#idle();
    waiter.resolve("id" in answer ? answer.id : answer.hash);
  }

  /** No work: let the process exit, and stop the worker if none comes for a while. */
  #idle(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    worker.unref();
    this.#idleTimer = setTimeout(() => {
      if (this.#outstanding === 0 && this.#worker === worker) void this.close();
    }, chunkHasherIdleMs);
    this.#idleTimer.unref();
  }

  #rejectAll(error: PfsError): void {
    const waiters = [...this.#waiting.values()].flat();
    this.#waiting.clear();
    this.#outstanding = 0;
    for (const waiter of waiters) waiter.reject(error);
  }
}

/** One stream of a `ChunkHasher`: the chunks of one file, in order. */
export class HashStream {
  readonly #stream: number;
  readonly #ask: (request: HashRequest) => Promise<string>;
  readonly #tell: (request: HashRequest) => void;
  #ended = false;

  constructor(stream: number, ask: (request: HashRequest) => Promise<string>,
    tell: (request: HashRequest) => void) {
    this.#stream = stream;
    this.#ask = ask;
    this.#tell = tell;
  }

  /** The id (sha256) of the next chunk of the stream, which `bytes` holds. */
  async name(bytes: Uint8Array): Promise<Sha256Hex> {
    assert(!this.#ended, "name after the stream ended");
    return await this.#ask({ stream: this.#stream, bytes });
  }

  /** Ends the stream: the sha256 of all its chunks, in the order they were named. */
  async finish(): Promise<Sha256Hex> {
    assert(!this.#ended, "finish of an ended stream");
    this.#ended = true;
    return await this.#ask({ stream: this.#stream, end: true });
  }

  /** Ends the stream without its hash (a failed write): the worker forgets it. */
  drop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#tell({ stream: this.#stream, drop: true });
  }
}
