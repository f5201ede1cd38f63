// One raw Watch stream that records every response (header masked) and how the stream ended,
// for comparing the streams of two servers response by response. Creates go one at a time, each
// waiting for its created response, as etcd3 sends them.
import type { Client, ClientDuplexStream } from "@grpc/grpc-js";
import { maskHeader } from "./store-wire.js";

/** How long a wait on the stream may take before the test gives up. */
const watchWaitMsMax = 15_000;
/** How often waits poll the recorded responses. */
const watchPollMs = 10;

/** The fields of a decoded WatchResponse the recorder looks at. */
export interface WireWatchResponse {
  readonly watch_id?: string;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly events?: readonly unknown[];
}

/** A raw Watch stream and everything it received. */
export class WatchRecorder {
  /** Every response, in arrival order, header masked. */
  readonly responses: WireWatchResponse[] = [];
  /** For each response, the value of `stamp` when it arrived (the test's op index). */
  readonly arrivals: number[] = [];
  /** Set by the test; recorded with each response. */
  stamp = 0;
  /** The stream's end: null while open, else the status code and message (or "end"). */
  ended: { readonly code: number; readonly message: string } | "end" | null = null;
  readonly #call: ClientDuplexStream<object, WireWatchResponse>;
  #lastDataMs = Date.now();

  constructor(client: Client) {
    type Open = () => ClientDuplexStream<object, WireWatchResponse>;
    const open = (client as unknown as Record<string, Open | undefined>)["Watch"];
    if (open === undefined) throw new Error("no Watch method");
    this.#call = open.call(client);
    this.#call.on("data", (response: WireWatchResponse) => {
      this.responses.push(maskHeader(response) as WireWatchResponse);
      this.arrivals.push(this.stamp);
      this.#lastDataMs = Date.now();
    });
    this.#call.on("error", (error: Error) => {
      const status = error as { code?: unknown; details?: unknown };
      this.ended = { code: Number(status.code), message: String(status.details) };
    });
    this.#call.on("end", () => {
      this.ended ??= "end";
    });
  }

  /** Sends a create_request and waits for a created response to it. */
  async create(request: object): Promise<void> {
    const createdBefore = this.#createdCount();
    this.#call.write({ create_request: request });
    await this.until(() => this.#createdCount() > createdBefore || this.ended !== null);
  }

  /** Sends any WatchRequest without waiting. */
  send(request: object): void {
    this.#call.write(request);
  }

  /** Waits until no response arrived for `quietMs` (and at least that long). */
  async quiet(quietMs: number): Promise<void> {
    const since = Date.now();
    await this.until(() => {
      const now = Date.now();
      return now - since >= quietMs && now - this.#lastDataMs >= quietMs;
    });
  }

  /** Polls `done` until it holds; throws after watchWaitMsMax. */
  async until(done: () => boolean): Promise<void> {
    const deadline = Date.now() + watchWaitMsMax;
    while (!done()) {
      if (Date.now() > deadline) throw new Error("watch wait timed out");
      await new Promise((resolve) => setTimeout(resolve, watchPollMs));
    }
  }

  /** Cancels the call; later errors are ignored. */
  close(): void {
    this.#call.cancel();
  }

  #createdCount(): number {
    return this.responses.filter((response) => response.created === true).length;
  }
}
