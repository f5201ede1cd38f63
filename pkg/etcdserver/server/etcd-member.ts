/**
 * `EtcdMember`: one replicated etcd member (etcd's EtcdServer) and the `EtcdBackend` the gRPC
 * services call. It owns the Raft driver (WAL and snapshots under `<data-dir>/member`, the
 * gRPC peer transport), the state machine, the watch hub and the leader's lease expiry.
 *
 * Reads: linearizable ranges wait for a ReadIndex barrier (RaftNode.readIndex resolves once
 * this member applied everything committed when the leader confirmed the read), then read
 * local state; serializable ranges read local state at once. Read-only txns are served the
 * same way, without Raft. Writes are encoded (request-codec.ts), pass the push-back gate
 * (proposal-gate.ts) and are proposed; the proposer gets the state machine's result.
 *
 * Leases: only the leader keeps expiry times. On becoming leader every lease is promoted by
 * the election timeout; every etcdLeaseExpiryCheckMs the leader proposes revokes for expired
 * leases. Followers forward keepalives and TimeToLive to the leader (lease-forwarder.ts).
 *
 * Watches: each apply publishes its events to the hub at once (in revision order); streams
 * with responses waiting are woken once per event-loop turn.
 */
import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Registry } from "prom-client";
import {
  Prng, SystemClock, assert, formatHexId, limits, systemSeed, type Clock, type Logger,
  type PfsdConfig,
} from "../../common/index.js";
import { DiskNodeStorage, GrpcTransport, NodeFileIo, RaftNode } from "../../raftnode/index.js";
import { leaseTtlSecondsMin } from "../lease/index.js";
import { MemberMetrics, timedSyncIo } from "../metrics/index.js";
import { WatchHub } from "../watch/index.js";
import {
  encodeIdentity, joiningIdentity, memberDirs, newClusterIdentity, peerListenAddress, peerTls,
  readIdentity, bootstrapPeers, type MemberIdentity,
} from "./member-bootstrap.js";
import { LeaseForwarder } from "./lease-forwarder.js";
import { learnMemberId, type JoinOptions } from "./member-join.js";
import { RaftDriverClock } from "./driver-clock.js";
import { EtcdStateMachine, type ApplyResult } from "./state-machine.js";
import { MemberCore, type EtcdMember } from "./member-core.js";

/** Options of `startEtcdMember`. */
export interface EtcdMemberOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Called once if the member's Raft loop dies; the member is then stopped (pfsd exits). */
  readonly onFatal?: (error: unknown) => void;
  /** Where the member's metrics go (etcd's names, metrics/member-metrics.ts); none if absent. */
  readonly metricsRegistry?: Registry;
}

/**
 * Starts the member of `config` (etcd's flags): opens or creates its data directory, starts
 * the peer transport on the first --listen-peer-urls and the Raft driver, and resolves once
 * it can take requests (a fresh single member elects itself at once). The member publishes
 * its name and client URLs through Raft in the background. Rejects with ConfigError for
 * unusable flags and DATA_CORRUPTED for a damaged data directory.
 */
export async function startEtcdMember(config: PfsdConfig,
  options: EtcdMemberOptions): Promise<EtcdMember> {
  const clock = options.clock ?? new SystemClock();
  const logger = options.logger;
  const dirs = memberDirs(config.dataDir);
  await mkdir(dirs.memberDir, { recursive: true });
  const tls = await peerTls(config);
  const identity = await memberIdentity(config, dirs.identityFile, { tls, clock, logger });
  assert(identity.memberId !== 0n, "a member starts with its id known");
  const electionTicks = Math.max(1, Math.round(config.electionTimeout / config.heartbeatInterval));
  const machine = new EtcdStateMachine({
    lease: { ttlSecondsMin: leaseTtlSecondsMin(config.electionTimeout) },
    initialMembers: identity.bootstrapMembers, clock, logger,
  });
  const transport = new GrpcTransport({
    localId: identity.memberId, clusterId: identity.clusterId,
    listenAddress: peerListenAddress(config),
    peers: bootstrapPeers(identity.bootstrapMembers, identity.memberId),
    ...(tls === undefined ? {} : { tls }), clock, logger,
  });
  const metrics = options.metricsRegistry === undefined ? undefined
    : new MemberMetrics(options.metricsRegistry);
  const io = metrics === undefined ? new NodeFileIo()
    : timedSyncIo(new NodeFileIo(), [
      { dir: dirs.walDir, onSync: (seconds) => { metrics.walSynced(seconds); } },
      { dir: dirs.snapDir, onSync: (seconds) => { metrics.snapshotSynced(seconds); } }]);
  const storage = await DiskNodeStorage.open({
    walDir: dirs.walDir, snapshotDir: dirs.snapDir, io, logger,
    initialVoters: identity.bootstrapMembers.filter((member) => !member.isLearner)
      .map((member) => member.id),
  });
  const singleVoter = identity.bootstrapMembers.length === 1;
  const core = new MemberCore({
    config, identity, machine, transport, clock, logger, electionTicks,
    forwarder: new LeaseForwarder(config), prng: new Prng(systemSeed()),
    ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
    ...(metrics === undefined ? {} : { metrics }),
  });
  const raft = new RaftNode<ApplyResult>({
    id: identity.memberId, storage, transport, stateMachine: machine,
    clock: new RaftDriverClock(clock, singleVoter ? 2 * electionTicks : electionTicks - 1),
    logger, seed: systemSeed(), tickMs: config.heartbeatInterval, electionTicks,
    heartbeatTicks: 1, snapshotEntries: config.snapshotCount,
    snapshotCatchUpEntries: Math.max(1, Math.min(limits.raftSnapshotCatchUpEntries,
      Math.floor(config.snapshotCount / 2))),
    onFatal: (error) => { core.fatal(error); },
    onLeadershipChange: (change) => { core.leadershipChanged(change.leader, change.role); },
  });
  const hub = new WatchHub(machine.watchSource);
  await core.start(raft, hub);
  metrics?.bind({
    raftStatus: () => raft.status(), isLearner: () => core.isLearner(),
    revision: () => machine.store.revision, dbSizeBytes: () => machine.sizeBytes,
    leaseCount: () => machine.leases.size, watchStreamCount: () => hub.streamCount,
    watcherCount: () => hub.watcherCount,
  });
  logger.info("etcd member started", {
    memberId: formatHexId(identity.memberId), clusterId: formatHexId(identity.clusterId),
    peerPort: transport.port,
  });
  return core;
}

/**
 * The stored identity, else a new cluster's, else (a joiner) the one learned from the
 * leader; recorded durably before anything else, so a restart is the same member.
 */
async function memberIdentity(config: PfsdConfig, file: string,
  join: Omit<JoinOptions, "clusterId" | "listenAddress">): Promise<MemberIdentity> {
  const stored = await readIdentity(file);
  if (stored !== undefined) return stored;
  let identity = config.initialClusterState === "new"
    ? newClusterIdentity(config) : joiningIdentity(config);
  if (identity.memberId === 0n) {
    const memberId = await learnMemberId({
      ...join, clusterId: identity.clusterId, listenAddress: peerListenAddress(config),
    });
    identity = { ...identity, memberId };
  }
  await writeIdentity(file, identity);
  return identity;
}

/** Writes the identity file atomically and durably (temp file, fsync, rename, dir fsync). */
export async function writeIdentity(file: string, identity: MemberIdentity): Promise<void> {
  const temp = `${file}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(encodeIdentity(identity), "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const dir = await open(dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
