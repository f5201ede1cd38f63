/**
 * Bounds of the pfs node's metrics (pfs-metrics.ts), with their unit last (STYLE rule 8).
 */

/**
 * How stale pfs_chunk_store_bytes may be: the chunk directories are walked at most this often
 * (a scrape in between reuses the last sum), so frequent scrapes of a big store cost one walk
 * per interval, not one per scrape.
 */
export const chunkStoreScanIntervalMs: number = 15_000;
