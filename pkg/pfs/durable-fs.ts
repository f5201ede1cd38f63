/**
 * The durable file-system steps of a shard replica's storage (the chunk store, pkg/pfs/chunk,
 * and the commit store, pkg/pfs/storage), over `node:fs/promises`, with the POSIX contract
 * they rely on: bytes of a file survive a crash only after an fsync of that file; a name
 * created, renamed or removed in a directory survives only after an fsync of that directory.
 * Each helper here finishes with the fsyncs that make its effect durable before it resolves.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { PfsError, assert } from "../common/index.js";

/** Makes the names in `dir` durable (fsync of the directory). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True when `file` exists (any kind). */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Opens an existing file with `flags`; a missing one is NOT_FOUND naming it as `what`.
 */
export async function openExisting(file: string, flags: string, what: string):
  Promise<fs.FileHandle> {
  try {
    return await fs.open(file, flags);
  } catch (error) {
    if (isNotFound(error)) throw new PfsError("NOT_FOUND", `${what} ${file} does not exist`, { file });
    throw error;
  }
}

/** True for a Node file-system error with code ENOENT (no such file or directory). */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * Creates `dir` and any missing parents, then fsyncs every directory whose entries changed, so
 * the whole path survives a crash.
 */
export async function makeDirDurable(dir: string): Promise<void> {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  let probe = absolute;
  while (!(await exists(probe))) {
    missing.push(probe);
    const parent = path.dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (missing.length === 0) return;
  await fs.mkdir(absolute, { recursive: true });
  for (const created of missing) await syncDir(path.dirname(created));
}

/** Removes `file` if present and makes the removal durable; false if it was not there. */
export async function removeDurable(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  await syncDir(path.dirname(file));
  return true;
}

/** The marker in the name of every temporary file; names holding it are leftovers on open. */
export const temporaryMarker = ".tmp-";

/** A fresh temporary name beside `file` (same directory, so a rename is atomic). */
export function temporaryPath(file: string): string {
  return `${file}${temporaryMarker}${randomBytes(6).toString("hex")}`;
}

/**
 * Writes `bytes` to a new temporary file beside `file` and fsyncs it; returns its path. The
 * caller publishes it (`publishTemporary`) or removes it.
 */
export async function writeTemporary(file: string, bytes: Uint8Array): Promise<string> {
  const temporary = temporaryPath(file);
  const handle = await fs.open(temporary, "wx");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  return temporary;
}

/**
 * Renames a fsynced temporary file over `file` and fsyncs the directory: `file` then holds the
 * new content whole, durably (a crash before leaves the old state and a leftover temporary).
 */
export async function publishTemporary(temporary: string, file: string): Promise<void> {
  await fs.rename(temporary, file);
  await syncDir(path.dirname(file));
}

/**
 * Runs `work` on each item, at most `concurrency` at once (fsyncs of many files or directories,
 * which the file system groups); rejects on the first error.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  assert(concurrency >= 1, () => `concurrency ${concurrency} < 1`);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  const runners: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, items.length); i += 1) runners.push(runner());
  await Promise.all(runners);
}
