/**
 * Linearizable read barriers (ReadIndex, Raft thesis §6.4) waiting in the driver. A read
 * first waits for the leader to confirm its index (a `ReadState` with the read's context),
 * then for this member to apply up to that index. A read still unconfirmed when the leader
 * changes is rejected with ETCD_LEADER_CHANGED, as etcd does; a read past its deadline with
 * ETCD_TIMEOUT; on close with ETCD_STOPPED.
 */
import { EtcdError, type LogIndex } from "../common/index.js";

interface PendingRead {
  readonly deadlineMs: number;
  /** True once handed to the core (a read still in the inbox has asked no leader yet). */
  requested: boolean;
  /** The index to wait for, once the leader confirmed it. */
  index: LogIndex | undefined;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Reads waiting in one driver, keyed by context (a per-node sequence). */
export class PendingReads {
  readonly #reads = new Map<bigint, PendingRead>();

  get size(): number {
    return this.#reads.size;
  }

  add(context: bigint, deadlineMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#reads.set(context, {
        deadlineMs, requested: false, index: undefined, resolve, reject,
      });
    });
  }

  /** `context` was handed to the core's readIndex. */
  requested(context: bigint): void {
    const read = this.#reads.get(context);
    if (read !== undefined) read.requested = true;
  }

  /** The leader confirmed `context` at `index`. Unknown contexts (expired) are ignored. */
  confirmed(context: bigint, index: LogIndex): void {
    const read = this.#reads.get(context);
    if (read !== undefined) read.index = index;
  }

  /** Resolves every confirmed read with index ≤ `applied`. */
  applied(applied: LogIndex): void {
    for (const [context, read] of this.#reads) {
      if (read.index !== undefined && read.index <= applied) {
        this.#reads.delete(context);
        read.resolve();
      }
    }
  }

  /** The leader changed: requested, unconfirmed reads cannot be confirmed by the old one. */
  leaderChanged(): void {
    for (const [context, read] of this.#reads) {
      if (read.requested && read.index === undefined) {
        this.end(context, new EtcdError("ETCD_LEADER_CHANGED"));
      }
    }
  }

  /** Rejects reads whose deadline is at or before `nowMs`. */
  expire(nowMs: number): void {
    for (const [context, read] of this.#reads) {
      if (read.deadlineMs <= nowMs) this.end(context, new EtcdError("ETCD_TIMEOUT"));
    }
  }

  /** Ends one read with `error`. */
  end(context: bigint, error: Error): void {
    const read = this.#reads.get(context);
    if (read === undefined) return;
    this.#reads.delete(context);
    read.reject(error);
  }

  rejectAll(error: Error): void {
    for (const context of [...this.#reads.keys()]) this.end(context, error);
  }
}
