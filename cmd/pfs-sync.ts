/**
 * `pfs sync DIR R@B[:/prefix] [--once]`: mirrors a local directory into a branch
 * (pkg/pfs/client sync.ts). SIGINT or SIGTERM stops it: a burst being written is deleted, not
 * left half done, and the command exits 0.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { parseSyncTarget, syncDirectory } from "../pkg/pfs/client/index.js";
import { type ApiOptions, addApiOptions, withClient } from "./pfs-context.js";

/** Adds `pfs sync` to `program`. */
export function addSyncCommand(program: Command): void {
  addApiOptions(program.command("sync"))
    .description("mirror a local directory into a branch: upload it, then commit each burst " +
      "of changes (--once: upload and exit)")
    .argument("<dir>").argument("<repo@branch[:/prefix]>")
    .option("--once", "upload once and exit")
    .option("--quiet-ms <ms>", "quiet period that ends a burst of changes", "500")
    .action(async (dir: string, raw: string,
      options: ApiOptions & { once?: boolean; quietMs: string }) => {
      const target = parseSyncTarget(raw);
      const quietMs = Number(options.quietMs);
      if (!Number.isSafeInteger(quietMs) || quietMs < 10 || quietMs > 3_600_000) {
        throw new PfsError("INVALID_ARGUMENT",
          `--quiet-ms must be in [10, 3600000], got ${options.quietMs}`);
      }
      const controller = new AbortController();
      const stop = (): void => { controller.abort(); };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await withClient(options, (client) => syncDirectory(client, {
          directory: resolve(dir), target, once: options.once === true, quietMs,
          signal: controller.signal,
          report: (line) => { process.stderr.write(`pfs: ${line}\n`); },
        }));
      } catch (error: unknown) {
        // Interrupted while writing: the commit was deleted, which is the documented outcome.
        if (!controller.signal.aborted) throw error;
        process.stderr.write("pfs: interrupted; the unfinished commit was deleted\n");
      } finally {
        process.removeListener("SIGINT", stop);
        process.removeListener("SIGTERM", stop);
      }
    });
}
