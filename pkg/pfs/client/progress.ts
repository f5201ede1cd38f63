/**
 * The progress bar of puts and gets: bytes moved, rate and time left, redrawn in place on
 * stderr. It draws only on a terminal and only for transfers above `progressBytesMin` (known
 * in advance, or reached while streaming from stdin), so scripts and small files see nothing.
 * The rendering is a pure function; the bar owns only the redraw throttle.
 */
import { assert } from "../../common/index.js";
import { progressBytesMin, progressRedrawMsMin } from "./limits.js";
import { formatBytes, formatDuration } from "./pretty.js";

/** Where a bar draws: stderr, or a test's stand-in. */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/**
 * One line of a bar: "label [#####.....]  12 MiB / 100 MiB  45 MiB/s  ETA 2s"; without a
 * known total: "label  12 MiB  45 MiB/s". `elapsedMs` > 0.
 */
export function renderProgress(label: string, doneBytes: number, totalBytes: number | undefined,
  elapsedMs: number, width = 80): string {
  assert(doneBytes >= 0 && elapsedMs >= 0, () => `progress ${doneBytes} B in ${elapsedMs} ms`);
  const rate = elapsedMs === 0 ? 0 : (doneBytes * 1000) / elapsedMs;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  if (totalBytes === undefined || totalBytes === 0) {
    return `${label}  ${formatBytes(doneBytes)}  ${rateText}`;
  }
  const fraction = Math.min(1, doneBytes / totalBytes);
  const eta = rate === 0 ? "?" : formatDuration((totalBytes - doneBytes) / rate);
  const tail = `  ${formatBytes(doneBytes)} / ${formatBytes(totalBytes)}  ${rateText}  ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 4));
  const filled = Math.round(fraction * barWidth);
  return `${label} [${"#".repeat(filled)}${".".repeat(barWidth - filled)}]${tail}`;
}

/** A bar for one transfer. Call `add` per piece and `finish` once at the end. */
export class ProgressBar {
  readonly #label: string;
  readonly #totalBytes: number | undefined;
  readonly #output: ProgressOutput;
  readonly #nowMs: () => number;
  readonly #startMs: number;
  #doneBytes = 0;
  #drawnMs = -Infinity;
  #drawn = false;

  constructor(label: string, totalBytes: number | undefined, output: ProgressOutput,
    nowMs: () => number = () => Date.now()) {
    this.#label = label;
    this.#totalBytes = totalBytes;
    this.#output = output;
    this.#nowMs = nowMs;
    this.#startMs = nowMs();
  }

  /** Whether this transfer shows a bar once `doneBytes` have moved. */
  #shows(): boolean {
    if (this.#output.isTTY !== true) return false;
    return (this.#totalBytes ?? this.#doneBytes) > progressBytesMin;
  }

  add(bytes: number): void {
    this.#doneBytes += bytes;
    const now = this.#nowMs();
    if (!this.#shows() || now - this.#drawnMs < progressRedrawMsMin) return;
    this.#draw(now);
  }

  #draw(now: number): void {
    this.#drawnMs = now;
    this.#drawn = true;
    const line = renderProgress(this.#label, this.#doneBytes, this.#totalBytes,
      now - this.#startMs, this.#output.columns ?? 80);
    this.#output.write(`\r${line}\x1b[K`);
  }

  /** Draws the final state and ends the line, if the bar was ever drawn. */
  finish(): void {
    if (!this.#drawn) return;
    this.#draw(this.#nowMs());
    this.#output.write("\n");
  }
}
