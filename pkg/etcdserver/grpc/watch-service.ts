/**
 * etcdserverpb.Watch (etcd-api.md §6): one backend WatchStream per gRPC call. Requests are
 * applied to the stream in arrival order; its outbox is drained, in order, into a small send
 * queue that is written to gRPC only as fast as gRPC accepts it. When gRPC holds back, the
 * queue and then the outbox fill, and the service stops reading the client until they drain
 * (push back, STYLE rule 14); watchers that miss live events meanwhile catch up from history.
 * A refused create (permission) is queued behind every response already in the outbox, so
 * the client sees responses in the order their requests came.
 */
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { limits, nextTurn } from "../../common/index.js";
import {
  type WatchStream,
  encodeWatchResponse,
  watchResponse,
} from "../watch/index.js";
import { messageOf } from "../wire-fields.js";
import { StreamScope, writeInOrder } from "./stream-scope.js";
import { type ServiceKit, headerFill } from "./service-kit.js";
import { type WatchRequestDecoded, decodeWatchRequest } from "./watch-codec.js";

const label = { service: "etcdserverpb.Watch", method: "Watch", type: "bidi_stream" } as const;
const sendBatch = limits.etcdWatchSendBatchResponsesMax;


class WatchCall {
  readonly #kit: ServiceKit;
  readonly #call: ServerDuplexStream<unknown, object>;
  readonly #scope: StreamScope;
  readonly #stream: WatchStream;
  readonly #sendQueue: object[] = [];
  #flushing = false;

  constructor(kit: ServiceKit, call: ServerDuplexStream<unknown, object>, scope: StreamScope) {
    this.#kit = kit;
    this.#call = call;
    this.#scope = scope;
    this.#stream = kit.backend.watchOpen(() => {
      this.flush();
    });
    scope.onEnd(() => {
      kit.backend.watchClose(this.#stream);
    });
  }

  /** Applies one client request, then pushes back if the responses are piling up. */
  receive(wire: unknown): void {
    if (this.#scope.ended) return;
    try {
      this.#apply(decodeWatchRequest(messageOf(wire, "request")));
    } catch (error: unknown) {
      this.#scope.fail(error);
      return;
    }
    if (this.#holdingBack()) this.#call.pause();
    this.flush();
  }

  #apply(request: WatchRequestDecoded): void {
    switch (request.type) {
      case "create": {
        const reason = this.#kit.backend.watchCreate(
          this.#scope.context, this.#stream, request.request);
        if (reason === undefined) return;
        this.#collect(Number.MAX_SAFE_INTEGER);
        this.#sendQueue.push(encodeWatchResponse(watchResponse({
          watchId: -1, created: true, canceled: true, cancelReason: reason,
          headerRevision: this.#kit.backend.revision(),
        }), headerFill(this.#kit.backend)));
        return;
      }
      case "cancel":
        this.#stream.cancel(request.watchId);
        return;
      case "progress":
        this.#stream.requestProgress();
        return;
      case "none":
        return;
    }
  }

  #holdingBack(): boolean {
    return this.#stream.backpressured || this.#sendQueue.length >= sendBatch;
  }

  /** Moves up to `max` responses from the outbox to the send queue, encoded. */
  #collect(max: number): void {
    while (this.#stream.pending > 0 && max > 0) {
      const taken = this.#stream.take(Math.min(max, limits.etcdWatchOutboxResponsesMax));
      max -= taken.length;
      const fill = headerFill(this.#kit.backend);
      for (const response of taken) this.#sendQueue.push(encodeWatchResponse(response, fill));
    }
  }

  /** Starts the writer unless it runs; it stops when nothing is left to send. */
  flush(): void {
    if (this.#flushing || this.#scope.ended) return;
    this.#flushing = true;
    this.#write().then(
      () => { this.#flushing = false; },
      (error: unknown) => {
        this.#flushing = false;
        this.#scope.fail(error);
      },
    );
  }

  async #write(): Promise<void> {
    let written = 0;
    while (!this.#scope.ended) {
      if (this.#sendQueue.length === 0) this.#collect(sendBatch);
      if (this.#sendQueue.length === 0 && this.#stream.catchingUp) {
        await nextTurn();
        this.#stream.catchUp();
        continue;
      }
      const message = this.#sendQueue.shift();
      if (message === undefined) break;
      await writeInOrder(this.#call, this.#scope, message);
      if (!this.#holdingBack() && this.#call.isPaused()) this.#call.resume();
      written += 1;
      if (written % sendBatch === 0) await nextTurn();
    }
    if (!this.#holdingBack() && this.#call.isPaused()) this.#call.resume();
  }
}

/** The Watch service implementation for grpc-js. */
export function watchService(kit: ServiceKit): UntypedServiceImplementation {
  return {
    Watch: (call: ServerDuplexStream<unknown, object>) => {
      const scope = StreamScope.open(kit, label, call);
      if (scope === null) return;
      let watch: WatchCall;
      try {
        watch = new WatchCall(kit, call, scope);
      } catch (error: unknown) {
        scope.fail(error);
        return;
      }
      call.on("data", (wire: unknown) => {
        watch.receive(wire);
      });
      call.on("end", () => {
        scope.finish();
      });
      call.on("error", () => undefined);
    },
  };
}
