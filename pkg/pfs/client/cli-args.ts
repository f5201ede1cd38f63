/**
 * The CLI's arguments read into API references, with pachctl's grammar (pkg/pfs/path parses
 * the addresses): `R`, `R@B`, `R@<id>`, ancestry `R@B^N`, and `R@B:/path`. Pure; bad input is
 * an INVALID_ARGUMENT `PfsError` (thrown, since the CLI turns it into one line on stderr).
 *
 * Defaults, as pachctl: a file address without a ref means the `master` branch, and without a
 * path means the root "/".
 */
import { PfsError, type Result } from "../../common/index.js";
import { defaultBranch } from "../model.js";
import { type Address, formatRef, parseAddress, rootPath } from "../path/index.js";
import type { CommitRefMessage, FileRefMessage } from "./proto.js";

function unwrap<T>(result: Result<T, PfsError>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

function refused(raw: string, what: string, reason: string): PfsError {
  return new PfsError("INVALID_ARGUMENT", `${JSON.stringify(raw)} is not ${what}: ${reason}`);
}

/** A repo name alone: `R`. */
export function parseRepoArg(raw: string): string {
  const address = unwrap(parseAddress(raw));
  if (address.ref !== undefined || address.path !== undefined) {
    throw refused(raw, "a repo", "give the repo name alone");
  }
  return address.repo;
}

/** A branch: `R@B` (no ancestry, no path). */
export function parseBranchArg(raw: string): { readonly repo: string; readonly branch: string } {
  const address = unwrap(parseAddress(raw));
  const ref = address.ref;
  if (ref?.kind !== "branch" || ref.ancestry !== 0 || address.path !== undefined) {
    throw refused(raw, "a branch", "write repo@branch");
  }
  return { repo: address.repo, branch: ref.name };
}

/**
 * A commit: `R@B`, `R@<id>`, with optional ancestry; no path. `R` alone is refused unless
 * `repoAlone` is allowed, when it returns commit "" (e.g. every commit of the repo).
 */
export function parseCommitArg(raw: string, repoAlone = false): CommitRefMessage {
  const address = unwrap(parseAddress(raw));
  if (address.path !== undefined) throw refused(raw, "a commit", "a commit has no path");
  if (address.ref === undefined) {
    if (repoAlone) return { repo: address.repo, commit: "" };
    throw refused(raw, "a commit", "write repo@branch or repo@<commit id>");
  }
  return { repo: address.repo, commit: formatRef(address.ref) };
}

function commitOf(address: Address): CommitRefMessage {
  return {
    repo: address.repo,
    commit: address.ref === undefined ? defaultBranch : formatRef(address.ref),
  };
}

/** A file or directory: `R@B:/path` (the branch defaults to master, the path to "/"). */
export function parseFileArg(raw: string): FileRefMessage {
  const address = unwrap(parseAddress(raw));
  return { commit: commitOf(address), path: address.path ?? rootPath };
}

/**
 * A glob: `R@B:/pattern`. The pattern is taken as written (not normalized as a path); the
 * server compiles it.
 */
export function parseGlobArg(raw: string): { readonly commit: CommitRefMessage;
  readonly pattern: string } {
  const colon = raw.indexOf(":");
  if (colon < 0) throw refused(raw, "a glob", "write repo@branch:/pattern");
  const pattern = raw.slice(colon + 1);
  if (!pattern.startsWith("/")) throw refused(raw, "a glob", "the pattern must start with \"/\"");
  return { commit: commitOf(unwrap(parseAddress(raw.slice(0, colon)))), pattern };
}

/** Where `pfs sync` writes: a branch (not a commit, no ancestry) and a directory in it. */
export interface SyncTarget {
  readonly repo: string;
  readonly branch: string;
  readonly prefix: string;
}

/** `R@B` or `R@B:/prefix`. */
export function parseSyncTarget(raw: string): SyncTarget {
  const address = unwrap(parseAddress(raw));
  const ref = address.ref;
  if (ref?.kind !== "branch" || ref.ancestry !== 0) {
    throw refused(raw, "a sync target", "write repo@branch or repo@branch:/prefix");
  }
  return { repo: address.repo, branch: ref.name, prefix: address.path ?? rootPath };
}

/** A non-negative decimal byte count from a flag (`--offset`, `--length`). */
export function parseByteCount(flag: string, raw: string): bigint {
  if (!/^[0-9]{1,19}$/.test(raw)) {
    throw new PfsError("INVALID_ARGUMENT", `${flag} must be a byte count, got ${JSON.stringify(raw)}`);
  }
  return BigInt(raw);
}
