/**
 * A server-side watch for the Lock and Election services: one backend WatchStream with one
 * watcher, read as a sequence of responses. It stops at `close()` or when `signal` aborts;
 * a compaction cancel is reported as ETCD_COMPACTED, as the Go client reports it.
 */
import { EtcdError, PfsError } from "../../common/index.js";
import type { CallContext, EtcdBackend } from "../backend.js";
import {
  type WatchCreateRequest,
  type WatchResponse,
  type WatchStream,
} from "../watch/index.js";

export class KeyWatch {
  readonly #backend: EtcdBackend;
  readonly #stream: WatchStream;
  readonly #queue: WatchResponse[] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  /** Opens the watch; throws the permission refusal as ETCD_PERMISSION_DENIED. */
  constructor(backend: EtcdBackend, context: CallContext, request: WatchCreateRequest) {
    this.#backend = backend;
    this.#stream = backend.watchOpen(() => {
      this.#pull();
    });
    const reason = backend.watchCreate(context, this.#stream, request);
    if (reason !== undefined) {
      this.close();
      throw new EtcdError("ETCD_PERMISSION_DENIED");
    }
    this.#pull();
  }

  #pull(): void {
    if (this.#closed) return;
    while (this.#stream.pending > 0) this.#queue.push(...this.#stream.take());
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** The next response with events (created and progress responses are skipped). */
  async next(signal: AbortSignal): Promise<WatchResponse> {
    for (;;) {
      if (signal.aborted || this.#closed) throw new PfsError("UNAVAILABLE", "watch closed");
      const response = this.#queue.shift();
      if (response?.canceled === true) throw new EtcdError("ETCD_COMPACTED");
      if (response !== undefined && response.events.length > 0) return response;
      if (response !== undefined) continue;
      await this.#wait(signal);
    }
  }

  #wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#wake = done;
      signal.addEventListener("abort", done, { once: true });
      if (this.#stream.catchingUp) {
        setImmediate(() => {
          if (this.#closed) return;
          this.#stream.catchUp();
          this.#pull();
        });
      }
    });
  }

  /** Closes the backend stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backend.watchClose(this.#stream);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
