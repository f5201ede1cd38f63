/**
 * Globs over pfs paths, as pachctl's `glob file` and Pachyderm pipeline inputs use them.
 * Pure; matching costs O(pattern × path) and never backtracks.
 *
 * A pattern starts with "/" and is read segment by segment, like a path: repeated "/", a
 * trailing "/" and "." segments are dropped ("/*\/" is "/*"); ".." is refused. Inside a segment:
 * - `*` matches any run of characters other than "/" (within one segment);
 * - `**` matches any run of characters, "/" included ("/**.csv" matches "/a.csv" and
 *   "/x/y/z.csv"); a segment that is exactly `**` matches zero or more whole segments in the
 *   middle of a pattern ("/a/**\/b" matches "/a/b" and "/a/x/y/b") and one or more at its end
 *   ("/a/**" is everything below "/a");
 * - `?` matches one character other than "/";
 * - `[abc]`, `[a-z]`, `[!a]` (or `[^a]`) match one character other than "/" that is (or is
 *   not) in the class; "]" right after "[" or "[!" is a member; a range runs low to high;
 * - `\` makes the next character literal.
 * Characters are Unicode code points. The root "/" is matched only by the pattern "/" (a
 * Pachyderm glob of "/" is the whole repo as one datum; "/*" is each top-level entry).
 *
 * Every path a glob matches lies under its `prefix`, the directory named by the pattern's
 * leading wildcard-free segments, so a caller may list only below it.
 */
import { type PfsError, type Result, assert, assertNever, err, ok } from "../../common/index.js";
import { invalidInput } from "./invalid-input.js";
import { globPatternBytesMax } from "./limits.js";
import { forbiddenCharacterReason, isNormalizedPath, rootPath, utf8Bytes } from "./path.js";

/** A compiled glob. Paths given to its methods must be normalized (asserted). */
export interface Glob {
  /** The pattern in normalized form: compiling it again gives the same glob. */
  readonly pattern: string;
  /** The longest wildcard-free directory of the pattern: every match is under it. */
  readonly prefix: string;
  /** True when the glob matches `path`. */
  matches(path: string): boolean;
  /**
   * The datum `path` belongs to: its shortest ancestor-or-self that the glob matches, or
   * null when none does (the path is in no datum).
   */
  datumRootOf(path: string): string | null;
}

type Token =
  | { readonly kind: "literal"; readonly character: string }
  | { readonly kind: "any" }
  | { readonly kind: "class"; readonly ranges: readonly (readonly [number, number])[];
      readonly negated: boolean }
  | { readonly kind: "star" }
  | { readonly kind: "globstar" }
  | { readonly kind: "segments" };

const slashToken: Token = { kind: "literal", character: "/" };

/** The glob `pattern` spells, or an INVALID_ARGUMENT error that quotes it and says why. */
export function compileGlob(pattern: string): Result<Glob, PfsError> {
  const fail = (reason: string): Result<Glob, PfsError> =>
    err(invalidInput("glob", pattern, `it ${reason}`));
  if (pattern === "") return fail("is empty");
  if (!pattern.startsWith("/")) return fail('must start with "/"');
  const characterReason = forbiddenCharacterReason(pattern);
  if (characterReason !== null) return fail(characterReason);
  const bytes = utf8Bytes(pattern);
  if (bytes > globPatternBytesMax) {
    return fail(`is ${bytes} bytes, above globPatternBytesMax (${globPatternBytesMax})`);
  }
  const segments = pattern.split("/").filter((segment) => segment !== "" && segment !== ".");
  const tokens: Token[] = [];
  let prefix = rootPath;
  let literalSoFar = true;
  for (const [index, segment] of segments.entries()) {
    if (segment === "..") return fail('has a ".." segment, which is not allowed');
    const last = index === segments.length - 1;
    if (tokens.at(-1)?.kind !== "segments") tokens.push(slashToken);
    if (segment === "**") {
      tokens.push({ kind: last ? "globstar" : "segments" });
      literalSoFar = false;
      continue;
    }
    const segmentTokens = tokenizeSegment(segment);
    if (!segmentTokens.ok) return fail(segmentTokens.error);
    tokens.push(...segmentTokens.value);
    const literal = literalText(segmentTokens.value);
    if (literal === "." || literal === "..") {
      return fail('has a segment that spells "." or ".." through escapes');
    }
    if (literalSoFar && literal !== null) {
      const longer = prefix === rootPath ? `/${literal}` : `${prefix}/${literal}`;
      if (isNormalizedPath(longer)) prefix = longer;
      else literalSoFar = false;
    } else {
      literalSoFar = false;
    }
  }
  return ok(new CompiledGlob(`/${segments.join("/")}`, prefix, tokens));
}

/** Compiles `pattern` and matches it against the normalized `path`. */
export function globMatch(pattern: string, path: string): Result<boolean, PfsError> {
  const glob = compileGlob(pattern);
  return glob.ok ? ok(glob.value.matches(path)) : glob;
}

/** The text a segment's tokens match when they are all literals, else null. */
function literalText(tokens: readonly Token[]): string | null {
  let text = "";
  for (const token of tokens) {
    if (token.kind !== "literal") return null;
    text += token.character;
  }
  return text;
}

/** The tokens of one pattern segment (no "/" in it), or the reason it is malformed. */
function tokenizeSegment(segment: string): Result<Token[], string> {
  const characters = Array.from(segment);
  const tokens: Token[] = [];
  let index = 0;
  while (index < characters.length) {
    const character = characters[index] ?? "";
    index += 1;
    if (character === "\\") {
      const escaped = characters[index];
      if (escaped === undefined) return err('ends a segment with "\\", which escapes nothing');
      tokens.push({ kind: "literal", character: escaped });
      index += 1;
    } else if (character === "*") {
      let stars = 1;
      while (characters[index] === "*") {
        stars += 1;
        index += 1;
      }
      tokens.push({ kind: stars === 1 ? "star" : "globstar" });
    } else if (character === "?") {
      tokens.push({ kind: "any" });
    } else if (character === "[") {
      const parsed = parseClass(characters, index);
      if (!parsed.ok) return parsed;
      tokens.push(parsed.value.token);
      index = parsed.value.next;
    } else {
      tokens.push({ kind: "literal", character });
    }
  }
  return ok(tokens);
}

/** A class starting just after its "[" at `start`: the token and the index after its "]". */
function parseClass(
  characters: readonly string[], start: number,
): Result<{ token: Token; next: number }, string> {
  let index = start;
  const negated = characters[index] === "!" || characters[index] === "^";
  if (negated) index += 1;
  const ranges: [number, number][] = [];
  const readMember = (): number | null => {
    let character = characters[index];
    if (character === "\\") {
      index += 1;
      character = characters[index];
    }
    index += 1;
    return character === undefined ? null : (character.codePointAt(0) ?? null);
  };
  let first = true;
  while (first || characters[index] !== "]") {
    first = false;
    if (index >= characters.length) return err('has a "[" character class with no closing "]"');
    const low = readMember();
    if (low === null) return err('has a "[" character class with no closing "]"');
    let high = low;
    if (characters[index] === "-" && index + 1 < characters.length && characters[index + 1] !== "]") {
      index += 1;
      const end = readMember();
      if (end === null) return err('has a "[" character class with no closing "]"');
      high = end;
    }
    if (low > high) {
      return err(`has the character range ${String.fromCodePoint(low)}-${String.fromCodePoint(high)}, which runs backwards`);
    }
    ranges.push([low, high]);
  }
  return ok({ token: { kind: "class", ranges, negated }, next: index + 1 });
}

/** True when the code point `character` (never "/") is accepted by a class token. */
function classAccepts(token: Extract<Token, { kind: "class" }>, character: string): boolean {
  const point = character.codePointAt(0) ?? -1;
  const inside = token.ranges.some(([low, high]) => point >= low && point <= high);
  return inside !== token.negated;
}

/**
 * A glob as a nondeterministic automaton over code points. State i means "tokens [0, i) have
 * matched"; state `tokens.length` accepts. A "segments" token ("**" then "/") also has a body
 * state, inside the run of characters it consumes, which it leaves on a "/".
 */
class CompiledGlob implements Glob {
  readonly pattern: string;
  readonly prefix: string;
  readonly #tokens: readonly Token[];

  constructor(pattern: string, prefix: string, tokens: readonly Token[]) {
    assert(isNormalizedPath(prefix), () => `glob prefix ${JSON.stringify(prefix)} is not normalized`);
    assert(pattern === rootPath || tokens.length > 0, () => `glob ${pattern} compiled to no tokens`);
    this.pattern = pattern;
    this.prefix = prefix;
    this.#tokens = tokens;
  }

  matches(path: string): boolean {
    assert(isNormalizedPath(path), () => `path ${JSON.stringify(path)} is not normalized`);
    if (path === rootPath || this.pattern === rootPath) return path === this.pattern;
    return this.#run(path, false) === path;
  }

  datumRootOf(path: string): string | null {
    assert(isNormalizedPath(path), () => `path ${JSON.stringify(path)} is not normalized`);
    if (this.pattern === rootPath) return rootPath;
    if (path === rootPath) return null;
    return this.#run(path, true);
  }

  /**
   * Feeds `path` through the automaton. Returns `path` when it is accepted at the end or,
   * with `shortest`, the first ancestor-or-self of it that is accepted; else null.
   */
  #run(path: string, shortest: boolean): string | null {
    const count = this.#tokens.length;
    // Two generations of state sets, swapped each character: no allocation per character.
    let states = new Uint8Array(count + 1);
    let bodies = new Uint8Array(count);
    let nextStates = new Uint8Array(count + 1);
    let nextBodies = new Uint8Array(count);
    states[0] = 1;
    this.#closure(states);
    let consumed = 0;
    for (const character of path) {
      if (shortest && character === "/" && consumed > 0 && states[count] === 1) {
        return path.slice(0, consumed);
      }
      nextStates.fill(0);
      nextBodies.fill(0);
      let alive = false;
      for (let index = 0; index < count; index += 1) {
        if (states[index] === 1 || bodies[index] === 1) {
          const fromState = states[index] === 1;
          alive = this.#step(index, character, fromState, nextStates, nextBodies) || alive;
        }
      }
      if (!alive) return null;
      this.#closure(nextStates);
      [states, nextStates] = [nextStates, states];
      [bodies, nextBodies] = [nextBodies, bodies];
      consumed += character.length;
    }
    return states[count] === 1 ? path : null;
  }

  /** Moves state `index` (or its body) over `character`; true when anything is still live. */
  #step(
    index: number, character: string, fromState: boolean,
    nextStates: Uint8Array, nextBodies: Uint8Array,
  ): boolean {
    const token = this.#tokens[index];
    assert(token !== undefined, () => `glob state ${index} has no token`);
    if (!fromState) {
      assert(token.kind === "segments", () => `body state on a ${token.kind} token`);
    }
    const slash = character === "/";
    let advance = false;
    let stay = false;
    switch (token.kind) {
      case "literal": advance = token.character === character; break;
      case "any": advance = !slash; break;
      case "class": advance = !slash && classAccepts(token, character); break;
      case "star": stay = !slash; break;
      case "globstar": stay = true; break;
      case "segments":
        // Inside "**/" any character continues the run, and a "/" may also end it.
        nextBodies[index] = 1;
        if (slash) nextStates[index + 1] = 1;
        return true;
      default: return assertNever(token, "glob token");
    }
    if (advance) nextStates[index + 1] = 1;
    if (stay) nextStates[index] = 1;
    return advance || stay;
  }

  /** Adds to `states` every state reachable by matching nothing (stars may match ""). */
  #closure(states: Uint8Array): void {
    for (let index = 0; index < this.#tokens.length; index += 1) {
      const kind = this.#tokens[index]?.kind;
      if (states[index] === 1 && (kind === "star" || kind === "globstar" || kind === "segments")) {
        states[index + 1] = 1;
      }
    }
  }
}
