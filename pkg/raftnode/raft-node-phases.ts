/**
 * Asserts the Ready contract (STYLE rule 3): for each Ready the driver persists, then sends,
 * then applies, then advances exactly once, and takes no new Ready before advancing. A
 * violation is a driver bug and throws an AssertionError naming both phases.
 */
import { assert } from "../common/index.js";

type Phase = "idle" | "began" | "persisted" | "sent" | "applied";

/** The phase of the Ready being handled. */
export class ReadyPhases {
  #phase: Phase = "idle";
  #readyCount = 0;

  /** Readies fully handled (advanced). */
  get readyCount(): number {
    return this.#readyCount;
  }

  begin(): void { this.#move("idle", "began"); }
  persisted(): void { this.#move("began", "persisted"); }
  sent(): void { this.#move("persisted", "sent"); }
  applied(): void { this.#move("sent", "applied"); }

  advanced(): void {
    this.#move("applied", "idle");
    this.#readyCount += 1;
  }

  #move(from: Phase, to: Phase): void {
    assert(this.#phase === from, () =>
      `Ready contract broken: '${to}' while '${this.#phase}', expected after '${from}'`);
    this.#phase = to;
  }
}
