/**
 * The gear table of the rolling hash: 256 pseudo-random 32-bit words, one per byte value.
 *
 * Invariant: the table never changes. Cut points, and so chunk ids and deduplication across
 * replicas and versions, depend on every word of it; changing it re-chunks every file. That is
 * why it is derived from sha256 of a fixed label rather than from a PRNG whose algorithm might
 * be tuned later: word i is the first four bytes (big-endian) of sha256("pfs-gear-v1:" + i).
 * A unit test pins a few words.
 */
import { createHash } from "node:crypto";
import { assert } from "../../common/index.js";

/** The label the words are derived from; part of the on-disk format (see above). */
const gearLabel = "pfs-gear-v1:";

function deriveGearTable(): Int32Array {
  const table = new Int32Array(256);
  for (let value = 0; value < 256; value += 1) {
    const digest = createHash("sha256").update(`${gearLabel}${value}`).digest();
    table[value] = digest.readInt32BE(0);
  }
  return table;
}

/**
 * The 256 gear words as signed 32-bit integers (the hash arithmetic is `| 0` int32 math,
 * which V8 keeps in small integers). Frozen in spirit: never write to it.
 */
export const gearTable: Int32Array = deriveGearTable();

assert(gearTable.length === 256, () => `gear table has ${gearTable.length} words`);
assert(new Set(gearTable).size === 256, "gear words are distinct");
