/**
 * Watches the event loop for stalls, as etcd warns of a slow apply or fdatasync: a timer
 * due every `loopMonitorIntervalMs` measures how late it fired, and a lateness of at least
 * `loopStallWarnMs` is logged at warn ("event loop stalled", with the milliseconds, and the
 * milliseconds of garbage collection V8 reported from the interval's start until the warning
 * is written: `gcMs`). One
 * thread serves Raft, the state machine and every client, so any synchronous stretch this
 * long delays heartbeats and every request at once: the log line is where to start when a
 * latency spike needs explaining. The worst stall seen is kept for status and tests.
 */
import { PerformanceObserver } from "node:perf_hooks";
import type { Clock, Timer } from "./clock.js";
import { loopMonitorIntervalMs, loopStallWarnMs } from "./limits.js";
import type { Logger } from "./log.js";

export class LoopMonitor {
  readonly #clock: Clock;
  readonly #logger: Logger;
  #timer: Timer | undefined;
  #dueMs = 0;
  #worstStallMs = 0;
  #gcObserver: PerformanceObserver | undefined;
  /** Garbage-collection time reported since start, and its value when the timer was set. */
  #gcTotalMs = 0;
  #gcTotalAtScheduleMs = 0;

  constructor(clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** The longest lateness measured so far, in milliseconds. */
  get worstStallMs(): number {
    return this.#worstStallMs;
  }

  /** Starts measuring (idempotent). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.#gcTotalMs += entry.duration;
    });
    this.#gcObserver.observe({ entryTypes: ["gc"] });
    this.#schedule();
  }

  /** Stops measuring (idempotent). */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#gcObserver?.disconnect();
    this.#gcObserver = undefined;
  }

  #schedule(): void {
    this.#dueMs = this.#clock.nowMs() + loopMonitorIntervalMs;
    this.#gcTotalAtScheduleMs = this.#gcTotalMs;
    this.#timer = this.#clock.setTimer(loopMonitorIntervalMs, () => { this.#fired(); });
  }

  #fired(): void {
    const lateMs = Math.round(this.#clock.nowMs() - this.#dueMs);
    this.#worstStallMs = Math.max(this.#worstStallMs, lateMs);
    if (lateMs >= loopStallWarnMs) {
      // V8 reports the collections of the stall a turn later: log after they are counted.
      const gcFromMs = this.#gcTotalAtScheduleMs;
      this.#clock.setTimer(0, () => {
        this.#logger.warn("event loop stalled",
          { stalledMs: lateMs, gcMs: Math.round(this.#gcTotalMs - gcFromMs) });
      });
    }
    this.#schedule();
  }
}
