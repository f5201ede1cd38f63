/**
 * The clock the member hands its `RaftNode`: the real clock, with two adjustments the driver
 * cannot make itself.
 *
 * - Fast-forwarded ticks (etcd's advanceTicks): the first `fastTicks` timers fire at once,
 *   so a fresh single member elects itself at start instead of after an election timeout
 *   (it must serve within 2 s), and a fresh multi-member cluster elects sooner.
 * - Member-unique sequences: the driver numbers proposals and ReadIndex contexts from
 *   `wallMs() << 20`. The leader drops a read whose context equals one it already holds, so
 *   two members that started in the same millisecond would lose each other's reads. Wall
 *   time here is scaled by 4 and offset by the member ID modulo 4, which keeps the ranges of
 *   members apart unless their IDs also agree modulo 4, and keeps sequences growing across
 *   restarts (they still follow wall time).
 */
import type { Clock, NodeId, Timer } from "../../common/index.js";

const sequenceSpread = 4;

export class RaftDriverClock implements Clock {
  readonly #base: Clock;
  readonly #offset: number;
  #fastTicks: number;

  constructor(base: Clock, id: NodeId, fastTicks: number) {
    this.#base = base;
    this.#offset = Number(id % BigInt(sequenceSpread));
    this.#fastTicks = fastTicks;
  }

  nowMs(): number { return this.#base.nowMs(); }

  wallMs(): number {
    return Math.floor(this.#base.wallMs()) * sequenceSpread + this.#offset;
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    if (this.#fastTicks > 0) {
      this.#fastTicks -= 1;
      return this.#base.setTimer(0, callback);
    }
    return this.#base.setTimer(delayMs, callback);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return this.#base.sleep(delayMs, signal);
  }
}
