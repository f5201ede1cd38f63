/**
 * The bounds of scripts/launch-test.ts (the cluster launcher behind scripts/launch_test). Each
 * is a named constant with its unit last; the relations between them are asserted at load.
 */

/** Nodes of every launched cluster (3: a Raft majority survives one loss, like etcd's). */
export const launchNodes: number = 3;
/** Members of the external etcd cluster of --external-etcd. */
export const launchEtcdMembers: number = 3;
/** Shards of the launched file system: a few per node, so forwarding is exercised. */
export const launchShards: number = 4;
/**
 * Attempts to launch on a fresh run of free ports. Ports are probed free, but another process
 * on the machine may bind one before our servers do; a clash fails one attempt, not the run.
 */
export const launchAttemptsMax: number = 3;
/** How long `pfs deploy local --detach` gets to report the cluster serving. */
export const launchDeployMsMax: number = 120_000;
/** How long a launched cluster gets until every node is online and every shard has a master. */
export const launchReadyMsMax: number = 90_000;
/** How long the external etcd members get to serve a linearizable read. */
export const launchEtcdReadyMsMax: number = 30_000;
/** Pause between two polls of a starting cluster. */
export const launchPollMs: number = 500;
/** How long a stopped process gets after SIGTERM before SIGKILL (pfsd drains within 10 s). */
export const launchStopMsMax: number = 15_000;
/** How long one `pfs` command of the launcher may take. */
export const launchCommandMsMax: number = 30_000;

if (launchReadyMsMax <= launchPollMs || launchEtcdReadyMsMax <= launchPollMs) {
  throw new Error(`launch limits: the ready bounds (${launchReadyMsMax} ms, ` +
    `${launchEtcdReadyMsMax} ms) must exceed the poll interval (${launchPollMs} ms)`);
}
