/**
 * How a member started with `--initial-cluster-state existing` (after `etcdctl member add`)
 * learns its own ID. etcd asks the other members over its peer HTTP API; our peer port speaks
 * only the Raft transport, so the joiner listens on its peer URL and takes the ID the leader
 * addresses its first Raft message to (the leader starts replicating to a member as soon as
 * its AddNode/AddLearner applies). That listener is closed again before the member's real
 * transport binds the same address; the leader resends what was lost.
 */
import {
  EtcdError, formatHexId, limits, nodeId, type Clock, type Logger, type NodeId,
} from "../../common/index.js";
import { decodeMessage } from "../../raft/index.js";
import { GrpcTransport, type TransportTls } from "../../raftnode/index.js";

/** A temporary sender ID for the listener; it never sends, so it only has to be non-zero. */
const listenerId = nodeId(0xffff_ffff_ffff_fffen);

export interface JoinOptions {
  readonly clusterId: bigint;
  readonly listenAddress: string;
  readonly tls: TransportTls | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Resolves with the ID the cluster's leader uses for this member. Rejects with ETCD_TIMEOUT
 * after etcdMemberJoinWaitMs (the member was not added, or the cluster ID differs: the
 * cluster was reconfigured before this member was added, see member-bootstrap.ts).
 */
export async function learnMemberId(options: JoinOptions): Promise<NodeId> {
  let learned: ((id: NodeId) => void) | undefined;
  const found = new Promise<NodeId>((resolve) => { learned = resolve; });
  const listener = new GrpcTransport({
    localId: listenerId, clusterId: options.clusterId, listenAddress: options.listenAddress,
    peers: new Map(), clock: options.clock, logger: options.logger,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  await listener.start({
    receive: (_from, messages) => {
      for (const bytes of messages) {
        const message = decodeMessage(bytes);
        if (message.ok && message.value.to !== 0n) learned?.(message.value.to);
      }
      return undefined;
    },
    unreachable: () => undefined,
    snapshotDone: () => undefined,
  });
  options.logger.info("waiting for the leader to address this new member", {
    listen: options.listenAddress,
  });
  let timer: { cancel(): void } | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = options.clock.setTimer(limits.etcdMemberJoinWaitMs, () => {
      reject(new EtcdError("ETCD_TIMEOUT"));
    });
  });
  try {
    const id = await Promise.race([found, timeout]);
    options.logger.info("learned this member's id", { memberId: formatHexId(id) });
    return id;
  } finally {
    timer?.cancel();
    await listener.close();
  }
}
