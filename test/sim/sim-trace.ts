/**
 * The event trace of a simulation run: a bounded ring of lines, printed when a run fails so
 * the failure can be read without replaying it. Message-level events are recorded only when
 * `verbose` (they dominate the trace and cost time).
 */
export class SimTrace {
  readonly #lines: string[] = [];
  #dropped = 0;

  constructor(readonly verbose: boolean, private readonly capacity: number) {}

  add(step: number, line: string): void {
    if (this.#lines.length >= this.capacity) {
      this.#lines.shift();
      this.#dropped += 1;
    }
    this.#lines.push(`${String(step).padStart(7)} ${line}`);
  }

  /** The most recent `limit` lines, oldest first, with a note of how many came before. */
  tail(limit: number): string[] {
    const shown = this.#lines.slice(-limit);
    const hidden = this.#dropped + this.#lines.length - shown.length;
    return hidden > 0 ? [`... ${hidden} earlier trace lines`, ...shown] : shown;
  }
}
