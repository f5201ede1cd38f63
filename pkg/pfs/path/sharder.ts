/**
 * The sharder (DESIGN.md §3): which of the cluster's S shards holds a path. Pure.
 *
 * shardOf(path, S) = (the first 4 bytes of sha256(UTF-8 of the normalized path), read as a
 * big-endian unsigned 32-bit integer) mod S.
 *
 * This function is part of the on-disk and on-wire format: every shard replica's data and
 * every router agree on it, and S is fixed when a cluster is created. It must never change;
 * a test pins known values. sha256 spreads any set of paths evenly, and with S at most
 * `pfsShardsMax` (1,024) the modulo bias of a 32-bit value is below 1 part in 4 million.
 */
import { createHash } from "node:crypto";
import { type ShardId, assert, limits, shardId } from "../../common/index.js";
import { isNormalizedPath } from "./path.js";

/** The shard in [0, shards) that holds the normalized `path` (see the module comment). */
export function shardOf(path: string, shards: number): ShardId {
  assert(Number.isSafeInteger(shards) && shards >= 1 && shards <= limits.pfsShardsMax,
    () => `shards ${shards} outside [1, ${limits.pfsShardsMax}]`);
  assert(isNormalizedPath(path), () => `path ${JSON.stringify(path)} is not normalized`);
  const digest = createHash("sha256").update(path, "utf8").digest();
  return shardId(digest.readUInt32BE(0) % shards, shards);
}
