/**
 * WAL segment file names, as etcd names them: `<sequence>-<firstIndex>.wal`, both as 16
 * lower-case hex digits, so that sorting names sorts segments. A segment is written under
 * `<name>.tmp` first and renamed once its header is durable.
 */
import { type LogIndex, assertSafeInteger, logIndex } from "../common/index.js";

/** The parsed name of a segment. */
export interface SegmentName {
  readonly name: string;
  readonly sequence: number;
  readonly firstIndex: LogIndex;
}

/** Suffix of a segment being created; such files are removed on open. */
export const temporarySuffix = ".tmp";

const segmentPattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

/** The file name of segment `sequence` whose first entry will be `firstIndex`. */
export function segmentFileName(sequence: number, firstIndex: LogIndex): string {
  assertSafeInteger(sequence, "segment sequence", 0);
  const hex = (value: number): string => value.toString(16).padStart(16, "0");
  return `${hex(sequence)}-${hex(firstIndex)}.wal`;
}

/** Parses a segment file name; undefined for any other name. */
export function parseSegmentFileName(name: string): SegmentName | undefined {
  const match = segmentPattern.exec(name);
  if (match === null) return undefined;
  const sequence = Number.parseInt(match[1] ?? "", 16);
  const firstIndex = Number.parseInt(match[2] ?? "", 16);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { name, sequence, firstIndex: logIndex(firstIndex) };
}
