/**
 * The few file-system steps the chunk store builds durability from (POSIX rules): bytes of a
 * file survive a crash only after an fsync of that file; a name created, renamed or removed in
 * a directory survives only after an fsync of that directory.
 */
import { open } from "node:fs/promises";
import * as path from "node:path";
import { assert } from "../../common/index.js";

/** fsyncs a directory, making the names created, renamed or removed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * After `mkdir(target, { recursive: true })` returned `firstCreated` (the top-most directory it
 * made, or undefined when none), fsyncs the parent of every directory it made, so the new
 * directories survive a crash.
 */
export async function syncCreatedDirs(
  firstCreated: string | undefined,
  target: string,
): Promise<void> {
  if (firstCreated === undefined) return;
  const top = path.resolve(firstCreated);
  let current = path.resolve(target);
  assert(current.startsWith(top), () => `${current} is not below ${top}`);
  for (;;) {
    const parent = path.dirname(current);
    await syncDir(parent);
    if (current === top || parent === current) return;
    current = parent;
  }
}

/** Runs `work` on each item, at most `concurrency` at once; rejects on the first error. */
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

/** True when `error` is a Node file-system error with code ENOENT (no such file). */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === "ENOENT";
}
