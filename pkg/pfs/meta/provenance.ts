/**
 * A commit's provenance (DESIGN.md §5): the finished commits it was computed from, each written
 * "repo@id" with a full commit id (never a branch, which moves). Pipelines start their output
 * commits with the input commit as provenance, so a user can trace any result to its inputs.
 *
 * This module is the pure half: it parses and checks the list's shape. The store's half (each
 * named commit exists and is finished, read in the same transaction that starts the commit)
 * is in meta-store.ts.
 *
 * Invariants of a parsed list: at most metaProvenanceCommitsMax entries, each a valid repo name
 * and commit id, no entry twice, in the order given (the order is kept as written).
 */
import { LimitError, PfsError } from "../../common/index.js";
import type { CommitId } from "../model.js";
import { checkCommitId, checkRepoName } from "./keys.js";
import { metaProvenanceCommitsMax } from "./limits.js";

/** One provenance entry, split. */
export interface ProvenanceCommit {
  readonly repo: string;
  readonly id: CommitId;
}

/** The text form of a provenance entry: "repo@id". */
export function formatProvenance(commit: ProvenanceCommit): string {
  return `${commit.repo}@${commit.id}`;
}

/** Splits one "repo@id"; INVALID_ARGUMENT naming the entry when it is not of that shape. */
function parseEntry(entry: string): ProvenanceCommit {
  const at = entry.indexOf("@");
  if (at <= 0 || at !== entry.lastIndexOf("@")) {
    throw new PfsError("INVALID_ARGUMENT",
      `provenance ${JSON.stringify(entry)} is not of the form repo@commit-id`,
      { provenance: entry });
  }
  const repo = entry.slice(0, at);
  const id = entry.slice(at + 1);
  checkRepoName(repo);
  try {
    checkCommitId(id);
  } catch (error: unknown) {
    if (!(error instanceof PfsError)) throw error;
    throw new PfsError("INVALID_ARGUMENT", `provenance ${JSON.stringify(entry)} must name a ` +
      "commit by its id (32 lowercase hex characters), not a branch", { provenance: entry });
  }
  return { repo, id };
}

/**
 * Parses a provenance list. LIMIT_EXCEEDED beyond metaProvenanceCommitsMax entries;
 * INVALID_ARGUMENT for a malformed entry or one listed twice. Returns the entries in order.
 */
export function parseProvenance(entries: readonly string[]): ProvenanceCommit[] {
  if (entries.length > metaProvenanceCommitsMax) {
    throw new LimitError("metaProvenanceCommitsMax", metaProvenanceCommitsMax, entries.length);
  }
  const seen = new Set<string>();
  const parsed: ProvenanceCommit[] = [];
  for (const entry of entries) {
    const commit = parseEntry(entry);
    const text = formatProvenance(commit);
    if (seen.has(text)) {
      throw new PfsError("INVALID_ARGUMENT", `provenance ${text} is listed twice`,
        { provenance: text });
    }
    seen.add(text);
    parsed.push(commit);
  }
  return parsed;
}
