/**
 * Every bound of the replication chaos harness (test/chaos), named with its unit. Generous on
 * purpose: the machine is shared by several test processes on two cores, so these bound
 * liveness ("eventually, within a long while"), never speed; speed is scripts/bench failover.
 */

/**
 * Tries at starting a cluster (each on fresh ports and data dirs): on a loaded machine a
 * member can miss startCluster's 30 s bound.
 */
export const clusterStartAttemptsMax: number = 3;

/** Pause before another try at starting a cluster (lets a burst of load pass). */
export const clusterStartRetryPauseMs: number = 3_000;

/** How long a restarted node may take to serve its etcd API and register its pfs address. */
export const nodeRestartMsMax: number = 45_000;

/** Deadline of one unary pfs or shard call made by the harness, writers or the checker. */
export const callDeadlineMs: number = 20_000;

/** Deadline of one PutFile stream (a writer's file is at most a few MiB). */
export const putDeadlineMs: number = 30_000;

/** Deadline of one etcd call the harness makes (leader, masters, maps, records). */
export const etcdCallDeadlineMs: number = 5_000;

/**
 * Writes must succeed again within this long after each kill: the master lease (2 s in the
 * tests), an election, a restart of the victim (at most a few seconds) and a loaded machine.
 */
export const writeResumeMsMax: number = 60_000;

/** After healing, how long replicas get to hold every finished commit (catch-up). */
export const healMsMax: number = 90_000;

/** How often a waiting check looks again. */
export const pollMs: number = 250;

/** Files one writer commit puts, [min, max]. */
export const filesPerCommitRange: readonly [number, number] = [1, 5];

/** Bytes of a small file, [min, max]. */
export const smallFileBytesRange: readonly [number, number] = [0, 64 * 1024];

/** Bytes of a multi-chunk file (chunks average 1 MiB), [min, max]. */
export const bigFileBytesRange: readonly [number, number] = [1536 * 1024, 3 * 1024 * 1024];

/** Share of files that are multi-chunk. */
export const bigFileShare: number = 0.08;

/**
 * Different nodes every acknowledged file is read back from through pfs.API by the checker
 * (besides, every replica's copy of its chunks is hashed on disk).
 */
export const readBackNodes: number = 2;

/** Pause of a writer after a failed attempt before the next, [min, max] ms. */
export const writerBackoffMsRange: readonly [number, number] = [100, 600];

/** A read of a finished commit must succeed within this long, retrying (rolling restart). */
export const readRetryMsMax: number = 15_000;

/** Pause between a reader's attempts. */
export const readRetryPauseMs: number = 250;
