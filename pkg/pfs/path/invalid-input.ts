/**
 * The one way the naming layer reports bad input: an INVALID_ARGUMENT `PfsError` whose message
 * names what was being read, quotes the input (JSON-escaped, so control characters and
 * newlines cannot forge log lines or terminal output, and cut to `quotedInputCharsMax`) and
 * says why it was refused:
 * `invalid path "/a/../b": it has a ".." segment, which is not allowed`.
 */
import { PfsError } from "../../common/index.js";
import { quotedInputCharsMax } from "./limits.js";

/** The kinds of input this layer reads; the first word of every message. */
export type InputKind =
  | "path"
  | "repo name"
  | "branch name"
  | "commit id"
  | "address"
  | "glob"
  | "tar entry";

/** `input` as a JSON string literal, cut to `quotedInputCharsMax` characters with "…". */
export function quoteInput(input: string): string {
  if (input.length <= quotedInputCharsMax) return JSON.stringify(input);
  return `${JSON.stringify(input.slice(0, quotedInputCharsMax))}…`;
}

/** The error for `input`, read as a `kind`, refused because `reason` (a clause, no period). */
export function invalidInput(kind: InputKind, input: string, reason: string): PfsError {
  return new PfsError("INVALID_ARGUMENT", `invalid ${kind} ${quoteInput(input)}: ${reason}`, {
    kind,
  });
}

/** The U+XXXX name of a UTF-16 code unit, for messages about characters that do not print. */
export function codePointName(codeUnit: number): string {
  return `U+${codeUnit.toString(16).toUpperCase().padStart(4, "0")}`;
}
