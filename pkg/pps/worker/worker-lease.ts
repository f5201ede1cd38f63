/**
 * `WorkerLease`: the one lease a pipeline worker holds its claims and slots on (keys.ts).
 * The etcd3 client keeps it alive; when the store says it expired (the client emits "lost"),
 * every claim and slot on it is gone already, so the worker must stop what those claims
 * covered: the lease's `lost` signal aborts, `onLost` runs, and the next `acquire()` grants a
 * new lease.
 *
 * Invariant: at most one lease is current; a lost or revoked lease never becomes current
 * again. `close()` revokes the current lease, which frees its claims and slots at once.
 */
import type { Etcd3, Lease } from "etcd3";
import { type Clock, type Logger, PfsError, assert } from "../../common/index.js";
import { ppsWorkerLeaseRetryMs } from "./limits.js";

/** A granted lease: its id (decimal, as etcd3 gives it) and the signal of its loss. */
export interface HeldLease {
  readonly id: string;
  readonly lost: AbortSignal;
}

interface CurrentLease {
  readonly lease: Lease;
  readonly granted: Promise<string>;
  readonly lost: AbortController;
  /** The store granted it (only a granted lease can be lost with claims on it). */
  held: boolean;
}

export class WorkerLease {
  readonly #client: Etcd3;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onLost: () => void;
  #current: CurrentLease | undefined;
  /** No grant is tried before this (monotonic ms): a store that refused one gets a pause. */
  #retryAtMs = Number.NEGATIVE_INFINITY;
  #closed = false;

  /** `onLost` runs once per lost lease that had been granted, after its signal aborted. */
  constructor(client: Etcd3, ttlSeconds: number, clock: Clock, logger: Logger,
    onLost: () => void) {
    assert(Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0, () => `lease TTL ${ttlSeconds}`);
    this.#client = client;
    this.#ttlSeconds = ttlSeconds;
    this.#clock = clock;
    this.#logger = logger;
    this.#onLost = onLost;
  }

  /**
   * The current lease, granting a new one when there is none. Rejects UNAVAILABLE when the
   * store cannot grant it, and for `ppsWorkerLeaseRetryMs` after that (the caller tries again
   * later), or when the lease is closed.
   */
  async acquire(): Promise<HeldLease> {
    if (this.#closed) throw new PfsError("UNAVAILABLE", "the worker lease is closed");
    if (this.#current === undefined && this.#clock.nowMs() < this.#retryAtMs) {
      throw new PfsError("UNAVAILABLE", "the store refused the worker lease a moment ago");
    }
    const current = this.#current ?? this.#grant();
    try {
      const id = await current.granted;
      assert(id !== "" && id !== "0", () => `granted lease id ${id}`);
      current.held = true;
      return { id, lost: current.lost.signal };
    } catch (error: unknown) {
      this.#retryAtMs = this.#clock.nowMs() + ppsWorkerLeaseRetryMs;
      this.#drop(current, error);
      throw new PfsError("UNAVAILABLE", `cannot grant the worker lease: ${String(error)}`);
    }
  }

  #grant(): CurrentLease {
    const lease = this.#client.lease(this.#ttlSeconds);
    const current: CurrentLease = {
      lease, granted: lease.grant(), lost: new AbortController(), held: false,
    };
    // Observed here so a failed grant is never unhandled; acquire() reports it.
    current.granted.catch(() => undefined);
    lease.on("lost", (error: unknown) => {
      if (!this.#closed && current.held) {
        this.#logger.warn("worker lease lost; its claims are gone", { error });
      }
      this.#drop(current, error);
    });
    this.#current = current;
    return current;
  }

  /** Ends `current` once: aborts its signal, forgets it, tells the owner. */
  #drop(current: CurrentLease, reason: unknown): void {
    if (current.lost.signal.aborted) return;
    current.lost.abort(new PfsError("UNAVAILABLE", `the worker lease was lost: ${String(reason)}`));
    if (this.#current === current) this.#current = undefined;
    current.lease.release();
    if (!this.#closed && current.held) this.#onLost();
  }

  /** Revokes the current lease (its keys go at once); later `acquire()` calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    current.lost.abort(new PfsError("UNAVAILABLE", "the worker closed"));
    await current.lease.revoke().catch((error: unknown) => {
      this.#logger.warn("cannot revoke the worker lease; it will expire", { error });
    });
  }
}
