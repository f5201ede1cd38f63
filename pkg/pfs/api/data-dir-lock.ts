/**
 * The data directory lock: a node never runs twice on one directory. pfsd creates
 * `<dir>/pfsd.lock` exclusively (O_CREAT|O_EXCL) holding its pid, fsyncs it and its directory,
 * and removes it on a clean exit. A lock left by a process that died (kill -9, power loss) does
 * not block a restart: it is stale when its pid is not running, or is running something that
 * is not pfsd (a pid reused after a reboot), and is then replaced.
 *
 * Errors: FAILED_PRECONDITION naming the pid when a live pfsd holds the directory.
 * Known limit: two processes replacing the same stale lock at the same instant could both
 * win; after writing, each re-reads the lock and only the pid it holds keeps running.
 */
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { PfsError } from "../../common/index.js";

export const lockFileName = "pfsd.lock";

/** True when `pid` is a running process that looks like pfsd (Linux /proc; else any). */
function holderAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("pfsd");
  } catch {
    return true;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class DataDirLock {
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Takes the lock of `dir` (created when missing) for this process. */
  static async acquire(dir: string): Promise<DataDirLock> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, lockFileName);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(path, "wx", 0o644);
        try {
          await handle.writeFile(`${process.pid}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await syncDirectory(dir);
        const holder = Number((await readFile(path, "utf8")).trim());
        if (holder !== process.pid) break;
        return new DataDirLock(path);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (holderAlive(holder) && holder !== process.pid) {
        throw new PfsError("FAILED_PRECONDITION",
          `data directory ${dir} is in use by pfsd pid ${holder} (${path}); a node runs once`,
          { pid: holder });
      }
      await unlink(path).catch(() => undefined);
    }
    throw new PfsError("FAILED_PRECONDITION",
      `data directory ${dir} is being locked by another pfsd starting at the same time`);
  }

  /** Removes the lock if it is still this process's. */
  async release(): Promise<void> {
    const holder = Number((await readFile(this.#path, "utf8").catch(() => "")).trim());
    if (holder === process.pid) await unlink(this.#path).catch(() => undefined);
  }
}
