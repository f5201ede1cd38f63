// Goal: the client front repairs grpc-go's direct-dial `:authority` (a whole URL, refused by
// Node's HTTP/2) without breaking HPACK state, and leaves clients that order pseudo-headers
// differently (grpc-js) untouched. Method: hand-built HPACK header blocks and HTTP/2 frames
// (static-table indexes, literals with and without indexing, a Huffman-flagged value that is
// only skipped), run through the pure rewriter.
import test from "ava";
import {
  AuthorityRewriter,
  literalHeader,
  authorityIsLastPseudoHeader,
  rewriteHeaderBlock,
} from "../../../pkg/etcdserver/index.js";

const latin1 = (text: string): Buffer => Buffer.from(text, "latin1");
const literal = (text: string): Buffer => Buffer.concat([Buffer.from([text.length]), latin1(text)]);
/** A value marked as Huffman-coded: the rewriter must skip it by length, never decode it. */
const huffmanFlagged = Buffer.from([0x80 | 4, 0xde, 0xad, 0xbe, 0xef]);

// grpc-go order: :method POST (3), :scheme http (6), :path (literal, name 4), :authority last
// (literal with incremental indexing, name 1), then regular headers.
const goBlock = Buffer.concat([
  Buffer.from([0x83, 0x86]),
  Buffer.from([0x44]), literal("/etcdserverpb.Maintenance/Status"),
  Buffer.from([0x41]), literal("http://127.0.0.1:2379"),
  Buffer.from([0x5f]), literal("application/grpc"), // content-type (31), incremental
  Buffer.from([0x40]), literal("te"), huffmanFlagged,
]);

// grpc-js order: :authority before :path.
const jsBlock = Buffer.concat([
  Buffer.from([0x83, 0x86]),
  Buffer.from([0x41]), literal("127.0.0.1:2379"),
  Buffer.from([0x44]), literal("/etcdserverpb.KV/Range"),
]);

test("grpc-go's block: :authority renamed in place, a valid :authority inserted first", (t) => {
  t.true(authorityIsLastPseudoHeader(goBlock));
  const rewritten = rewriteHeaderBlock(goBlock);
  const inserted = Buffer.concat([Buffer.from([0x01]), literal("localhost")]);
  t.deepEqual(rewritten.subarray(0, inserted.length), inserted);
  const renamedAt = rewritten.indexOf(latin1("http://127.0.0.1:2379")) - 2;
  t.is(rewritten[renamedAt], 0x40 | 55, "name index 55 (set-cookie), still incrementally indexed");
  t.is(rewritten.length, goBlock.length + inserted.length, "every other byte kept");
  t.deepEqual(rewritten.subarray(-huffmanFlagged.length), huffmanFlagged);
});

test("grpc-js's block (a pseudo-header after :authority) is not rewritten", (t) => {
  t.false(authorityIsLastPseudoHeader(jsBlock));
  t.false(authorityIsLastPseudoHeader(Buffer.from([0x83, 0x86])), "no :authority at all");
});

test("a leading dynamic table size update stays first; a malformed block passes as it came", (t) => {
  const withUpdate = Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f]), goBlock]);
  const rewritten = rewriteHeaderBlock(withUpdate);
  t.deepEqual(rewritten.subarray(0, 3), Buffer.from([0x3f, 0xe1, 0x1f]));
  t.is(rewritten[3], 0x01);
  const truncated = goBlock.subarray(0, 10);
  t.deepEqual(rewriteHeaderBlock(truncated), truncated);
});

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

test("frames: preface and DATA pass through; HEADERS+CONTINUATION are joined and rewritten", (t) => {
  const preface = latin1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const settings = frame(0x4, 0, 0, Buffer.alloc(0));
  const headers = frame(0x1, 0x1, 1, goBlock.subarray(0, 20));
  const continuation = frame(0x9, 0x4, 1, goBlock.subarray(20));
  const data = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
  const input = Buffer.concat([preface, settings, headers, continuation, data]);
  const rewriter = new AuthorityRewriter();
  // Feed in awkward pieces: the output must not depend on how the bytes arrive.
  const out = Buffer.concat([3, 17, 40, 7, input.length].reduce<{ at: number; parts: Buffer[] }>(
    (state, size) => ({
      at: state.at + size,
      parts: [...state.parts, rewriter.transform(input.subarray(state.at, state.at + size))],
    }), { at: 0, parts: [] }).parts);
  const block = rewriteHeaderBlock(goBlock);
  const expected = Buffer.concat([preface, settings, frame(0x1, 0x1 | 0x4, 1, block), data]);
  t.deepEqual(out, expected);
});

test("a trailing field (the verified certificate's CN) is appended to every request block", (t) => {
  const field = literalHeader("x-cn", "root");
  t.deepEqual(field, Buffer.concat([Buffer.from([0x00]), literal("x-cn"), literal("root")]));
  const rewriter = new AuthorityRewriter(field);
  const preface = latin1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const out = rewriter.transform(Buffer.concat([preface, frame(0x1, 0x4, 1, jsBlock)]));
  t.deepEqual(out, Buffer.concat([preface, frame(0x1, 0x4, 1, Buffer.concat([jsBlock, field]))]));
});
