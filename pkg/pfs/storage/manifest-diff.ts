/**
 * The difference between two manifests (or any two sorted entry streams): a merge of the two
 * path-ordered streams in one pass, holding one entry of each at a time. A path only in `to`
 * is added, only in `from` deleted, and in both with a different size or content hash
 * changed (the chunk list alone may differ for equal content, which is no change).
 */
import { assert } from "../../common/index.js";
import type { FileEntry } from "../model.js";
import type { EntrySource } from "./manifest.js";
import { comparePaths } from "./path-order.js";

/** One difference, in increasing path order. */
export type ManifestChange =
  | { readonly kind: "added"; readonly path: string; readonly after: FileEntry }
  | { readonly kind: "deleted"; readonly path: string; readonly before: FileEntry }
  | {
    readonly kind: "changed"; readonly path: string; readonly before: FileEntry;
    readonly after: FileEntry;
  };

/** True when two entries for the same path hold different content. */
export function contentDiffers(before: FileEntry, after: FileEntry): boolean {
  return before.size !== after.size || before.hash !== after.hash;
}

/**
 * What changed from `from` to `to`, for the paths starting with `prefix` ("" for all), in
 * increasing path order. Both sources must yield strictly increasing paths (asserted).
 */
export async function* diffManifests(from: EntrySource, to: EntrySource, prefix = ""):
  AsyncGenerator<ManifestChange> {
  const left = new Cursor(from.entries(prefix));
  const right = new Cursor(to.entries(prefix));
  let before = await left.next();
  let after = await right.next();
  while (before !== null || after !== null) {
    if (after === null || (before !== null && comparePaths(before.path, after.path) < 0)) {
      assert(before !== null, "diff: both streams ended");
      yield { kind: "deleted", path: before.path, before };
      before = await left.next();
    } else if (before === null || comparePaths(before.path, after.path) > 0) {
      yield { kind: "added", path: after.path, after };
      after = await right.next();
    } else {
      if (contentDiffers(before, after)) {
        yield { kind: "changed", path: after.path, before, after };
      }
      before = await left.next();
      after = await right.next();
    }
  }
}

/** Pulls entries one at a time, asserting strictly increasing paths. */
class Cursor {
  readonly #iterator: AsyncIterator<FileEntry>;
  #lastPath: string | null = null;

  constructor(source: AsyncIterable<FileEntry>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** The next entry, or null at the end. */
  async next(): Promise<FileEntry | null> {
    const result = await this.#iterator.next();
    if (result.done === true) return null;
    const entry: FileEntry = result.value;
    const last = this.#lastPath;
    assert(last === null || comparePaths(last, entry.path) < 0,
      () => `diff input out of order: "${entry.path}" after "${last ?? ""}"`);
    this.#lastPath = entry.path;
    return entry;
  }
}
