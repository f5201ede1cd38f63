/**
 * Repo names, branch names and commit ids (DESIGN.md §3, pachctl's grammar). Pure.
 *
 * - A **repo name** is 1 to `repoNameBytesMax` ASCII letters, digits, "_" and "-", not
 *   starting with "-" (it would read as a flag on a command line). These are pachctl's
 *   characters; they need no quoting in a shell, a URL or an etcd key.
 * - A **branch name** follows the same rules, up to `branchNameBytesMax`, but may also hold
 *   "." (`release-1.2`; the metadata store accepts it too), except as the whole name ("." or
 *   ".."); and it must not have the form of a commit id, so `repo@<32 hex>` always means a
 *   commit. "^", "~", "@", ":" and "/" belong to the address grammar and are never allowed.
 *   (pachctl's `master.1`, "the first commit of master", is therefore not supported: it is
 *   the branch named "master.1".)
 * - A **commit id** is exactly 32 lowercase hex digits (CommitId in model.ts).
 */
import { type PfsError, type Result, err, ok } from "../../common/index.js";
import type { CommitId } from "../model.js";
import { codePointName, invalidInput } from "./invalid-input.js";
import { branchNameBytesMax, repoNameBytesMax } from "./limits.js";
import { utf8Bytes } from "./path.js";

const commitIdPattern = /^[0-9a-f]{32}$/;
const repoCharacterPattern = /^[A-Za-z0-9_-]$/;
const branchCharacterPattern = /^[A-Za-z0-9_.-]$/;
const repoCharacters = 'letters, digits, "_" and "-"';
const branchCharacters = 'letters, digits, "_", "-" and "."';

/** True when `text` is a commit id: exactly 32 lowercase hex digits. */
export function isCommitId(text: string): text is CommitId {
  return commitIdPattern.test(text);
}

/** `text` as a commit id, or an INVALID_ARGUMENT error saying what is wrong with it. */
export function checkCommitId(text: string): Result<CommitId, PfsError> {
  if (isCommitId(text)) return ok(text);
  return err(invalidInput("commit id", text, "it is not 32 lowercase hex digits"));
}

/** `name` if it is a valid repo name, else an INVALID_ARGUMENT error naming it and why. */
export function checkRepoName(name: string): Result<string, PfsError> {
  const reason = repoNameReason(name);
  return reason === null ? ok(name) : err(invalidInput("repo name", name, `it ${reason}`));
}

/** `name` if it is a valid branch name, else an INVALID_ARGUMENT error naming it and why. */
export function checkBranchName(name: string): Result<string, PfsError> {
  const reason = branchNameReason(name);
  return reason === null ? ok(name) : err(invalidInput("branch name", name, `it ${reason}`));
}

/** Why `name` is not a valid repo name, as a predicate ("is empty"), or null when it is. */
export function repoNameReason(name: string): string | null {
  return nameReason(name, repoNameBytesMax, "repoNameBytesMax", repoCharacterPattern,
    repoCharacters);
}

/** Why `name` is not a valid branch name, as a predicate ("is empty"), or null when it is. */
export function branchNameReason(name: string): string | null {
  return nameReason(name, branchNameBytesMax, "branchNameBytesMax", branchCharacterPattern,
    branchCharacters)
    ?? (name === "." || name === ".." ? `must not be ${JSON.stringify(name)}` : null)
    ?? (isCommitId(name) ? "has the form of a commit id (32 lowercase hex digits)" : null);
}

/**
 * Why `name` is not a name of at most `bytesMax` bytes whose every character matches
 * `characterPattern` (described as `characters`), as a predicate, or null when it is.
 */
function nameReason(
  name: string, bytesMax: number, limitName: string, characterPattern: RegExp, characters: string,
): string | null {
  if (name === "") return "is empty";
  // Characters are checked after the length so that a huge input costs one pass at most.
  if (name.length > bytesMax) {
    return `is ${utf8Bytes(name)} bytes, above ${limitName} (${bytesMax})`;
  }
  for (const character of name) {
    if (!characterPattern.test(character)) {
      return `contains ${describeCharacter(character)}; only ${characters} are allowed`;
    }
  }
  if (name.startsWith("-")) return 'must not start with "-"';
  return null;
}

/** A character as a message shows it: quoted when it prints, U+XXXX otherwise. */
function describeCharacter(character: string): string {
  const unit = character.charCodeAt(0);
  const printable = character.length === 1 && unit > 0x20 && unit < 0x7f;
  return printable ? JSON.stringify(character) : codePointName(character.codePointAt(0) ?? unit);
}
