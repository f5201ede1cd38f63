/**
 * Watching the metadata for what makes shard data garbage: a repo or a commit deleted, or a
 * commit becoming failed. The node's collector (node-collector.ts) runs soon after one.
 * Watches `<root>/repos/` and `<root>/commits/` from now on (older deletions are the periodic
 * collection's business); the etcd3 client re-creates a watch that breaks.
 */
import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import type { Logger } from "../../common/index.js";
import { decodeCommitInfo } from "../meta/index.js";

/** Stops a watch. */
export type StopWatch = () => Promise<void>;

/** True when a put of `kv` under the commits prefix records a failed commit. */
function isFailedCommit(kv: IKeyValue, logger: Logger): boolean {
  const key = kv.key.toString("utf8");
  try {
    return decodeCommitInfo(key, kv.value).state === "failed";
  } catch (error: unknown) {
    logger.warn("garbage collection watch: a commit record does not decode", { key, error });
    return false;
  }
}

/**
 * Calls `onDeletion` for every deletion event under `root` (see the module comment) until the
 * returned function stops the watches. Rejects when a watch cannot be created.
 */
export async function watchDeletions(client: Etcd3, root: string, logger: Logger,
  onDeletion: () => void): Promise<StopWatch> {
  const watchers: Watcher[] = [];
  const stop: StopWatch = async () => {
    await Promise.all(watchers.map((watcher) => watcher.cancel()));
  };
  try {
    const repos = await client.watch().prefix(`${root}/repos/`).create();
    watchers.push(repos);
    repos.on("delete", () => { onDeletion(); });
    const commits = await client.watch().prefix(`${root}/commits/`).create();
    watchers.push(commits);
    commits.on("delete", () => { onDeletion(); });
    commits.on("put", (kv: IKeyValue) => { if (isFailedCommit(kv, logger)) onDeletion(); });
    for (const watcher of watchers) {
      watcher.on("error", (error: unknown) => {
        logger.warn("garbage collection watch failed; the client retries", { error });
      });
    }
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  return stop;
}
