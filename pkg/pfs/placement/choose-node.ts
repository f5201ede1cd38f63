/**
 * The stable tie-break of placement decisions (replica-map.ts): a hash of (shard, node), so
 * every decider that sees the same state picks the same node. No I/O.
 */
import { createHash } from "node:crypto";

/** The tie-break rank of `node` for `shard`: the first 6 bytes of sha256("shard/node"). */
export function placementRank(shard: number, node: string): number {
  const digest = createHash("sha256").update(`${shard}/${node}`, "utf8").digest();
  return digest.readUIntBE(0, 6);
}
