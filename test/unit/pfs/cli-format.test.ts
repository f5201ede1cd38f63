// Goal: the CLI's argument parsing and output formatting, without a server: pachctl addresses
// become the right API references (defaults: master, "/"), bad arguments are INVALID_ARGUMENT
// with the input quoted, tables align with exact text, --json is one JSON value on one line,
// sizes and times read as documented, and the progress bar draws only on a terminal above
// 8 MiB. Method: exact expected strings; a fast-check property for table alignment.
import test from "ava";
import fc from "fast-check";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  type CommitInfoMessage, type FileInfoMessage, ProgressBar, formatBytes, formatCommits,
  formatDiff, formatFiles, formatJson, formatRepos, formatTable, formatTime, parseBranchArg,
  parseByteCount, parseCommitArg, parseFileArg, parseGlobArg, parseRepoArg, parseSyncTarget,
  renderProgress,
} from "../../../pkg/pfs/client/index.js";

const id = "0123456789abcdef0123456789abcdef";

test("file addresses default to master and the root", (t) => {
  t.deepEqual(parseFileArg("images"), { commit: { repo: "images", commit: "master" }, path: "/" });
  t.deepEqual(parseFileArg("images@dev:/a//b/"),
    { commit: { repo: "images", commit: "dev" }, path: "/a/b" });
  t.deepEqual(parseFileArg(`images@${id}^2:/x.csv`),
    { commit: { repo: "images", commit: `${id}^2` }, path: "/x.csv" });
});

test("commit, branch, repo, glob and sync arguments", (t) => {
  t.deepEqual(parseCommitArg("r@master^"), { repo: "r", commit: "master^" });
  t.deepEqual(parseCommitArg("r", true), { repo: "r", commit: "" });
  t.deepEqual(parseBranchArg("r@feature.x"), { repo: "r", branch: "feature.x" });
  t.is(parseRepoArg("my-repo_1"), "my-repo_1");
  t.deepEqual(parseGlobArg("r@b:/**.csv"),
    { commit: { repo: "r", commit: "b" }, pattern: "/**.csv" });
  t.deepEqual(parseGlobArg("r:/*"), { commit: { repo: "r", commit: "master" }, pattern: "/*" });
  t.deepEqual(parseSyncTarget("r@b"), { repo: "r", branch: "b", prefix: "/" });
  t.deepEqual(parseSyncTarget("r@b:/in/"), { repo: "r", branch: "b", prefix: "/in" });
  t.is(parseByteCount("--offset", "1048576"), 1_048_576n);
});

test("bad arguments are INVALID_ARGUMENT errors that quote the input", (t) => {
  const cases: [() => unknown, RegExp][] = [
    [() => parseCommitArg("r"), /"r" is not a commit: write repo@branch/],
    [() => parseCommitArg("r@b:/p"), /"r@b:\/p" is not a commit: a commit has no path/],
    [() => parseBranchArg("r@b^"), /"r@b\^" is not a branch/],
    [() => parseBranchArg(`r@${id}`), /is not a branch/],
    [() => parseRepoArg("r@b"), /"r@b" is not a repo/],
    [() => parseFileArg("r@b:/a/../../x"), /invalid address "r@b:\/a\/..\/..\/x"/],
    [() => parseFileArg("r@b:/a\u0000b"), /invalid address/],
    [() => parseGlobArg("r@b"), /write repo@branch:\/pattern/],
    [() => parseGlobArg("r@b:x*"), /must start with "\/"/],
    [() => parseSyncTarget(`r@${id}`), /is not a sync target/],
    [() => parseByteCount("--length", "-1"), /--length must be a byte count, got "-1"/],
  ];
  for (const [call, message] of cases) {
    const error = t.throws(call, { instanceOf: PfsError, message });
    t.is(error.code, "INVALID_ARGUMENT");
  }
});

test("sizes and times for people", (t) => {
  t.is(formatBytes(0), "0 B");
  t.is(formatBytes(1023), "1023 B");
  t.is(formatBytes(1536), "1.5 KiB");
  t.is(formatBytes("10485760"), "10 MiB");
  t.is(formatBytes(123 * 1024 ** 3), "123 GiB");
  t.is(formatTime("0"), "-");
  t.is(formatTime("1764464523000"), "2025-11-30 01:02:03");
});

function commit(overrides: Partial<CommitInfoMessage>): CommitInfoMessage {
  return {
    repo: "images", id, branch: "master", parent: "", state: "FINISHED", description: "",
    started_ms: "1764464523000", finished_ms: "1764464524000", size_bytes: "2048", error: "",
    provenance: [], ...overrides,
  };
}

test("tables align with exact text", (t) => {
  t.is(formatRepos([
    { name: "images", description: "raw", created_ms: "1764464523000" },
    { name: "a", description: "", created_ms: "0" },
  ]),
  "NAME    CREATED              DESCRIPTION\n" +
  "images  2025-11-30 01:02:03  raw\n" +
  "a       -\n");
  t.is(formatCommits([commit({ state: "OPEN", size_bytes: "0" })]),
    "REPO    BRANCH  COMMIT                            PARENT  STATE  STARTED              SIZE\n" +
    `images  master  ${id}  -       open   2025-11-30 01:02:03  0 B\n`);
  const file = (path: string, type: FileInfoMessage["type"], size: string): FileInfoMessage =>
    ({ path, type, size_bytes: size, hash: "", chunks: [], commit: id });
  t.is(formatFiles([file("/a", "DIR", "3072"), file("/b.csv", "FILE", "5")]),
    "NAME    TYPE  SIZE\n/a      dir   3 KiB\n/b.csv  file  5 B\n");
  t.is(formatDiff([
    { new_file: file("/new", "FILE", "1"), old_file: null },
    { new_file: null, old_file: file("/gone", "FILE", "2") },
    { new_file: file("/x", "FILE", "3"), old_file: file("/x", "FILE", "1") },
  ]), "OP  PATH   SIZE\n+   /new   1 B\n-   /gone  2 B\n~   /x     1 B -> 3 B\n");
});

test("every table row has its cells at the header's column offsets", (t) => {
  const cell = fc.string({ unit: fc.constantFrom("a", "b", "-", "/", "1"), maxLength: 12 });
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }).chain((columns) => fc.tuple(
    fc.array(cell.filter((text) => text !== ""), { minLength: columns, maxLength: columns }),
    fc.array(fc.array(cell.map((text) => text === "" ? "x" : text),
      { minLength: columns, maxLength: columns }), { maxLength: 6 }))),
  ([header, rows]) => {
    const lines = formatTable(header, rows).split("\n");
    t.is(lines.pop(), "");
    t.is(lines.length, rows.length + 1);
    const table = [header, ...rows];
    let offset = 0;
    for (let column = 0; column < header.length; column++) {
      table.forEach((row, index) => {
        t.is(lines[index]?.slice(offset, offset + (row[column] ?? "").length), row[column]);
      });
      offset += Math.max(...table.map((row) => (row[column] ?? "").length)) + 2;
    }
  }), { seed: 42, numRuns: 100 });
});

test("--json is one value on one line", (t) => {
  const text = formatJson([commit({}), commit({ id: id.replace("0", "f") })]);
  t.is(text.split("\n").length, 2);
  t.true(text.endsWith("\n"));
  const parsed = JSON.parse(text) as CommitInfoMessage[];
  t.is(parsed.length, 2);
  t.is(parsed[0]?.size_bytes, "2048");
});

test("the progress bar draws only on a terminal above 8 MiB", (t) => {
  const mib = 1024 * 1024;
  t.is(renderProgress("put /x", 50 * mib, 100 * mib, 1000, 100),
    "put /x [####################....................]  50 MiB / 100 MiB  50 MiB/s  ETA 1s");
  t.is(renderProgress("get /y", 2 * mib, undefined, 2000), "get /y  2 MiB  1 MiB/s");
  let now = 0;
  const drawn: string[] = [];
  const run = (isTTY: boolean, total: number | undefined, bytes: number): number => {
    drawn.length = 0;
    const bar = new ProgressBar("put", total, { isTTY, write: (text) => drawn.push(text) },
      () => now);
    for (let i = 0; i < 4; i++) {
      now += 1000;
      bar.add(bytes / 4);
    }
    bar.finish();
    return drawn.length;
  };
  t.is(run(false, 64 * mib, 64 * mib), 0);
  t.is(run(true, 4 * mib, 4 * mib), 0);
  t.is(run(true, 64 * mib, 64 * mib), 6);
  t.is(drawn.at(-1), "\n");
  t.is(run(true, undefined, 4 * mib), 0);
  t.true(run(true, undefined, 64 * mib) > 0);
});
