/**
 * Watches the event loop for stalls, as etcd warns of a slow apply or fdatasync: a timer
 * due every `loopMonitorIntervalMs` measures how late it fired, and a lateness of at least
 * `loopStallWarnMs` is logged at warn ("event loop stalled", with the milliseconds). One
 * thread serves Raft, the state machine and every client, so any synchronous stretch this
 * long delays heartbeats and every request at once: the log line is where to start when a
 * latency spike needs explaining. The worst stall seen is kept for status and tests.
 */
import type { Clock, Timer } from "./clock.js";
import { loopMonitorIntervalMs, loopStallWarnMs } from "./limits.js";
import type { Logger } from "./log.js";

export class LoopMonitor {
  readonly #clock: Clock;
  readonly #logger: Logger;
  #timer: Timer | undefined;
  #dueMs = 0;
  #worstStallMs = 0;

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
    if (this.#timer === undefined) this.#schedule();
  }

  /** Stops measuring (idempotent). */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#dueMs = this.#clock.nowMs() + loopMonitorIntervalMs;
    this.#timer = this.#clock.setTimer(loopMonitorIntervalMs, () => { this.#fired(); });
  }

  #fired(): void {
    const lateMs = Math.round(this.#clock.nowMs() - this.#dueMs);
    this.#worstStallMs = Math.max(this.#worstStallMs, lateMs);
    if (lateMs >= loopStallWarnMs) {
      this.#logger.warn("event loop stalled", { stalledMs: lateMs });
    }
    this.#schedule();
  }
}
