/**
 * A fault run's recording as JSON (saved by scripts/chaos-etcd, and the checker's fixture).
 * JSON has no Infinity, so indeterminate return times travel as null. Times are rounded to
 * 10 µs to keep files small: rounding is monotonic, so no operation comes to precede another
 * it did not precede (at worst two become concurrent, which only allows more orders).
 */
import type { FaultRunRecording } from "./fault-run.js";
import { historyFromJson, historyToJson } from "./kv-history.js";

function roundTimes(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isInteger(value)
    ? Math.round(value * 100) / 100 : value;
}

export function recordingToJson(recording: FaultRunRecording): unknown {
  const json = { ...recording, history: historyToJson(recording.history) };
  return JSON.parse(JSON.stringify(json, roundTimes)) as unknown;
}

/** The inverse of recordingToJson (trusted input: files it wrote). */
export function recordingFromJson(json: unknown): FaultRunRecording {
  const raw = json as FaultRunRecording & { history: unknown[] };
  return { ...raw, history: historyFromJson(raw.history) };
}
