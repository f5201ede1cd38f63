// Goal: checkTarEntry accepts only regular files and directories whose names stay inside the
// target, and refuses links, devices, FIFOs, leftover metadata records, unknown types and
// hostile names ("..", absolute, NUL, overlong) with exact INVALID_ARGUMENT messages; every
// accepted path is normalized and under the target.
// Method: a table of headers, a real archive packed and read back by tar-stream (so the
// header names and types are those the reader really yields), and a fast-check property over
// random names (fast-check prints the seed; PFS_TEST_SEED replays).
import test from "ava";
import fc from "fast-check";
import { extract, pack, type Header } from "tar-stream";
import { AssertionError } from "../../../pkg/common/index.js";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import {
  checkTarEntry,
  isNormalizedPath,
  isUnder,
  type TarEntryHeader,
} from "../../../pkg/pfs/path/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);

test("accepted entries and where they land", (t) => {
  const table: [TarEntryHeader, string, string, "file" | "directory"][] = [
    [{ name: "a.txt", type: "file" }, "/", "/a.txt", "file"],
    [{ name: "a.txt" }, "/dst", "/dst/a.txt", "file"],
    [{ name: "./x//y/z.bin", type: "contiguous-file" }, "/dst", "/dst/x/y/z.bin", "file"],
    [{ name: "dir/", type: "directory" }, "/dst", "/dst/dir", "directory"],
    [{ name: "./", type: "directory" }, "/dst", "/dst", "directory"],
    [{ name: ".", type: "directory" }, "/", "/", "directory"],
    [{ name: "日本/😀", type: "file", linkname: "" }, "/u", "/u/日本/😀", "file"],
    [{ name: "a..b/...", type: "file" }, "/", "/a..b/...", "file"],
  ];
  for (const [header, prefix, path, kind] of table) {
    t.deepEqual(checkTarEntry(header, prefix), { ok: true, value: { kind, path } }, header.name);
  }
});

test("refused entries, with exact messages", (t) => {
  const longName = `${"n".repeat(200)}/`.repeat(21);
  const table: [TarEntryHeader, string][] = [
    [{ name: "evil", type: "symlink", linkname: "/etc/passwd" }, 'invalid tar entry "evil": it is a symlink to "/etc/passwd"; pfs stores no links'],
    [{ name: "evil", type: "link", linkname: "../../x" }, 'invalid tar entry "evil": it is a hard link to "../../x"; pfs stores no links'],
    [{ name: "l", type: "symlink", linkname: null }, 'invalid tar entry "l": it is a symlink; pfs stores no links'],
    [{ name: "tty", type: "character-device" }, 'invalid tar entry "tty": it is a character-device; pfs stores only files and directories'],
    [{ name: "sda", type: "block-device" }, 'invalid tar entry "sda": it is a block-device; pfs stores only files and directories'],
    [{ name: "pipe", type: "fifo" }, 'invalid tar entry "pipe": it is a fifo; pfs stores only files and directories'],
    [{ name: "p", type: "pax-header" }, 'invalid tar entry "p": it is a pax-header record, which the tar reader should have consumed'],
    [{ name: "g", type: "pax-global-header" }, 'invalid tar entry "g": it is a pax-global-header record, which the tar reader should have consumed'],
    [{ name: "L", type: "gnu-long-path" }, 'invalid tar entry "L": it is a gnu-long-path record, which the tar reader should have consumed'],
    [{ name: "K", type: "gnu-long-link-path" }, 'invalid tar entry "K": it is a gnu-long-link-path record, which the tar reader should have consumed'],
    [{ name: "u", type: null }, 'invalid tar entry "u": it has an unknown type flag'],
    [{ name: "", type: "file" }, 'invalid tar entry "": its name is empty'],
    [{ name: "/etc/passwd", type: "file" }, 'invalid tar entry "/etc/passwd": its name is absolute; entries must be relative to the target directory'],
    [{ name: "../x", type: "file" }, 'invalid tar entry "../x": placed below "/dst", its path has a ".." segment, which is not allowed'],
    [{ name: "a/../../x", type: "directory" }, 'invalid tar entry "a/../../x": placed below "/dst", its path has a ".." segment, which is not allowed'],
    [{ name: "a\u0000.txt", type: "file" }, 'invalid tar entry "a\\u0000.txt": placed below "/dst", its path contains a NUL byte'],
    [{ name: "a\r", type: "file" }, 'invalid tar entry "a\\r": placed below "/dst", its path contains the control character U+000D'],
    [{ name: ".", type: "file" }, 'invalid tar entry ".": it is a file whose name names only the target directory'],
    [{ name: "./", type: "file" }, 'invalid tar entry "./": it is a file whose name names only the target directory'],
    [{ name: longName, type: "file" }, `invalid tar entry "${longName.slice(0, 120)}"…: placed below "/dst", its path is 4225 bytes, above pathBytesMax (4096)`],
  ];
  for (const [header, message] of table) {
    const result = checkTarEntry(header, "/dst");
    t.false(result.ok, header.name);
    if (!result.ok) {
      t.is(result.error.code, "INVALID_ARGUMENT");
      t.is(result.error.message, message);
    }
  }
  t.throws(() => checkTarEntry({ name: "a" }, "dst"), { instanceOf: AssertionError });
});

/** Packs `entries` with tar-stream and returns the headers its reader yields, in order. */
async function roundTrip(entries: (Partial<Header> & { name: string })[]): Promise<Header[]> {
  const packer = pack();
  for (const entry of entries) {
    if (entry.type === "file") packer.entry(entry, "data");
    else packer.entry(entry);
  }
  packer.finalize();
  const reader = extract();
  const headers: Header[] = [];
  const done = (async () => {
    for await (const entry of reader) {
      headers.push(entry.header);
      entry.resume();
    }
  })();
  packer.pipe(reader);
  await done;
  return headers;
}

test("headers read back from a real hostile archive are judged by their real types", async (t) => {
  const headers = await roundTrip([
    { name: "ok/a.txt", type: "file" },
    { name: "ok/sub", type: "directory" },
    { name: "ok/link", type: "symlink", linkname: "/etc/shadow" },
    { name: "ok/hard", type: "link", linkname: "ok/a.txt" },
    { name: "ok/pipe", type: "fifo" },
    { name: "../escape.txt", type: "file" },
    { name: `deep/${"d".repeat(150)}/${"e".repeat(150)}/f.txt`, type: "file" },
  ]);
  const verdicts = headers.map((header) => {
    const result = checkTarEntry(header, "/in");
    return result.ok ? `${result.value.kind} ${result.value.path}` : result.error.message.split(": ")[1];
  });
  t.deepEqual(verdicts, [
    "file /in/ok/a.txt",
    "directory /in/ok/sub",
    'it is a symlink to "/etc/shadow"; pfs stores no links',
    'it is a hard link to "ok/a.txt"; pfs stores no links',
    "it is a fifo; pfs stores only files and directories",
    'placed below "/in", its path has a ".." segment, which is not allowed',
    `file /in/deep/${"d".repeat(150)}/${"e".repeat(150)}/f.txt`,
  ]);
});

test("property: an accepted entry is normalized and under the target", (t) => {
  const piece = fc.constantFrom("a", "b", "/", "/", ".", "..", "./", "\u0000", "é", " ");
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join("")),
      fc.constantFrom("/", "/t", "/t/u"),
      fc.constantFrom("file", "directory", "symlink", undefined),
      (name, prefix, type) => {
        const result = checkTarEntry(type === undefined ? { name } : { name, type }, prefix);
        if (!result.ok) return true;
        return type !== "symlink" && isNormalizedPath(result.value.path) &&
          isUnder(prefix, result.value.path) && !name.split("/").includes("..") &&
          !name.startsWith("/") && !name.includes("\u0000");
      },
    ),
    { seed, numRuns: 2_000 },
  );
  t.pass();
});
