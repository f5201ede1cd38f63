// Goal: the pure parts of pkg/pfs/meta hold their contracts: commit references parse as
// pachctl writes them (and anything else is refused with a sentence), names that would make
// keys ambiguous are refused, records round-trip and a damaged record is DATA_CORRUPTED naming
// its key, and a prefix's range end bounds exactly the keys that start with it.
// Method: examples for each rule, plus fast-check properties (seeded; fast-check prints the
// seed and the counterexample on failure).
import test from "ava";
import fc from "fast-check";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; meta/index.ts is its API
import * as meta from "../../../pkg/pfs/meta/index.js";

test("commit references: bases, ^ and ~ steps that add up", (t) => {
  const parsed = (text: string): unknown => {
    const result = meta.parseCommitRef(text);
    return result.ok ? result.value : result.error;
  };
  t.deepEqual(parsed("master"), { base: "master", steps: 0 });
  t.deepEqual(parsed("master^"), { base: "master", steps: 1 });
  t.deepEqual(parsed("master^^~"), { base: "master", steps: 3 });
  t.deepEqual(parsed("master^3"), { base: "master", steps: 3 });
  t.deepEqual(parsed("master~2^1"), { base: "master", steps: 3 });
  t.deepEqual(parsed("master^0"), { base: "master", steps: 0 });
  t.deepEqual(parsed(`${"a".repeat(32)}^12`), { base: "a".repeat(32), steps: 12 });
  for (const bad of ["", "^1", "~", "master^x", "master^1a", "master^ 1", "master^10001"]) {
    const result = meta.parseCommitRef(bad);
    t.false(result.ok, bad);
    if (!result.ok) t.true(result.error.startsWith("commit reference"), result.error);
  }
});

test("commit references: any base with any steps parses back to its total", (t) => {
  fc.assert(fc.property(
    fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/),
    fc.array(fc.tuple(fc.constantFrom("^", "~"), fc.option(fc.integer({ min: 0, max: 50 }))),
      { maxLength: 20 }),
    (base, steps) => {
      const text = base + steps.map(([mark, n]) => `${mark}${n ?? ""}`).join("");
      const total = steps.reduce((sum, [, n]) => sum + (n ?? 1), 0);
      const result = meta.parseCommitRef(text);
      return result.ok && result.value.base === base && result.value.steps === total;
    }));
  t.pass();
});

test("names: repo and branch names that would make keys or addresses ambiguous are refused",
  (t) => {
    const code = (check: () => void): string | undefined => {
      try {
        check();
        return undefined;
      } catch (error: unknown) {
        return error instanceof PfsError ? error.code : "not a PfsError";
      }
    };
    for (const good of ["images", "a", "A-b_9", "x".repeat(63)]) {
      t.is(code(() => { meta.checkRepoName(good); }), undefined, good);
    }
    for (const bad of ["", "a/b", "a.b", "a b", "x".repeat(64), "ü", "a\u0000"]) {
      t.is(code(() => { meta.checkRepoName(bad); }), "INVALID_ARGUMENT", bad);
    }
    for (const good of ["master", "v1.2", "feature_x-y"]) {
      t.is(code(() => { meta.checkBranchName(good); }), undefined, good);
    }
    for (const bad of ["", ".", "..", "a/b", "a^b", "a~1", "0123456789abcdef0123456789abcdef",
      "b".repeat(129)]) {
      t.is(code(() => { meta.checkBranchName(bad); }), "INVALID_ARGUMENT", bad);
    }
    t.true(meta.isCommitId("0123456789abcdef0123456789abcdef"));
    t.false(meta.isCommitId("0123456789ABCDEF0123456789ABCDEF"));
    t.is(code(() => { meta.checkCommitId("abc"); }), "INVALID_ARGUMENT");
    t.is(new meta.MetaKeys("/pfs").branch("r", "m"), "/pfs/branches/r/m");
    t.throws(() => new meta.MetaKeys("pfs/"), { instanceOf: PfsError });
  });

const commit = {
  repo: "r", id: "a".repeat(32), branch: "master", parent: "", state: "finished" as const,
  description: "d", startedMs: 1, finishedMs: 2, sizeBytes: 3, error: "", provenance: ["x@y"],
};

test("records round-trip; damaged ones are DATA_CORRUPTED naming their key", (t) => {
  const key = "/pfs/commits/r/aaaa";
  t.deepEqual(meta.decodeCommitInfo(key, meta.encodeRecord(commit)), commit);
  const branch = { repo: "r", name: "m", head: "", open: commit.id };
  t.deepEqual(meta.decodeBranchRecord(key, meta.encodeRecord(branch)), branch);
  const repo = { name: "r", description: "", createdMs: 5 };
  t.deepEqual(meta.decodeRepoInfo(key, meta.encodeRecord(repo)), repo);
  t.deepEqual(meta.decodeClusterConfig(key, meta.encodeRecord({ shards: 4, createdMs: 1 })),
    { shards: 4, createdMs: 1 });
  const damaged = [
    "not json", "[]", "null", JSON.stringify({ ...commit, state: "done" }),
    JSON.stringify({ ...commit, sizeBytes: -1 }), JSON.stringify({ ...commit, sizeBytes: 1.5 }),
    JSON.stringify({ ...commit, provenance: [1] }), JSON.stringify({ ...commit, id: 7 }),
  ];
  for (const text of damaged) {
    const error = t.throws(() => meta.decodeCommitInfo(key, Buffer.from(text)),
      { instanceOf: PfsError }, text);
    t.is(error.code, "DATA_CORRUPTED");
    t.true(error.message.includes(key));
  }
});

test("a prefix's range end bounds exactly the keys that start with it", (t) => {
  t.deepEqual(meta.prefixEnd("/pfs/commits/r/"), Buffer.from("/pfs/commits/r0"));
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 6 }),
    fc.uint8Array({ maxLength: 8 }), (prefixBytes, keyBytes) => {
      const prefix = Buffer.from(prefixBytes).toString("latin1");
      const end = meta.prefixEnd(prefix);
      const key = Buffer.from(keyBytes);
      const start = Buffer.from(prefix, "utf8");
      const inside = Buffer.compare(key, start) >= 0 && Buffer.compare(key, end) < 0;
      return inside === key.subarray(0, start.length).equals(start);
    }));
  t.pass();
});
