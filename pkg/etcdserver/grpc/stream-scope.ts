/**
 * The life of one streaming etcd RPC (Watch, LeaseKeepAlive, Snapshot, Observe): the gates
 * (learners serve no streams in etcd 3.4; `hasleader` fails at once without a leader and
 * cancels the stream with `etcdserver: no leader` when the leader is lost), the counters,
 * and exactly one ending — OK, an error status, or the client's cancel — after which the
 * owner's cleanup runs once.
 */
import type { Metadata } from "@grpc/grpc-js";
import { EtcdError, GrpcStatus } from "../../common/index.js";
import type { CallContext } from "../backend.js";
import type { MethodLabel } from "./grpc-counters.js";
import {
  type ContextSource,
  type ServiceKit,
  callContext,
  requiresLeader,
  serviceError,
  wireStatusOf,
} from "./service-kit.js";

/** The grpc-js server stream calls, as a scope needs them. */
export interface StreamCallLike extends ContextSource {
  readonly metadata: Metadata;
  emit(event: "error", error: Error): boolean;
  on(event: "cancelled", listener: () => void): unknown;
  end(): unknown;
}

export class StreamScope {
  readonly context: CallContext;
  readonly #kit: ServiceKit;
  readonly #label: MethodLabel;
  readonly #call: StreamCallLike;
  readonly #cleanups: (() => void)[] = [];
  #ended = false;

  private constructor(kit: ServiceKit, label: MethodLabel, call: StreamCallLike) {
    this.#kit = kit;
    this.#label = label;
    this.#call = call;
    this.context = callContext(call);
  }

  /**
   * Opens the scope, or ends the call with the gate's error and returns null. `cleanup`
   * runs once when the call ends for any reason.
   */
  static open(kit: ServiceKit, label: MethodLabel, call: StreamCallLike): StreamScope | null {
    const scope = new StreamScope(kit, label, call);
    kit.counters.started(label);
    call.on("cancelled", () => {
      scope.#end(GrpcStatus.CANCELLED);
    });
    if (kit.backend.isLearner()) {
      scope.fail(new EtcdError("ETCD_LEARNER_NOT_SUPPORTED"));
      return null;
    }
    if (requiresLeader(call.metadata)) {
      if (!kit.backend.hasLeader()) {
        scope.fail(new EtcdError("ETCD_NO_LEADER"));
        return null;
      }
      scope.onEnd(kit.backend.onLeaderLost(() => {
        scope.fail(new EtcdError("ETCD_NO_LEADER"));
      }));
    }
    return scope;
  }

  /** Whether the call has ended (nothing more may be written). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Runs `cleanup` when the call ends (at once if it already has). */
  onEnd(cleanup: () => void): void {
    if (this.#ended) cleanup();
    else this.#cleanups.push(cleanup);
  }

  /** Ends the call with the status of `error`. No-op once ended. */
  fail(error: unknown): void {
    if (this.#ended) return;
    const wire = wireStatusOf(this.#kit, this.#label, error);
    this.#end(wire.code);
    this.#call.emit("error", serviceError(wire));
  }

  /** Ends the call with OK. No-op once ended. */
  finish(): void {
    if (this.#ended) return;
    this.#end(GrpcStatus.OK);
    this.#call.end();
  }

  #end(code: GrpcStatus): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#kit.counters.handled(this.#label, code);
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
  }
}

/** A writable grpc-js server stream. */
export interface WritableCallLike {
  write(message: object): boolean;
  once(event: "drain", listener: () => void): unknown;
  removeListener(event: "drain", listener: () => void): unknown;
}

/**
 * Writes `message`; when grpc-js's buffer is full, resolves only once it drains or the call
 * ends, so the writer never runs ahead of the client (push back, STYLE rule 14).
 */
export function writeInOrder(
  call: WritableCallLike,
  scope: StreamScope,
  message: object,
): Promise<void> {
  if (scope.ended || call.write(message)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      call.removeListener("drain", done);
      resolve();
    };
    call.once("drain", done);
    scope.onEnd(done);
  });
}
