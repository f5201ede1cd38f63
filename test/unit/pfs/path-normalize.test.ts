// Goal: normalizePath accepts exactly the paths DESIGN.md §3 allows and returns their one
// normalized form; it refuses "..", NUL and other control characters, unpaired surrogates and
// overlong paths or segments with an exact, stable message; the helpers built on normalized
// paths (parent, base name, isUnder, joinPath, relativePath) agree with each other.
// Method: accept/refuse tables with exact texts, then fast-check properties (seed printed by
// fast-check on failure; set PFS_TEST_SEED to replay).
import test from "ava";
import fc from "fast-check";
import { AssertionError, PfsError } from "../../../pkg/common/index.js";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import {
  baseName,
  isNormalizedPath,
  isUnder,
  joinPath,
  normalizePath,
  parentPath,
  pathBytesMax,
  pathSegments,
  relativePath,
} from "../../../pkg/pfs/path/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);
const runs = { seed, numRuns: 2_000 };

test("normalizePath accepts and normalizes", (t) => {
  const table: [string, string][] = [
    ["/", "/"],
    ["//", "/"],
    ["/.", "/"],
    ["/a", "/a"],
    ["/a/", "/a"],
    ["//a///b//", "/a/b"],
    ["/./a/./b/.", "/a/b"],
    ["/a b/c\\d", "/a b/c\\d"],
    ["/é/日本/😀", "/é/日本/😀"],
    ["/.../.hidden/a..b/..c", "/.../.hidden/a..b/..c"],
    ["/a:b@c^d~e*f?[g]", "/a:b@c^d~e*f?[g]"],
    [`/${"x".repeat(255)}`, `/${"x".repeat(255)}`],
  ];
  for (const [raw, normalized] of table) {
    t.deepEqual(normalizePath(raw), { ok: true, value: normalized }, JSON.stringify(raw));
  }
});

test("normalizePath refuses with exact messages, as INVALID_ARGUMENT", (t) => {
  const longSegment = `/${"x".repeat(256)}`;
  const longPath = `/${"x".repeat(200)}`.repeat(21);
  const table: [string, string][] = [
    ["", 'invalid path "": it is empty'],
    ["a/b", 'invalid path "a/b": it must start with "/"'],
    ["./a", 'invalid path "./a": it must start with "/"'],
    ["/..", 'invalid path "/..": it has a ".." segment, which is not allowed'],
    ["/a/../b", 'invalid path "/a/../b": it has a ".." segment, which is not allowed'],
    ["/a/..", 'invalid path "/a/..": it has a ".." segment, which is not allowed'],
    ["/a\u0000b", 'invalid path "/a\\u0000b": it contains a NUL byte'],
    ["/a\nb", 'invalid path "/a\\nb": it contains the control character U+000A'],
    ["/a\u001b[2J", 'invalid path "/a\\u001b[2J": it contains the control character U+001B'],
    ["/a\u007f", 'invalid path "/a\\u007f": it contains the control character U+007F'],
    ["/a\u009b", 'invalid path "/a\\u009b": it contains the control character U+009B'],
    ["/a\ud800", 'invalid path "/a\\ud800": it contains an unpaired UTF-16 surrogate'],
    ["/a\udc00b", 'invalid path "/a\\udc00b": it contains an unpaired UTF-16 surrogate'],
    [longSegment, `invalid path "${longSegment.slice(0, 120)}"…: it has a segment of 256 bytes, above pathSegmentBytesMax (255)`],
    [`/${"é".repeat(128)}`, `invalid path "/${"é".repeat(119)}"…: it has a segment of 256 bytes, above pathSegmentBytesMax (255)`],
    [longPath, `invalid path "${longPath.slice(0, 120)}"…: it is 4221 bytes, above pathBytesMax (4096)`],
  ];
  for (const [raw, message] of table) {
    const result = normalizePath(raw);
    if (result.ok) {
      t.fail(`accepted ${JSON.stringify(raw)}`);
      continue;
    }
    t.true(result.error instanceof PfsError);
    t.is(result.error.code, "INVALID_ARGUMENT");
    t.is(result.error.message, message);
  }
});

test("a path of exactly pathBytesMax bytes is accepted, one more byte is not", (t) => {
  const segment = `/${"y".repeat(255)}`; // 256 bytes
  const exact = segment.repeat(pathBytesMax / 256);
  t.is(exact.length, pathBytesMax);
  t.true(normalizePath(exact).ok);
  t.false(normalizePath(`${exact}z`).ok);
  t.true(normalizePath(`${exact}/`).ok, "a trailing slash does not count");
});

test("parentPath, baseName and pathSegments", (t) => {
  t.is(parentPath("/a"), "/");
  t.is(parentPath("/a/b/c.csv"), "/a/b");
  t.is(baseName("/a/b/c.csv"), "c.csv");
  t.is(baseName("/"), "");
  t.deepEqual(pathSegments("/"), []);
  t.deepEqual(pathSegments("/a/b"), ["a", "b"]);
  t.throws(() => parentPath("/"), { instanceOf: AssertionError });
  t.throws(() => baseName("a/b"), { instanceOf: AssertionError });
  t.throws(() => parentPath("/a/"), { instanceOf: AssertionError });
});

test("isUnder is inclusive and segment-aware", (t) => {
  t.true(isUnder("/", "/"));
  t.true(isUnder("/", "/a/b"));
  t.true(isUnder("/a", "/a"));
  t.true(isUnder("/a", "/a/b"));
  t.false(isUnder("/a", "/ab"));
  t.false(isUnder("/a/b", "/a"));
  t.false(isUnder("/a", "/"));
  t.throws(() => isUnder("/a/", "/a/b"), { instanceOf: AssertionError });
});

test("joinPath resolves relative input below a directory, refusing escapes", (t) => {
  t.deepEqual(joinPath("/", "a/b"), { ok: true, value: "/a/b" });
  t.deepEqual(joinPath("/d", "./a//b/"), { ok: true, value: "/d/a/b" });
  t.deepEqual(joinPath("/d", ""), { ok: true, value: "/d" });
  const refusals: [string, string, string][] = [
    ["/d", "../x", 'invalid path "../x": joined below "/d", it has a ".." segment, which is not allowed'],
    ["/d", "a/../../x", 'invalid path "a/../../x": joined below "/d", it has a ".." segment, which is not allowed'],
    ["/d", "/etc", 'invalid path "/etc": it is relative, so it must not start with "/"'],
    ["/d", "a\u0000", 'invalid path "a\\u0000": joined below "/d", it contains a NUL byte'],
  ];
  for (const [dir, relative, message] of refusals) {
    const result = joinPath(dir, relative);
    t.false(result.ok);
    if (!result.ok) t.is(result.error.message, message);
  }
});

test("relativePath", (t) => {
  t.is(relativePath("/", "/a/b"), "a/b");
  t.is(relativePath("/a", "/a/b/c"), "b/c");
  t.is(relativePath("/a", "/a"), "");
  t.throws(() => relativePath("/a", "/ab"), { instanceOf: AssertionError });
});

/** Path-like strings from pieces that exercise every rule. */
const rawPath = fc
  .array(fc.constantFrom("/", "/", "/", ".", "..", "a", "b", "é", "😀", "\u0000", "\n", "\\", " "), {
    maxLength: 16,
  })
  .map((pieces) => pieces.join(""));

test("property: normalization is idempotent and its output has no '..', '//', '.', NUL, trailing '/'", (t) => {
  fc.assert(
    fc.property(rawPath, (raw) => {
      const first = normalizePath(raw);
      if (!first.ok) return true;
      const value = first.value;
      const again = normalizePath(value);
      const segments = value === "/" ? [] : value.slice(1).split("/");
      return (
        again.ok && again.value === value && isNormalizedPath(value) && value.startsWith("/") &&
        !value.includes("//") && !value.includes("\u0000") && (value === "/" || !value.endsWith("/")) &&
        segments.every((segment) => segment !== "" && segment !== "." && segment !== "..")
      );
    }),
    runs,
  );
  t.pass();
});

test("property: accepted iff it starts with '/' and has no '..' segment or control character", (t) => {
  fc.assert(
    fc.property(rawPath, (raw) => {
      const expected = raw.startsWith("/") && !raw.split("/").includes("..") && !/[\p{Cc}]/u.test(raw);
      return normalizePath(raw).ok === expected;
    }),
    runs,
  );
  t.pass();
});

test("property: joinPath stays under its directory and relativePath inverts it", (t) => {
  const dir = fc.constantFrom("/", "/d", "/d/e");
  fc.assert(
    fc.property(dir, rawPath, (base, raw) => {
      const relative = raw.replace(/^\/+/, "");
      const joined = joinPath(base, relative);
      if (!joined.ok) return relative.split("/").includes("..") || /[\p{Cc}]/u.test(relative);
      const back = relativePath(base, joined.value);
      const rejoined = joinPath(base, back);
      return isUnder(base, joined.value) && rejoined.ok && rejoined.value === joined.value &&
        !back.startsWith("/") && !back.split("/").includes("..");
    }),
    runs,
  );
  t.pass();
});
