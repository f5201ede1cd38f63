/**
 * The driver's one-at-a-time requests: a membership change waiting to apply, and a leader
 * transfer waiting for the new leader. Each ends exactly once: done, refused, past its
 * deadline (ETCD_TIMEOUT), or on close (ETCD_STOPPED).
 */
import { EtcdError, type NodeId } from "../common/index.js";
import type { ConfChange, ConfState } from "../raft/index.js";

/** One pending request that resolves with `T`. */
export class PendingRequest<T> {
  readonly deadlineMs: number;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: Error) => void;
  #ended = false;

  private constructor(deadlineMs: number, resolve: (value: T) => void,
    reject: (error: Error) => void) {
    this.deadlineMs = deadlineMs;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** A request and the promise its caller awaits. */
  static create<T>(deadlineMs: number): { request: PendingRequest<T>; done: Promise<T> } {
    let request: PendingRequest<T> | undefined;
    const done = new Promise<T>((resolve, reject) => {
      request = new PendingRequest<T>(deadlineMs, resolve, reject);
    });
    if (request === undefined) throw new Error("promise executor did not run");
    return { request, done };
  }

  get ended(): boolean {
    return this.#ended;
  }

  resolve(value: T): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#resolve(value);
  }

  reject(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reject(error);
  }

  /** Rejects with ETCD_TIMEOUT when the deadline is at or before `nowMs`. */
  expire(nowMs: number): void {
    if (this.deadlineMs <= nowMs) this.reject(new EtcdError("ETCD_TIMEOUT"));
  }
}

/** A membership change in flight: resolves with the new ConfState when it applies. */
export interface PendingConfChange {
  readonly change: ConfChange;
  readonly request: PendingRequest<ConfState>;
}

/** A leader transfer in flight: resolves when `to` is leader. */
export interface PendingTransfer {
  readonly to: NodeId;
  readonly request: PendingRequest<undefined>;
}

/** Whether two conf changes are the same request (type, member and context bytes). */
export function sameConfChange(a: ConfChange, b: ConfChange): boolean {
  if (a.type !== b.type || a.nodeId !== b.nodeId) return false;
  if (a.context.length !== b.context.length) return false;
  return a.context.every((byte, i) => byte === b.context[i]);
}
