/**
 * `materialize` applies an open commit's staging log to its parent commit's manifest and
 * yields the new commit's entries in increasing path order, ready for a `ManifestWriter`.
 *
 * Semantics, in log order: put and copy overwrite a path; append adds chunks to the path's
 * current content (the latest put/append/copy not deleted since, else the parent's entry not
 * deleted since, else nothing) and sets the caller-supplied whole-content hash; delete of a
 * path removes that file and every file below it, in the parent and in earlier log writes.
 *
 * How: one pass over the log keeps an overlay (path → latest full entry and its sequence
 * number) and, per deleted path, the sequence number of its latest delete. An entry survives
 * unless a delete of its path or of an ancestor came after it (parent entries come before
 * every log write). The output is a merge of the parent's sorted stream with the sorted
 * overlay. Memory: the overlay holds the entries the commit wrote; the parent is streamed.
 */
import { assert, assertNever } from "../../common/index.js";
import type { FileEntry } from "../model.js";
import type { EntrySource } from "./manifest.js";
import { comparePaths } from "./path-order.js";
import type { StagingOp } from "./staging-record.js";

/** An overlay entry and when it was written. */
interface Written {
  readonly entry: FileEntry;
  readonly sequence: number;
}

/** The sequence number of parent entries: before every log write. */
const parentSequence = -1;

/** The log's effect, built in one pass over its ops. */
class Overlay {
  readonly written = new Map<string, Written>();
  readonly #deletes = new Map<string, number>();
  #sequence = 0;

  /** The sequence number of the latest delete of `path` or of a directory above it, or -2. */
  latestDelete(path: string): number {
    if (this.#deletes.size === 0) return -2;
    let latest = this.#deletes.get("/") ?? -2;
    for (let end = path.length; end > 0; end = path.lastIndexOf("/", end - 1)) {
      const deleted = this.#deletes.get(path.slice(0, end));
      if (deleted !== undefined && deleted > latest) latest = deleted;
    }
    return latest;
  }

  /** True when an entry written at `sequence` to `path` is still alive. */
  alive(path: string, sequence: number): boolean {
    return this.latestDelete(path) < sequence;
  }

  /** The current content of `path`, or undefined (parent lookups only when needed). */
  async current(path: string, parent: EntrySource): Promise<FileEntry | undefined> {
    const written = this.written.get(path);
    if (written !== undefined) {
      return this.alive(path, written.sequence) ? written.entry : undefined;
    }
    const base = await parent.get(path);
    return base !== undefined && this.alive(path, parentSequence) ? base : undefined;
  }

  async apply(op: StagingOp, parent: EntrySource): Promise<void> {
    const sequence = this.#sequence;
    this.#sequence += 1;
    switch (op.kind) {
      case "put":
        this.written.set(op.entry.path, { entry: op.entry, sequence });
        return;
      case "copy":
        this.written.set(op.to, { entry: { ...op.from, path: op.to }, sequence });
        return;
      case "append": {
        const base = await this.current(op.path, parent);
        let size = base?.size ?? 0;
        for (const chunk of op.chunks) size += chunk.size;
        const chunks = base === undefined ? op.chunks : [...base.chunks, ...op.chunks];
        this.written.set(op.path, { entry: { path: op.path, size, hash: op.hash, chunks },
          sequence });
        return;
      }
      case "delete":
        this.#deletes.set(op.path, sequence);
        return;
      default:
        assertNever(op, "staging op");
    }
  }
}

/**
 * The entries of the commit made by applying `ops` (in log order) to `parent`, in strictly
 * increasing path order. `parent` is read as a stream, plus one lookup per append.
 */
export async function* materialize(
  parent: EntrySource,
  ops: Iterable<StagingOp> | AsyncIterable<StagingOp>,
):
  AsyncGenerator<FileEntry> {
  const overlay = new Overlay();
  for await (const op of ops) await overlay.apply(op, parent);
  const written = [...overlay.written.values()]
    .filter((item) => overlay.alive(item.entry.path, item.sequence))
    .map((item) => item.entry)
    .sort((a, b) => comparePaths(a.path, b.path));
  let next = 0;
  for await (const base of parent.entries()) {
    for (let item = written[next]; item !== undefined && comparePaths(item.path, base.path) < 0;
      item = written[next]) {
      yield item;
      next += 1;
    }
    const same = written[next];
    if (same !== undefined && same.path === base.path) {
      yield same;
      next += 1;
    } else if (!overlay.written.has(base.path) && overlay.alive(base.path, parentSequence)) {
      yield base;
    }
  }
  for (; next < written.length; next += 1) {
    const item = written[next];
    assert(item !== undefined, () => `no written entry ${next}`);
    yield item;
  }
}
