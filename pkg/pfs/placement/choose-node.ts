/**
 * The pure placement decision: which live node gets a shard that has none yet. The node
 * holding the fewest shards wins; ties go to the node with the smallest stable hash of
 * (shard, node), so concurrent deciders that see the same state pick the same node and a
 * fresh cluster spreads its shards evenly without a coordinator. No I/O.
 */
import { createHash } from "node:crypto";
import { assert } from "../../common/index.js";

/** The tie-break rank of `node` for `shard`: the first 6 bytes of sha256("shard/node"). */
export function placementRank(shard: number, node: string): number {
  const digest = createHash("sha256").update(`${shard}/${node}`, "utf8").digest();
  return digest.readUIntBE(0, 6);
}

/**
 * The node among `liveNodes` (non-empty, distinct) to place `shard` on, given the current
 * placement `owners` (shard → node; owners that are not live count for nothing).
 */
export function chooseNode(shard: number, liveNodes: readonly string[],
  owners: ReadonlyMap<number, string>): string {
  assert(liveNodes.length > 0, () => `no live node to place shard ${shard} on`);
  assert(!owners.has(shard), () => `shard ${shard} is already placed on ${owners.get(shard)}`);
  const held = new Map<string, number>(liveNodes.map((node) => [node, 0]));
  for (const owner of owners.values()) {
    const count = held.get(owner);
    if (count !== undefined) held.set(owner, count + 1);
  }
  let best = "";
  let bestHeld = Number.POSITIVE_INFINITY;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const node of liveNodes) {
    const count = held.get(node) ?? 0;
    const rank = placementRank(shard, node);
    if (count < bestHeld || (count === bestHeld && rank < bestRank)) {
      best = node;
      bestHeld = count;
      bestRank = rank;
    }
  }
  assert(best !== "", "no node chosen");
  return best;
}
