/**
 * Push-back before proposing (STYLE rule 14): at most etcdProposalsInFlightSoftMax proposals
 * are handed to Raft at once; later callers wait in a FIFO queue, so a burst is absorbed by
 * holding clients (and, through gRPC flow control, their streams) instead of refusing them.
 * Only when waiting plus in-flight callers reach etcdPendingProposalsMax is a caller refused
 * with etcd's ETCD_TOO_MANY_REQUESTS.
 */
import { EtcdError, assert, limits } from "../../common/index.js";

export class ProposalGate {
  readonly #inFlightMax: number;
  readonly #pendingMax: number;
  readonly #waiting: (() => void)[] = [];
  #inFlight = 0;
  #closed = false;

  constructor(inFlightMax = limits.etcdProposalsInFlightSoftMax,
    pendingMax = limits.etcdPendingProposalsMax) {
    assert(inFlightMax >= 1 && inFlightMax < pendingMax, () =>
      `gate bounds ${inFlightMax} / ${pendingMax}`);
    this.#inFlightMax = inFlightMax;
    this.#pendingMax = pendingMax;
  }

  get inFlight(): number { return this.#inFlight; }
  get waiting(): number { return this.#waiting.length; }

  /** Runs `work` once a slot is free; rejects ETCD_TOO_MANY_REQUESTS or ETCD_STOPPED. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  /** Refuses every waiter and later caller with ETCD_STOPPED. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #acquire(): Promise<void> {
    if (this.#closed) return Promise.reject(new EtcdError("ETCD_STOPPED"));
    if (this.#inFlight < this.#inFlightMax && this.#waiting.length === 0) {
      this.#inFlight += 1;
      return Promise.resolve();
    }
    if (this.#inFlight + this.#waiting.length >= this.#pendingMax) {
      return Promise.reject(new EtcdError("ETCD_TOO_MANY_REQUESTS"));
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push(() => {
        if (this.#closed) {
          reject(new EtcdError("ETCD_STOPPED"));
          return;
        }
        this.#inFlight += 1;
        resolve();
      });
    });
  }

  #release(): void {
    assert(this.#inFlight > 0, "gate released more than acquired");
    this.#inFlight -= 1;
    const next = this.#waiting.shift();
    if (next !== undefined) next();
  }
}
