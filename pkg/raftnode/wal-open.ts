/**
 * Opening a WAL directory: list the segments, check that their sequence is whole, scan each
 * one (only the last may end torn, and that tail is cut off and logged), check each header
 * against its file name, and replay the records in order.
 */
import * as path from "node:path";
import { type Logger, assert } from "../common/index.js";
import type { FileIo } from "./file-io.js";
import { RecordType, type WalRecord, walCorruption } from "./record.js";
import { type PositionedRecord, scanRecords } from "./record-reader.js";
import { ReplayError, WalReplay } from "./wal-replay.js";
import {
  type SegmentName,
  parseSegmentFileName,
  temporarySuffix,
} from "./wal-segment-name.js";

/** The segments found, oldest first, and the log they replay to. */
export interface OpenedSegments {
  readonly segments: SegmentName[];
  readonly replay: WalReplay;
}

async function listSegments(dir: string, io: FileIo, logger: Logger): Promise<SegmentName[]> {
  await io.makeDir(dir);
  const segments: SegmentName[] = [];
  let removedTemporary = false;
  for (const name of await io.listDir(dir)) {
    if (name.endsWith(temporarySuffix)) {
      logger.warn("removing a WAL segment left half-created by a crash", { file: name });
      await io.remove(path.join(dir, name));
      removedTemporary = true;
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === undefined) {
      logger.warn("ignoring a file that is not a WAL segment", { dir, file: name });
      continue;
    }
    segments.push(parsed);
  }
  if (removedTemporary) await io.syncDir(dir);
  segments.sort((a, b) => a.sequence - b.sequence);
  for (let i = 1; i < segments.length; i += 1) {
    const previous = segments[i - 1];
    const current = segments[i];
    assert(previous !== undefined && current !== undefined, "segment list has a hole");
    if (current.sequence !== previous.sequence + 1) {
      throw walCorruption(path.join(dir, current.name), 0,
        `segment sequence jumps from ${previous.sequence} to ${current.sequence}: a segment is missing`);
    }
  }
  return segments;
}

function checkHeader(
  file: string, segment: SegmentName, first: PositionedRecord | undefined,
): void {
  if (first?.record.type !== RecordType.SegmentHeader) {
    throw walCorruption(file, 0, "segment does not start with a header record");
  }
  const header = first.record.header;
  if (header.sequence !== segment.sequence || header.firstIndex !== segment.firstIndex) {
    throw walCorruption(file, 0,
      `header says sequence ${header.sequence} first index ${header.firstIndex}, ` +
      `the name says ${segment.sequence} and ${segment.firstIndex}`);
  }
}

function replayRecord(replay: WalReplay, record: WalRecord, file: string, offset: number): void {
  try {
    switch (record.type) {
      case RecordType.SegmentHeader:
        if (offset !== 0) throw new ReplayError("segment header in the middle of a segment");
        break;
      case RecordType.Entries:
        replay.appendEntries(record.entries);
        break;
      case RecordType.HardState:
        if (replay.hardState !== undefined && record.hardState.term < replay.hardState.term) {
          throw new ReplayError(`hard state term went back from ${replay.hardState.term} ` +
            `to ${record.hardState.term}`);
        }
        replay.hardState = record.hardState;
        break;
      case RecordType.SnapshotMarker:
        replay.applyMarker(record.marker);
        break;
    }
  } catch (error) {
    if (error instanceof ReplayError) throw walCorruption(file, offset, error.message);
    throw error;
  }
}

/** Opens `dir` (creating it if missing) and replays its segments. See the module comment. */
export async function openSegments(dir: string, io: FileIo, logger: Logger,
): Promise<OpenedSegments> {
  const segments = await listSegments(dir, io, logger);
  const replay = new WalReplay();
  for (const [i, segment] of segments.entries()) {
    const file = path.join(dir, segment.name);
    const isLast = i === segments.length - 1;
    const bytes = await io.readFile(file);
    const scan = scanRecords(bytes, file, isLast);
    checkHeader(file, segment, scan.records[0]);
    for (const { record, offsetBytes } of scan.records) {
      replayRecord(replay, record, file, offsetBytes);
    }
    if (scan.tornReason !== undefined) {
      logger.warn("cutting off the torn tail of the WAL left by a crash mid-write", {
        file, offsetBytes: scan.validBytes, cutBytes: bytes.length - scan.validBytes,
        reason: scan.tornReason,
      });
      await io.truncate(file, scan.validBytes);
    }
  }
  return { segments, replay };
}
