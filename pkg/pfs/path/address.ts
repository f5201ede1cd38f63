/**
 * pachctl's addresses (DESIGN.md §3): `repo`, `repo@branch`, `repo@<commit-id>`, each with an
 * optional ancestry (`master^` = parent, `master^2` = grandparent, `master^^` = `master^2`,
 * `~` the same as `^`) and an optional `:/path`. Pure.
 *
 * Grammar: `repo [ "@" base ancestry* ] [ ":" path ]`, where `base` is a commit id (exactly
 * 32 lowercase hex digits) or else a branch name, `ancestry` is "^" or "~" followed by an
 * optional decimal count (default 1; the counts add up), and `path` starts with "/". The
 * first ":" ends the repo and ref: names never hold one, paths may. Not supported: pachctl's
 * `branch=<id>` and `branch.N`.
 *
 * Invariants: `parseAddress(formatAddress(a))` returns `a` for every valid address `a`, and
 * a parsed address holds a valid repo name, a valid branch name or commit id, an ancestry in
 * [0, ancestryStepsMax] and a normalized path.
 */
import { type PfsError, type Result, assert, err, ok } from "../../common/index.js";
import { type CommitId, defaultBranch } from "../model.js";
import { invalidInput } from "./invalid-input.js";
import { ancestryStepsMax } from "./limits.js";
import { branchNameReason, isCommitId, repoNameReason } from "./names.js";
import { isNormalizedPath, normalizeOrReason } from "./path.js";

/** A branch, or its `ancestry`-th ancestor (0 = the head itself). */
export interface BranchRef {
  readonly kind: "branch";
  readonly name: string;
  readonly ancestry: number;
}

/** A commit, or its `ancestry`-th ancestor (0 = the commit itself). */
export interface CommitRef {
  readonly kind: "commit";
  readonly id: CommitId;
  readonly ancestry: number;
}

/** What an address points at inside its repo. */
export type Ref = BranchRef | CommitRef;

/**
 * A parsed address. `ref` is absent when the text named no branch or commit (`repo`,
 * `repo:/p`): the caller decides what that means (usually the default branch, `master`).
 * `path` is absent when the text had no ":"; when present it is normalized.
 */
export interface Address {
  readonly repo: string;
  readonly ref?: Ref;
  readonly path?: string;
}

const ancestryPattern = /^(?:[~^][0-9]*)+$/;
const ancestryStepPattern = /[~^]([0-9]*)/g;

/** The address `raw` spells, or an INVALID_ARGUMENT error that quotes it and says why. */
export function parseAddress(raw: string): Result<Address, PfsError> {
  const fail = (reason: string): Result<Address, PfsError> =>
    err(invalidInput("address", raw, reason));
  const colon = raw.indexOf(":");
  const head = colon < 0 ? raw : raw.slice(0, colon);
  const at = head.indexOf("@");
  const repo = at < 0 ? head : head.slice(0, at);
  if (at < 0 && /[~^]/.test(repo)) {
    return fail('an ancestry ("^" or "~") needs a branch or commit: write repo@branch^N');
  }
  const repoReason = repoNameReason(repo);
  if (repoReason !== null) return fail(`the repo name ${repoReason}`);
  let ref: Ref | undefined;
  if (at >= 0) {
    const parsed = parseRef(head.slice(at + 1));
    if (!parsed.ok) return fail(parsed.error);
    ref = parsed.value;
  }
  let path: string | undefined;
  if (colon >= 0) {
    const normalized = normalizeOrReason(raw.slice(colon + 1));
    if (!normalized.ok) return fail(`the path ${normalized.error}`);
    path = normalized.value;
  }
  return ok({
    repo,
    ...(ref === undefined ? {} : { ref }),
    ...(path === undefined ? {} : { path }),
  });
}

/** The ref `text` (after "@") spells, or the reason it spells none (a full clause). */
function parseRef(text: string): Result<Ref, string> {
  const ancestryAt = text.search(/[~^]/);
  const base = ancestryAt < 0 ? text : text.slice(0, ancestryAt);
  if (base === "") return err("the branch or commit after \"@\" is empty");
  const ancestry = ancestryAt < 0 ? ok(0) : parseAncestry(text.slice(ancestryAt));
  if (!ancestry.ok) return ancestry;
  if (isCommitId(base)) return ok({ kind: "commit", id: base, ancestry: ancestry.value });
  const branchReason = branchNameReason(base);
  if (branchReason !== null) return err(`the branch name ${branchReason}`);
  return ok({ kind: "branch", name: base, ancestry: ancestry.value });
}

/** The total of an ancestry suffix ("^", "^3", "~2^", "^^"), or the reason it is malformed. */
function parseAncestry(text: string): Result<number, string> {
  if (!ancestryPattern.test(text)) {
    return err(`the ancestry ${JSON.stringify(text)} is not a run of "^", "~", "^N" or "~N"`);
  }
  let total = 0;
  for (const step of text.matchAll(ancestryStepPattern)) {
    const digits = step[1] ?? "";
    // Counts past the limit are refused before they can lose precision as a number.
    const count = digits === "" ? 1 : digits.length > 9 ? Infinity : Number(digits);
    total += count;
    if (total > ancestryStepsMax) {
      return err(`the ancestry ${JSON.stringify(text)} is above ancestryStepsMax (${ancestryStepsMax})`);
    }
  }
  assert(Number.isSafeInteger(total) && total >= 0, () => `ancestry total ${total}`);
  return ok(total);
}

/** The ref `address` means: its own, or the head of the default branch (`master`) if none. */
export function refOf(address: Address): Ref {
  return address.ref ?? { kind: "branch", name: defaultBranch, ancestry: 0 };
}

/** A ref as text: "master", "master^", "master^3", "<id>^2". */
export function formatRef(ref: Ref): string {
  const { ancestry } = ref;
  assert(Number.isSafeInteger(ancestry) && ancestry >= 0 && ancestry <= ancestryStepsMax,
    () => `ancestry ${ref.ancestry} outside [0, ${ancestryStepsMax}]`);
  const base = ref.kind === "branch" ? ref.name : ref.id;
  assert(ref.kind === "branch" ? branchNameReason(base) === null : isCommitId(base),
    () => `${ref.kind} ${JSON.stringify(base)} is not valid`);
  if (ref.ancestry === 0) return base;
  return ref.ancestry === 1 ? `${base}^` : `${base}^${ref.ancestry}`;
}

/**
 * An address as pachctl writes it: `repo`, `repo@ref`, `repo@ref:/path`, `repo:/path`.
 * The address must be valid (as `parseAddress` returns them); anything else is asserted.
 */
export function formatAddress(address: Address): string {
  assert(repoNameReason(address.repo) === null, () => `repo ${JSON.stringify(address.repo)} is not valid`);
  const ref = address.ref === undefined ? "" : `@${formatRef(address.ref)}`;
  if (address.path === undefined) return `${address.repo}${ref}`;
  assert(isNormalizedPath(address.path), () => `path ${JSON.stringify(address.path)} is not normalized`);
  return `${address.repo}${ref}:${address.path}`;
}
