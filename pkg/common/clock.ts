/**
 * Time, injected (STYLE rule 2). Everything outside the pure Raft core asks a `Clock` for the
 * time and for timers, so tests and the simulator can run the same code on simulated time.
 */
import { assert } from "./assert.js";

/** A pending timer; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

/** The source of time and timers of a component. */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin; never goes backwards. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch, for timestamps shown to people. */
  wallMs(): number;
  /**
   * Runs `callback` once after `delayMs` (≥ 0). A system timer is `unref()`'d, so a pending
   * timer never keeps the process alive; its owner cancels it in `close()`.
   */
  setTimer(delayMs: number, callback: () => void): Timer;
  /**
   * Resolves after `delayMs`; rejects with the signal's reason when `signal` aborts first.
   * Unlike `setTimer`, a pending sleep keeps the process alive: somebody is waiting on it.
   */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("aborted");
}

/** Shared implementation of `sleep` on top of a timer-setting function. */
function sleepOn(
  setTimer: (delayMs: number, callback: () => void) => Timer,
  delayMs: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      if (signal !== undefined) reject(abortReason(signal));
    };
    const timer = setTimer(delayMs, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The real clock: `performance.now()` for monotonic time, Node timers (unref'd). */
export class SystemClock implements Clock {
  nowMs(): number {
    return performance.now();
  }

  wallMs(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    assert(delayMs >= 0, () => `timer delay ${delayMs} ms is negative`);
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return { cancel: () => { clearTimeout(handle); } };
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn((delay, callback) => {
      assert(delay >= 0, () => `sleep of ${delay} ms is negative`);
      const handle = setTimeout(callback, delay); // Ref'd: an awaited sleep is work.
      return { cancel: () => { clearTimeout(handle); } };
    }, delayMs, signal);
  }
}

interface SimulatedTimer {
  readonly dueMs: number;
  /** Insertion order: timers due at the same instant fire in the order they were set. */
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * Simulated time for tests and the simulator. Time moves only when `advance` or `advanceTo`
 * is called; due timers then fire in (due time, insertion) order, each seeing `nowMs()` equal
 * to its own due time. Timers set by a firing callback fire in the same advance when due.
 */
export class SimulatedClock implements Clock {
  #nowMs: number;
  readonly #wallOriginMs: number;
  #sequence = 0;
  #timers: SimulatedTimer[] = [];

  constructor(startMs = 0, wallOriginMs = 1_700_000_000_000) {
    assert(startMs >= 0, () => `simulated clock start ${startMs} ms is negative`);
    this.#nowMs = startMs;
    this.#wallOriginMs = wallOriginMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  wallMs(): number {
    return this.#wallOriginMs + this.#nowMs;
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    assert(delayMs >= 0, () => `timer delay ${delayMs} ms is negative`);
    const timer: SimulatedTimer = {
      dueMs: this.#nowMs + delayMs,
      sequence: this.#sequence,
      callback,
      cancelled: false,
    };
    this.#sequence += 1;
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn((delay, callback) => this.setTimer(delay, callback), delayMs, signal);
  }

  /** The number of timers that are set and not cancelled. */
  pendingTimerCount(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  /** Moves time forward by `deltaMs` (≥ 0), firing every timer that falls due. */
  advance(deltaMs: number): void {
    assert(deltaMs >= 0, () => `cannot advance a clock by ${deltaMs} ms`);
    this.advanceTo(this.#nowMs + deltaMs);
  }

  /** Moves time forward to `targetMs` (≥ now), firing every timer that falls due. */
  advanceTo(targetMs: number): void {
    assert(targetMs >= this.#nowMs, () => `cannot move clock back from ${this.#nowMs} to ${targetMs}`);
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#nowMs = next.dueMs;
      next.callback();
    }
    this.#nowMs = targetMs;
  }

  #nextDue(targetMs: number): SimulatedTimer | undefined {
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    let best: SimulatedTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.dueMs > targetMs) continue;
      if (best === undefined || timer.dueMs < best.dueMs ||
        (timer.dueMs === best.dueMs && timer.sequence < best.sequence)) {
        best = timer;
      }
    }
    return best;
  }
}
