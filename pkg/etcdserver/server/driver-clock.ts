/**
 * The clock the member hands its `RaftNode`: the real clock, with fast-forwarded ticks
 * (etcd's advanceTicks): the first `fastTicks` timers fire at once, so a fresh single member
 * elects itself at start instead of after an election timeout (it must serve within 2 s), and
 * a fresh multi-member cluster elects sooner. (ReadIndex contexts carry the member's ID, so
 * members that start in the same millisecond no longer need sequences kept apart here.)
 */
import type { Clock, Timer } from "../../common/index.js";

export class RaftDriverClock implements Clock {
  readonly #base: Clock;
  #fastTicks: number;

  constructor(base: Clock, fastTicks: number) {
    this.#base = base;
    this.#fastTicks = fastTicks;
  }

  nowMs(): number { return this.#base.nowMs(); }

  wallMs(): number {
    return this.#base.wallMs();
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
