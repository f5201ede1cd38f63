// Goal: pachctl addresses (repo, repo@branch, repo@<commit>, ancestry ^ ~ ^N, :/path) parse to
// the typed address and format back; malformed ones get an exact INVALID_ARGUMENT message.
// Method: tables, then a fast-check property that parse(format(a)) = a for generated valid
// addresses (fast-check prints the seed on failure; PFS_TEST_SEED replays one).
import test from "ava";
import fc from "fast-check";
import { AssertionError } from "../../../pkg/common/index.js";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import {
  type Address,
  ancestryStepsMax,
  formatAddress,
  parseAddress,
  refOf,
} from "../../../pkg/pfs/path/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);
const id = "0123456789abcdef0123456789abcdef";

test("addresses parse to typed addresses", (t) => {
  const table: [string, Address][] = [
    ["images", { repo: "images" }],
    ["images@master", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 0 } }],
    [`images@${id}`, { repo: "images", ref: { kind: "commit", id, ancestry: 0 } }],
    ["images@master^", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 1 } }],
    ["images@master^2", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 2 } }],
    ["images@master^^^", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 3 } }],
    ["images@master~3", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 3 } }],
    ["images@master~2^", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 3 } }],
    ["images@master^0", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 0 } }],
    [`images@${id}^2:/a`, { repo: "images", ref: { kind: "commit", id, ancestry: 2 }, path: "/a" }],
    ["images@master:/", { repo: "images", ref: { kind: "branch", name: "master", ancestry: 0 }, path: "/" }],
    ["images@dev:/a//b/", { repo: "images", ref: { kind: "branch", name: "dev", ancestry: 0 }, path: "/a/b" }],
    ["images@dev:/a:b@c", { repo: "images", ref: { kind: "branch", name: "dev", ancestry: 0 }, path: "/a:b@c" }],
    ["images:/x.png", { repo: "images", path: "/x.png" }],
    ["images@release-1.2~", { repo: "images", ref: { kind: "branch", name: "release-1.2", ancestry: 1 } }],
    [`images@${id.toUpperCase()}`, { repo: "images", ref: { kind: "branch", name: id.toUpperCase(), ancestry: 0 } }],
  ];
  for (const [raw, address] of table) t.deepEqual(parseAddress(raw), { ok: true, value: address }, raw);
});

test("malformed addresses are refused with exact messages", (t) => {
  const table: [string, string][] = [
    ["", 'invalid address "": the repo name is empty'],
    ["@master", 'invalid address "@master": the repo name is empty'],
    [":/a", 'invalid address ":/a": the repo name is empty'],
    ["images@", 'invalid address "images@": the branch or commit after "@" is empty'],
    ["images@:/a", 'invalid address "images@:/a": the branch or commit after "@" is empty'],
    ["images@^2", 'invalid address "images@^2": the branch or commit after "@" is empty'],
    ["images^2", 'invalid address "images^2": an ancestry ("^" or "~") needs a branch or commit: write repo@branch^N'],
    ["images@master^x", 'invalid address "images@master^x": the ancestry "^x" is not a run of "^", "~", "^N" or "~N"'],
    ["images@master^-1", 'invalid address "images@master^-1": the ancestry "^-1" is not a run of "^", "~", "^N" or "~N"'],
    ["images@master^10001", 'invalid address "images@master^10001": the ancestry "^10001" is above ancestryStepsMax (10000)'],
    ["images@master^9999^2", 'invalid address "images@master^9999^2": the ancestry "^9999^2" is above ancestryStepsMax (10000)'],
    ["images@master^99999999999999999999", 'invalid address "images@master^99999999999999999999": the ancestry "^99999999999999999999" is above ancestryStepsMax (10000)'],
    ["images@..", 'invalid address "images@..": the branch name must not be ".."'],
    ["images@a@b", 'invalid address "images@a@b": the branch name contains "@"; only letters, digits, "_", "-" and "." are allowed'],
    ["images@master:", 'invalid address "images@master:": the path is empty'],
    ["images@master:a/b", 'invalid address "images@master:a/b": the path must start with "/"'],
    ["images@master:/a/../b", 'invalid address "images@master:/a/../b": the path has a ".." segment, which is not allowed'],
    ["ima ges@master", 'invalid address "ima ges@master": the repo name contains U+0020; only letters, digits, "_" and "-" are allowed'],
    ["-rf@master", 'invalid address "-rf@master": the repo name must not start with "-"'],
  ];
  for (const [raw, message] of table) {
    const result = parseAddress(raw);
    t.false(result.ok, raw);
    if (!result.ok) {
      t.is(result.error.code, "INVALID_ARGUMENT");
      t.is(result.error.message, message);
    }
  }
});

test("refOf: an address without a ref means the head of master", (t) => {
  t.deepEqual(refOf({ repo: "r" }), { kind: "branch", name: "master", ancestry: 0 });
  const ref = { kind: "commit" as const, id, ancestry: 2 };
  t.is(refOf({ repo: "r", ref }), ref);
});

test("the ancestry limit itself is accepted", (t) => {
  const result = parseAddress(`r@b^${ancestryStepsMax}`);
  t.true(result.ok && result.value.ref?.ancestry === ancestryStepsMax);
  t.false(parseAddress(`r@b^${ancestryStepsMax}^`).ok);
});

test("formatAddress writes pachctl's text and asserts on invalid addresses", (t) => {
  t.is(formatAddress({ repo: "r" }), "r");
  t.is(formatAddress({ repo: "r", ref: { kind: "branch", name: "m", ancestry: 1 } }), "r@m^");
  t.is(formatAddress({ repo: "r", ref: { kind: "commit", id, ancestry: 5 }, path: "/a" }), `r@${id}^5:/a`);
  t.is(formatAddress({ repo: "r", path: "/" }), "r:/");
  t.throws(() => formatAddress({ repo: "a b" }), { instanceOf: AssertionError });
  t.throws(() => formatAddress({ repo: "r", path: "/a/" }), { instanceOf: AssertionError });
  t.throws(() => formatAddress({ repo: "r", ref: { kind: "branch", name: id, ancestry: 0 } }), {
    instanceOf: AssertionError,
  });
  t.throws(() => formatAddress({ repo: "r", ref: { kind: "branch", name: "m", ancestry: -1 } }), {
    instanceOf: AssertionError,
  });
});

const nameCharacter = fc.constantFrom(...Array.from("abcXYZ019_-"));
const name = (max: number, unit = nameCharacter): fc.Arbitrary<string> =>
  fc.string({ unit, minLength: 1, maxLength: max })
    .filter((text) => !text.startsWith("-") && text !== "." && text !== "..");
const segment = fc.string({ unit: fc.constantFrom(...Array.from("ab.:@^~ é😀-")), minLength: 1, maxLength: 6 })
  .filter((text) => text !== "." && text !== "..");
const addressArbitrary: fc.Arbitrary<Address> = fc.record(
  {
    repo: name(8),
    ref: fc.oneof(
      fc.record({
        kind: fc.constant("branch" as const),
        name: name(8, fc.constantFrom(...Array.from("abcXYZ019_-."))),
        ancestry: fc.nat({ max: ancestryStepsMax }),
      }),
      fc.record({
        kind: fc.constant("commit" as const),
        id: fc.string({ unit: fc.constantFrom(...Array.from("0123456789abcdef")), minLength: 32, maxLength: 32 }),
        ancestry: fc.nat({ max: 12 }),
      }),
    ),
    path: fc.array(segment, { maxLength: 4 }).map((segments) => `/${segments.join("/")}`),
  },
  { requiredKeys: ["repo"] },
);

test("property: parse(format(address)) = address", (t) => {
  fc.assert(
    fc.property(addressArbitrary, (address) => {
      const parsed = parseAddress(formatAddress(address));
      t.deepEqual(parsed, { ok: true, value: address });
      return parsed.ok;
    }),
    { seed, numRuns: 2_000 },
  );
});

test("property: format(parse(text)) is parse-equivalent to text", (t) => {
  const piece = fc.constantFrom("r", "@", "m", "^", "~", "2", ":", "/", "a", ".", "x");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const parsed = parseAddress(pieces.join(""));
      if (!parsed.ok) return true;
      const again = parseAddress(formatAddress(parsed.value));
      return again.ok && JSON.stringify(again.value) === JSON.stringify(parsed.value);
    }),
    { seed, numRuns: 2_000 },
  );
  t.pass();
});
