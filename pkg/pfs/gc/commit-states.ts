/**
 * Reading the metadata state of the commits a replica holds, for a reconcile (reconcile.ts):
 * each commit's record `<root>/commits/<repo>/<id>` (pkg/pfs/meta keys.ts), read by key in
 * transactions of at most `gcMetaReadKeysMax` ranges. A read-only transaction is linearizable
 * (etcd's default), so it sees every commit created before it began. Only the asked keys are
 * read, so the cost follows the replica's commits, not the whole metadata.
 *
 * Errors: UNAVAILABLE when the store cannot answer (the reconcile then drops nothing);
 * DATA_CORRUPTED when a record does not decode.
 */
import type { Etcd3 } from "etcd3";
import type { CommitState } from "../model.js";
import { MetaKeys, decodeCommitInfo } from "../meta/index.js";
import { MetaKv } from "../meta/meta-kv.js";
import type { ShardCommit } from "../shard/shard-api.js";
import { gcMetaReadKeysMax } from "./limits.js";
import { type CommitStateReader, commitKey } from "./reconcile.js";

/** A `CommitStateReader` over the etcd client `client` and the metadata under `root`. */
export function metaCommitStates(client: Etcd3, root: string): CommitStateReader {
  const kv = new MetaKv(client);
  const keys = new MetaKeys(root);
  return async (commits: readonly ShardCommit[]) => {
    const states = new Map<string, CommitState>();
    for (let start = 0; start < commits.length; start += gcMetaReadKeysMax) {
      const batch = commits.slice(start, start + gcMetaReadKeysMax);
      const snapshot = await kv.read(batch.map((commit) => keys.commit(commit.repo, commit.id)));
      for (const commit of batch) {
        const key = keys.commit(commit.repo, commit.id);
        const value = snapshot.get(key).value;
        if (value !== undefined) states.set(commitKey(commit), decodeCommitInfo(key, value).state);
      }
    }
    return states;
  };
}
