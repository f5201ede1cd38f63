// Goal: globs behave as pkg/pfs/path/glob.ts documents (pachctl/Pachyderm style): `*` within a
// segment, `**` across segments, `?`, classes, escapes; the root only matches "/"; malformed
// patterns get exact INVALID_ARGUMENT messages; every match lies under the glob's prefix;
// datumRootOf finds the shortest matching ancestor; no pattern makes matching blow up.
// Method: tables, a differential property against a reference RegExp for patterns without
// `**`, and `**` equivalence properties (fast-check prints the seed; PFS_TEST_SEED replays).
import test from "ava";
import fc from "fast-check";
import { AssertionError } from "../../../pkg/common/index.js";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import {
  baseName,
  compileGlob,
  type Glob,
  globMatch,
  isUnder,
  normalizePath,
  pathSegments,
} from "../../../pkg/pfs/path/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);
const runs = { seed, numRuns: 1_500 };

function compiled(pattern: string): Glob {
  const glob = compileGlob(pattern);
  if (!glob.ok) throw new Error(`${pattern}: ${glob.error.message}`);
  return glob.value;
}

test("matching table", (t) => {
  const table: [string, string, boolean][] = [
    ["/", "/", true],
    ["/", "/a", false],
    ["/*", "/", false],
    ["/*", "/a", true],
    ["/*", "/a/b", false],
    ["/*/", "/a", true],
    ["//*//", "/a", true],
    ["/*/*", "/a/b", true],
    ["/*/*", "/a", false],
    ["/**", "/", false],
    ["/**", "/a", true],
    ["/**", "/a/b/c", true],
    ["/**.csv", "/a.csv", true],
    ["/**.csv", "/x/y/z.csv", true],
    ["/**.csv", "/x/y/z.csvx", false],
    ["/*.csv", "/x/y.csv", false],
    ["/a/**", "/a", false],
    ["/a/**", "/a/b", true],
    ["/a/**", "/a/b/c", true],
    ["/a/**", "/ab/c", false],
    ["/a/**/b", "/a/b", true],
    ["/a/**/b", "/a/x/y/b", true],
    ["/a/**/b", "/a/xb", false],
    ["/a/**/b", "/a/x/yb", false],
    ["/**/b", "/b", true],
    ["/**/b", "/x/b", true],
    ["/**/b", "/xb", false],
    ["/a**b", "/a/x/b", true],
    ["/a**b", "/ab", true],
    ["/?", "/a", true],
    ["/?", "/ab", false],
    ["/?", "/😀", true],
    ["/a?c", "/a/c", false],
    ["/[abc]", "/b", true],
    ["/[abc]", "/d", false],
    ["/[a-c]x", "/bx", true],
    ["/[!a-c]x", "/bx", false],
    ["/[!a-c]x", "/dx", true],
    ["/[^a]", "/b", true],
    ["/[]]", "/]", true],
    ["/[!]]", "/]", false],
    ["/[a-]", "/-", true],
    ["/[\\]]", "/]", true],
    ["/\\*", "/*", true],
    ["/\\*", "/a", false],
    ["/\\?\\[", "/?[", true],
    ["/a/./b", "/a/b", true],
    ["/data/*/[0-9][0-9].json", "/data/x/42.json", true],
    ["/data/*/[0-9][0-9].json", "/data/x/4.json", false],
  ];
  for (const [pattern, path, expected] of table) {
    t.is(compiled(pattern).matches(path), expected, `${pattern} ~ ${path}`);
    t.deepEqual(globMatch(pattern, path), { ok: true, value: expected });
  }
});

test("malformed patterns are refused with exact messages", (t) => {
  const table: [string, string][] = [
    ["", 'invalid glob "": it is empty'],
    ["*.csv", 'invalid glob "*.csv": it must start with "/"'],
    ["/a/../b", 'invalid glob "/a/../b": it has a ".." segment, which is not allowed'],
    ["/\\.\\.", 'invalid glob "/\\\\.\\\\.": it has a segment that spells "." or ".." through escapes'],
    ["/a\\", 'invalid glob "/a\\\\": it ends a segment with "\\", which escapes nothing'],
    ["/a\\/b", 'invalid glob "/a\\\\/b": it ends a segment with "\\", which escapes nothing'],
    ["/[abc", 'invalid glob "/[abc": it has a "[" character class with no closing "]"'],
    ["/[", 'invalid glob "/[": it has a "[" character class with no closing "]"'],
    ["/[]", 'invalid glob "/[]": it has a "[" character class with no closing "]"'],
    ["/[a/b]", 'invalid glob "/[a/b]": it has a "[" character class with no closing "]"'],
    ["/[z-a]", 'invalid glob "/[z-a]": it has the character range z-a, which runs backwards'],
    ["/a\u0000", 'invalid glob "/a\\u0000": it contains a NUL byte'],
    [`/${"a".repeat(8192)}`, `invalid glob "/${"a".repeat(119)}"…: it is 8193 bytes, above globPatternBytesMax (8192)`],
  ];
  for (const [pattern, message] of table) {
    const glob = compileGlob(pattern);
    t.false(glob.ok, pattern);
    if (!glob.ok) {
      t.is(glob.error.code, "INVALID_ARGUMENT");
      t.is(glob.error.message, message);
    }
  }
});

test("normalized pattern and literal prefix", (t) => {
  const table: [string, string, string][] = [
    ["/", "/", "/"],
    ["//data//*.csv/", "/data/*.csv", "/data"],
    ["/a/b/c", "/a/b/c", "/a/b/c"],
    ["/a/b*/c", "/a/b*/c", "/a"],
    ["/a/\\*/c?", "/a/\\*/c?", "/a/*"],
    ["/**", "/**", "/"],
    ["/x/**/y", "/x/**/y", "/x"],
    ["/./a/.", "/a", "/a"],
  ];
  for (const [pattern, normalized, prefix] of table) {
    const glob = compiled(pattern);
    t.is(glob.pattern, normalized, pattern);
    t.is(glob.prefix, prefix, pattern);
  }
  t.throws(() => compiled("/*").matches("/a/"), { instanceOf: AssertionError });
});

test("datumRootOf: the shortest ancestor-or-self that matches", (t) => {
  const table: [string, string, string | null][] = [
    ["/", "/a/b", "/"],
    ["/*", "/a/b/c", "/a"],
    ["/*", "/", null],
    ["/*/*", "/a/b/c", "/a/b"],
    ["/*/*", "/a", null],
    ["/**", "/a/b/c", "/a"],
    ["/a/*", "/a/b/c", "/a/b"],
    ["/a/*", "/b/c", null],
    ["/**.csv", "/x/y.csv/z", "/x/y.csv"],
    ["/**/b", "/a/b/c/b", "/a/b"],
  ];
  for (const [pattern, path, root] of table) {
    t.is(compiled(pattern).datumRootOf(path), root, `${pattern} ${path}`);
  }
});

test("no pattern makes matching backtrack: a hostile pattern on a long path is linear", (t) => {
  const glob = compiled(`/${"**a".repeat(40)}b`);
  const path = `/${"a".repeat(250)}`.repeat(16);
  t.false(glob.matches(path));
  t.is(compiled(`/${"*a".repeat(100)}`).matches(`/${"a".repeat(250)}`), true);
});

// ---- Properties ------------------------------------------------------------------------------

const segmentArbitrary = fc.string({ unit: fc.constantFrom("a", "b", "c", ".", "-"), minLength: 1, maxLength: 4 })
  .filter((segment) => segment !== "." && segment !== "..");
const pathArbitrary = fc.array(segmentArbitrary, { maxLength: 5 }).map((segments) => `/${segments.join("/")}`);

/** A reference for patterns without `**`: a RegExp, `*` and `?` never crossing "/". */
function referenceMatch(pattern: string, path: string): boolean {
  if (path === "/" || pattern === "/") return path === pattern;
  const body = pattern.replace(/[.+^${}()|\\-]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`).test(path);
}

test("property: without `**`, matching agrees with a reference RegExp", (t) => {
  const patternSegment = fc.string({ unit: fc.constantFrom("a", "b", ".", "*", "?", "-"), minLength: 1, maxLength: 4 })
    .filter((segment) => !segment.includes("**") && segment !== "." && segment !== "..");
  const patternArbitrary = fc.array(patternSegment, { minLength: 1, maxLength: 4 })
    .map((segments) => `/${segments.join("/")}`);
  fc.assert(
    fc.property(patternArbitrary, pathArbitrary, (pattern, path) =>
      compiled(pattern).matches(path) === referenceMatch(pattern, path)),
    runs,
  );
  t.pass();
});

test("property: `**` equivalences", (t) => {
  const all = compiled("/**");
  const allBelowA = compiled("/a/**");
  const children = compiled("/*");
  const deepCsv = compiled("/**.csv");
  const deepCsvSegments = compiled("/**/*.csv");
  const anyDepthA = compiled("/**/a");
  fc.assert(
    fc.property(pathArbitrary, fc.boolean(), (raw, csv) => {
      const path = csv && raw !== "/" ? `${raw}.csv` : raw;
      const depth = pathSegments(path).length;
      return (
        all.matches(path) === (path !== "/") &&
        allBelowA.matches(path) === (isUnder("/a", path) && path !== "/a") &&
        (depth !== 1 || children.matches(path) === all.matches(path)) &&
        children.matches(path) === (depth === 1) &&
        deepCsv.matches(path) === deepCsvSegments.matches(path) &&
        deepCsv.matches(path) === path.endsWith(".csv") &&
        anyDepthA.matches(path) === (path !== "/" && baseName(path) === "a")
      );
    }),
    runs,
  );
  t.pass();
});

test("property: matches lie under the prefix, an escaped path matches only itself", (t) => {
  const patternSegment = fc.string({ unit: fc.constantFrom("a", "b", "*", "?", "**", "[ab]"), minLength: 1, maxLength: 3 });
  const patternArbitrary = fc.array(patternSegment, { minLength: 1, maxLength: 4 })
    .map((segments) => `/${segments.join("/")}`);
  fc.assert(
    fc.property(patternArbitrary, pathArbitrary, pathArbitrary, (pattern, path, other) => {
      const glob = compiled(pattern);
      const escaped = compiled(path.replace(/[*?[\\]/g, "\\$&"));
      return (!glob.matches(path) || isUnder(glob.prefix, path)) &&
        escaped.matches(path) && escaped.matches(other) === (other === path) &&
        compiled(glob.pattern).pattern === glob.pattern;
    }),
    runs,
  );
  t.pass();
});

test("property: datumRootOf is the shortest matching ancestor-or-self", (t) => {
  const patternSegment = fc.constantFrom("a", "*", "**", "?", "[ab]*", "*.c");
  const patternArbitrary = fc.array(patternSegment, { minLength: 0, maxLength: 3 })
    .map((segments) => `/${segments.join("/")}`);
  fc.assert(
    fc.property(patternArbitrary, pathArbitrary, (pattern, path) => {
      const glob = compiled(pattern);
      const segments = pathSegments(path);
      const ancestors = ["/", ...segments.map((_, index) => `/${segments.slice(0, index + 1).join("/")}`)];
      const expected = ancestors.find((ancestor) => glob.matches(ancestor)) ?? null;
      const root = glob.datumRootOf(path);
      return root === expected && (root === null || normalizePath(root).ok);
    }),
    runs,
  );
  t.pass();
});
