/**
 * Commit references as pachctl writes them after `repo@`: a commit id or a branch name,
 * followed by ancestry steps. `^` and `~` each mean "parent"; a number after either repeats it
 * (`master^3` = `master^^^` = `master~3`); steps add up (`master^2~1` = `master^3`). Pure.
 */
import { type Result, err, ok } from "../../common/index.js";
import { metaAncestryStepsMax } from "./limits.js";

/** A parsed reference: a commit id or branch name, and how many parents to walk back. */
export interface CommitRef {
  readonly base: string;
  readonly steps: number;
}

const stepPattern = /[\^~]([0-9]*)/y;

/** Parses `text`; the failure is a sentence saying what is wrong. */
export function parseCommitRef(text: string): Result<CommitRef, string> {
  const cut = text.search(/[\^~]/);
  const base = cut < 0 ? text : text.slice(0, cut);
  if (base.length === 0) return err(`commit reference ${JSON.stringify(text)} names no commit or branch`);
  let steps = 0;
  let position = cut < 0 ? text.length : cut;
  while (position < text.length) {
    stepPattern.lastIndex = position;
    const match = stepPattern.exec(text);
    if (match === null) {
      return err(`commit reference ${JSON.stringify(text)}: unexpected ${JSON.stringify(text.slice(position))}`);
    }
    const digits = match[1] ?? "";
    const count = digits === "" ? 1 : Number(digits);
    steps += count;
    if (!Number.isSafeInteger(count) || steps > metaAncestryStepsMax) {
      return err(`commit reference ${JSON.stringify(text)} walks back more than ${metaAncestryStepsMax} commits`);
    }
    position = stepPattern.lastIndex;
  }
  return ok({ base, steps });
}
