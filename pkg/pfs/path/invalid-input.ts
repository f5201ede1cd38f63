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

/**
 * Characters JSON.stringify leaves as they are but a log line or terminal must not see raw:
 * DEL and the C1 controls (U+009B starts an escape sequence), the Unicode line separators and
 * the bidirectional overrides and isolates (they reorder what a reader sees).
 */
const unsafeForDisplay = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `input` as a JSON string literal with every control character escaped, cut to
 * `quotedInputCharsMax` characters with "…" after the closing quote.
 */
export function quoteInput(input: string): string {
  const cut = input.length <= quotedInputCharsMax ? input : input.slice(0, quotedInputCharsMax);
  const quoted = JSON.stringify(cut).replace(unsafeForDisplay, (character) =>
    `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return cut === input ? quoted : `${quoted}…`;
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
