// Goal: WAL records round-trip exactly through their binary framing, and the scanner tells a
// torn tail (cut, or a bad CRC on the very last record of the last segment) from corruption
// (a bad CRC followed by more records, a length beyond the limit, any damage when the tail may
// not be torn), naming the file and byte offset. Method: encode known records, damage the
// bytes at chosen places, and check the scan's verdict and the exact error code and message.
import { crc32 } from "node:zlib";
import test from "ava";
import {
  EntryType, type Entry,
} from "../../../pkg/raft/index.js";
import {
  PfsError, limits, logIndex, nodeId, term,
} from "../../../pkg/common/index.js";
import {
  RecordType, type WalRecord, encodeRecord, recordFrameBytes, scanRecords,
} from "../../../pkg/raftnode/index.js";

function entry(index: number, entryTerm: number, text: string): Entry {
  const type = index % 2 === 0 ? EntryType.Normal : EntryType.ConfChange;
  return { index: logIndex(index), term: term(entryTerm), type, data: new TextEncoder().encode(text) };
}

const sample: WalRecord[] = [
  { type: RecordType.SegmentHeader, header: { sequence: 7, firstIndex: logIndex(42) } },
  { type: RecordType.Entries, entries: [entry(42, 3, "a"), entry(43, 3, ""), entry(44, 4, "xyz")] },
  {
    type: RecordType.HardState,
    hardState: { term: term(4), vote: nodeId(0xffff_ffff_ffff_fff0n), commit: logIndex(43) },
  },
  { type: RecordType.SnapshotMarker, marker: { index: logIndex(40), term: term(2) } },
];

function join(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

test("every record type round-trips, including a uint64 vote above 2^53", (t) => {
  const bytes = join(sample.map(encodeRecord));
  const scan = scanRecords(bytes, "seg.wal", false);
  t.deepEqual(scan.records.map((positioned) => positioned.record), sample);
  t.is(scan.validBytes, bytes.length);
  t.is(scan.tornReason, undefined);
  t.is(scan.records[1]?.offsetBytes, encodeRecord(sample[0]!).length);
});

test("a last record cut at any byte is a torn tail in the last segment, corruption elsewhere", (t) => {
  const whole = join(sample.map(encodeRecord));
  const lastStart = whole.length - encodeRecord(sample[3]!).length;
  for (let cut = lastStart + 1; cut < whole.length; cut += 1) {
    const scan = scanRecords(whole.subarray(0, cut), "seg.wal", true);
    t.is(scan.records.length, 3, `cut at ${cut}`);
    t.is(scan.validBytes, lastStart);
    t.truthy(scan.tornReason);
    const error = t.throws(() => scanRecords(whole.subarray(0, cut), "old.wal", false), {
      instanceOf: PfsError,
    });
    t.is(error.code, "DATA_CORRUPTED");
    t.true(error.message.includes(`old.wal is corrupt at byte offset ${lastStart}`), error.message);
  }
});

test("a bad CRC on the last record is torn; on an earlier record it is corruption", (t) => {
  const whole = join(sample.map(encodeRecord));
  const lastStart = whole.length - encodeRecord(sample[3]!).length;
  const tail = Uint8Array.from(whole);
  tail[whole.length - 1]! ^= 0x01;
  const scan = scanRecords(tail, "seg.wal", true);
  t.is(scan.validBytes, lastStart);
  t.regex(scan.tornReason ?? "", /CRC mismatch on the last record/);

  const middle = Uint8Array.from(whole);
  const secondStart = encodeRecord(sample[0]!).length;
  middle[secondStart + recordFrameBytes + 2]! ^= 0x40;
  const error = t.throws(() => scanRecords(middle, "seg.wal", true), { instanceOf: PfsError });
  t.is(error.code, "DATA_CORRUPTED");
  t.is(error.message, `WAL file seg.wal is corrupt at byte offset ${secondStart}: CRC mismatch`);
  t.deepEqual(error.details, { file: "seg.wal", offsetBytes: secondStart });
});

/** Rewrites the header CRC of the frame at `offset` after a test changed its header. */
function resealHeader(bytes: Uint8Array, offset: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset + 9, crc32(bytes.subarray(offset, offset + 9)));
}

test("a length beyond walRecordBytesMax is corruption even at the tail", (t) => {
  const whole = join(sample.map(encodeRecord));
  const lastStart = whole.length - encodeRecord(sample[3]!).length;
  const bad = Uint8Array.from(whole);
  new DataView(bad.buffer).setUint32(lastStart, limits.walRecordBytesMax + 1);
  resealHeader(bad, lastStart);
  const error = t.throws(() => scanRecords(bad, "seg.wal", true), { instanceOf: PfsError });
  t.is(error.code, "DATA_CORRUPTED");
  t.regex(error.message, new RegExp(`offset ${lastStart}: record length ${limits.walRecordBytesMax + 1} exceeds`));
});

test("a flipped bit in the last record's length is corruption, not a torn tail", (t) => {
  const whole = join(sample.map(encodeRecord));
  const lastStart = whole.length - encodeRecord(sample[3]!).length;
  const bad = Uint8Array.from(whole);
  bad[lastStart + 3]! ^= 0x40; // The length now reaches past the end of the file.
  const error = t.throws(() => scanRecords(bad, "seg.wal", true), { instanceOf: PfsError });
  t.is(error.message, `WAL file seg.wal is corrupt at byte offset ${lastStart}: frame header CRC mismatch`);
  // With a resealed header the same bytes read as a record cut short by a crash.
  resealHeader(bad, lastStart);
  t.regex(scanRecords(bad, "seg.wal", true).tornReason ?? "", /^record of \d+ bytes cut to/);
});

test("zeros after the last record (a preallocated or zero-filled tail) are torn", (t) => {
  const whole = join([...sample.map(encodeRecord), new Uint8Array(100)]);
  const scan = scanRecords(whole, "seg.wal", true);
  t.is(scan.records.length, 4);
  t.is(scan.validBytes, whole.length - 100);
  t.regex(scan.tornReason ?? "", /100 zero bytes/);
});

test("a valid CRC over an unknown record type or malformed payload is corruption", (t) => {
  const record = encodeRecord(sample[3]!);
  // Rebuild the frame with type 99 and a matching header CRC: framing is fine, content is not.
  const bad = Uint8Array.from(record);
  bad[4] = 99;
  resealHeader(bad, 0);
  const error = t.throws(() => scanRecords(join([bad, record]), "seg.wal", true), { instanceOf: PfsError });
  t.is(error.message, "WAL file seg.wal is corrupt at byte offset 0: unknown record type 99");
});
