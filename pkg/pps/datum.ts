/**
 * Datums (DESIGN.md §5, Pachyderm's datum model): a job's input commit, split by the
 * pipeline's glob. Each file belongs to the datum rooted at its shortest ancestor-or-self the
 * glob matches (`/` is one datum of every file, `/*` one per top-level entry, `/**` one per
 * file); a file no match covers is in no datum. Pure.
 *
 * A datum's `id` is the sha256 of its root and of every file's path and content hash, so it
 * names the datum's exact input: the same files with the same bytes give the same id in any
 * commit. Its `key` adds what the pipeline does with it (the input's name under `$PFS_IN`, the
 * glob and the transform): a datum is skipped when its key produced a successful output before.
 */
import { createHash } from "node:crypto";
import { LimitError, type Result, err, ok } from "../common/index.js";
import type { Glob } from "../pfs/index.js";
import { ppsDatumsPerJobMax } from "./limits.js";
import type { PipelineSpec } from "./spec.js";

/** A file of an input commit, as its listing gives it. */
export interface DatumFile {
  readonly path: string;
  readonly size: number;
  /** sha256 of the whole content (FileEntry.hash). */
  readonly hash: string;
}

/** One unit of work: the files under one glob match. */
export interface Datum {
  readonly id: string;
  /** The path the glob matched ("/" for the whole commit). */
  readonly root: string;
  /** Sorted by path. */
  readonly files: readonly DatumFile[];
  readonly sizeBytes: number;
}

function datumId(root: string, files: readonly DatumFile[]): string {
  const hash = createHash("sha256");
  hash.update(`root\0${root}\0`);
  for (const file of files) hash.update(`file\0${file.path}\0${file.hash}\0`);
  return hash.digest("hex");
}

/**
 * Splits `files` (any order, paths normalized, each path once) into datums, sorted by root.
 * More than `ppsDatumsPerJobMax` datums is a LIMIT_EXCEEDED error.
 */
export function splitDatums(glob: Glob, files: readonly DatumFile[]):
  Result<readonly Datum[], LimitError> {
  const byRoot = new Map<string, DatumFile[]>();
  for (const file of files) {
    const root = glob.datumRootOf(file.path);
    if (root === null) continue;
    const group = byRoot.get(root);
    if (group === undefined) {
      if (byRoot.size === ppsDatumsPerJobMax) {
        return err(new LimitError("ppsDatumsPerJobMax", ppsDatumsPerJobMax, byRoot.size + 1));
      }
      byRoot.set(root, [file]);
    } else {
      group.push(file);
    }
  }
  const datums: Datum[] = [];
  for (const root of [...byRoot.keys()].sort(compareText)) {
    const group = (byRoot.get(root) ?? []).sort((a, b) => compareText(a.path, b.path));
    const sizeBytes = group.reduce((sum, file) => sum + file.size, 0);
    datums.push({ id: datumId(root, group), root, files: group, sizeBytes });
  }
  return ok(datums);
}

/** Code-unit order, the same in every locale (paths are compared, not displayed). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The part of a spec that changes what a datum produces: the input's name (its directory
 * under `$PFS_IN`), the glob and the transform. Parallelism, tries, timeout and description
 * do not, so changing them reprocesses nothing.
 */
export function transformKey(spec: PipelineSpec): string {
  const canonical = JSON.stringify({
    name: spec.input.name,
    glob: spec.input.glob,
    cmd: spec.transform.cmd,
    env: Object.entries(spec.transform.env).sort(([a], [b]) => compareText(a, b)),
    stdin: spec.transform.stdin,
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/** The skip key of `datum` under a spec whose transformKey is `transform`. */
export function datumKey(transform: string, datum: Datum): string {
  return createHash("sha256").update(`${transform}\0${datum.id}`).digest("hex");
}
