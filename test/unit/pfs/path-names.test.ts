// Goal: repo names, branch names and commit ids follow pachctl's grammar as pkg/pfs/path
// documents it, and every refusal is INVALID_ARGUMENT with an exact message that quotes the
// input safely (no raw control or bidi character reaches a log line).
// Method: accept/refuse tables with exact texts.
import test from "ava";
// pkg/pfs has no index.ts yet; until it re-exports ./path, import the path module's own index.
// eslint-disable-next-line pfs/boundaries
import {
  branchNameBytesMax,
  checkBranchName,
  checkCommitId,
  checkRepoName,
  isCommitId,
  quoteInput,
  repoNameBytesMax,
} from "../../../pkg/pfs/path/index.js";

const commitId = "0123456789abcdef0123456789abcdef";

test("valid repo and branch names are accepted unchanged", (t) => {
  for (const name of ["a", "images", "my_repo-2", "A", "_x", "9lives", "x".repeat(repoNameBytesMax)]) {
    t.deepEqual(checkRepoName(name), { ok: true, value: name });
    t.deepEqual(checkBranchName(name), { ok: true, value: name });
  }
  const longBranch = "b".repeat(branchNameBytesMax);
  t.deepEqual(checkBranchName(longBranch), { ok: true, value: longBranch });
  for (const name of ["release-1.2", "v1.0", ".hidden", "a..b", "..."]) {
    t.deepEqual(checkBranchName(name), { ok: true, value: name });
    t.false(checkRepoName(name).ok, `repo ${name}`);
  }
  // Not exactly a commit id: a branch may be 32 hex digits in upper case or of another length.
  for (const name of [commitId.toUpperCase(), commitId.slice(1), `${commitId}0`]) {
    t.true(checkBranchName(name).ok, name);
  }
});

test("invalid repo names are refused with exact messages", (t) => {
  const only = 'only letters, digits, "_" and "-" are allowed';
  const table: [string, string][] = [
    ["", 'invalid repo name "": it is empty'],
    ["-x", 'invalid repo name "-x": it must not start with "-"'],
    ["a.b", `invalid repo name "a.b": it contains "."; ${only}`],
    ["a b", `invalid repo name "a b": it contains U+0020; ${only}`],
    ["a/b", `invalid repo name "a/b": it contains "/"; ${only}`],
    ["a@b", `invalid repo name "a@b": it contains "@"; ${only}`],
    ["é", `invalid repo name "é": it contains U+00E9; ${only}`],
    ["a😀", `invalid repo name "a😀": it contains U+1F600; ${only}`],
    ["a\u0000", `invalid repo name "a\\u0000": it contains U+0000; ${only}`],
    ["x".repeat(64), `invalid repo name "${"x".repeat(64)}": it is 64 bytes, above repoNameBytesMax (63)`],
  ];
  for (const [name, message] of table) {
    const result = checkRepoName(name);
    t.false(result.ok, name);
    if (!result.ok) {
      t.is(result.error.code, "INVALID_ARGUMENT");
      t.is(result.error.message, message);
    }
  }
});

test("invalid branch names are refused with exact messages", (t) => {
  const table: [string, string][] = [
    ["", 'invalid branch name "": it is empty'],
    [".", 'invalid branch name ".": it must not be "."'],
    ["..", 'invalid branch name "..": it must not be ".."'],
    ["-x", 'invalid branch name "-x": it must not start with "-"'],
    ["master^", 'invalid branch name "master^": it contains "^"; only letters, digits, "_", "-" and "." are allowed'],
    ["a/b", 'invalid branch name "a/b": it contains "/"; only letters, digits, "_", "-" and "." are allowed'],
    [commitId, `invalid branch name "${commitId}": it has the form of a commit id (32 lowercase hex digits)`],
    ["b".repeat(129), `invalid branch name "${"b".repeat(120)}"…: it is 129 bytes, above branchNameBytesMax (128)`],
  ];
  for (const [name, message] of table) {
    const result = checkBranchName(name);
    t.false(result.ok, name);
    if (!result.ok) t.is(result.error.message, message);
  }
});

test("commit ids are exactly 32 lowercase hex digits", (t) => {
  t.true(isCommitId(commitId));
  t.deepEqual(checkCommitId(commitId), { ok: true, value: commitId });
  for (const text of ["", commitId.toUpperCase(), commitId.slice(1), `${commitId}a`, `${commitId.slice(1)}g`]) {
    t.false(isCommitId(text), text);
    const result = checkCommitId(text);
    t.false(result.ok);
    if (!result.ok) t.is(result.error.message, `invalid commit id ${JSON.stringify(text)}: it is not 32 lowercase hex digits`);
  }
});

test("quoted input escapes every control, separator and bidi character and is bounded", (t) => {
  t.is(quoteInput("a\u202eb\u2028c\u0085d\ne"), '"a\\u202eb\\u2028c\\u0085d\\ne"');
  t.is(quoteInput("q".repeat(500)), `"${"q".repeat(120)}"…`);
  t.is(quoteInput('say "hi"'), '"say \\"hi\\""');
});
