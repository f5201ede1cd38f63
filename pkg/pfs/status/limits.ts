/**
 * The bounds of `pfs cluster status` and `pfs cluster remove-node` (STYLE rule 8), each named
 * with its unit and why. The cluster-wide knobs stay in pkg/common/limits.ts.
 */
import { assert, limits } from "../../common/index.js";

/**
 * Most keys one status read takes from one prefix (nodes, offline records, retired nodes,
 * replica status records, master election keys). The largest cluster has S × R replica
 * status records (1,024 × 7); past this bound the read is refused (LIMIT_EXCEEDED) rather
 * than answered from a part of the store.
 */
export const statusKeysPerPrefixMax: number = 16_384;

/** Largest lag or count the wire carries (int32); a larger one is reported as this. */
export const wireCountMax: number = 2_147_483_647;

/** `pfs cluster status --watch` without a value: seconds between two redraws. */
export const watchIntervalSecondsDefault: number = 2;
/** Shortest `--watch` interval, in seconds: each redraw reads the whole status. */
export const watchIntervalSecondsMin: number = 0.5;
/** Longest `--watch` interval, in seconds (a day): past it, run the command again. */
export const watchIntervalSecondsMax: number = 86_400;

assert(limits.pfsShardsMax * limits.pfsReplicasMax < statusKeysPerPrefixMax,
  "every replica status record of the largest cluster must fit one status read");
assert(watchIntervalSecondsMin <= watchIntervalSecondsDefault &&
  watchIntervalSecondsDefault <= watchIntervalSecondsMax, "the default watch interval is in range");
