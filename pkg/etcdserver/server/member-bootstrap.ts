/**
 * Bootstrap of a member from etcd's flags: its ID, the cluster ID, the bootstrap membership
 * (the Raft ConfState at index 0 and the state machine's first member records), the peer
 * transport's addresses and TLS, and the data directory layout (`<data-dir>/member/wal`,
 * `<data-dir>/member/snap`, as etcd).
 *
 * A member of a new cluster (`--initial-cluster-state new`) derives everything from
 * --initial-cluster and --initial-cluster-token, exactly as etcd does, so a restart with the
 * same command line finds the same IDs. A member joining an existing cluster has a random ID
 * given by MemberAdd; it learns it from the first Raft message addressed to it (see
 * etcd-member.ts) and records its identity in `<data-dir>/member/pfs-identity`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ConfigError, type NodeId, type PfsdConfig, nodeId,
} from "../../common/index.js";
import type { TransportTls } from "../../raftnode/index.js";
import type { Member } from "../backend.js";
import { computeClusterId, computeMemberId, peerAddress } from "./member-id.js";

/** The directories of a member's durable state. */
export interface MemberDirs {
  readonly memberDir: string;
  readonly walDir: string;
  readonly snapDir: string;
  readonly identityFile: string;
}

export function memberDirs(dataDir: string): MemberDirs {
  const memberDir = join(dataDir, "member");
  return {
    memberDir, walDir: join(memberDir, "wal"), snapDir: join(memberDir, "snap"),
    identityFile: join(memberDir, "pfs-identity"),
  };
}

/** The bootstrap members of --initial-cluster, with IDs as etcd computes them. */
export function initialClusterMembers(config: PfsdConfig): Member[] {
  return config.initialCluster.map((entry) => ({
    id: computeMemberId(entry.peerUrls, config.initialClusterToken),
    name: entry.name, peerUrls: [...entry.peerUrls], clientUrls: [], isLearner: false,
  }));
}

/** Who this member is and what it starts from. */
export interface MemberIdentity {
  /** 0n for a joiner that has not learned its ID yet. */
  readonly memberId: NodeId;
  readonly clusterId: bigint;
  /** The bootstrap membership: every voter at index 0 (the joiner excluded). */
  readonly bootstrapMembers: readonly Member[];
}

/** The identity of a member of a new cluster. */
export function newClusterIdentity(config: PfsdConfig): MemberIdentity {
  const members = initialClusterMembers(config);
  const self = members.find((member) => member.name === config.name);
  if (self === undefined) {
    throw new ConfigError("--initial-cluster", `no member named ${config.name}`);
  }
  return {
    memberId: self.id, clusterId: computeClusterId(members.map((member) => member.id)),
    bootstrapMembers: members,
  };
}

/**
 * The identity of a member joining an existing cluster before it learned its ID: the
 * bootstrap membership is every other member of --initial-cluster (what `etcdctl member add`
 * prints), which is the cluster's membership at index 0 when the cluster was not
 * reconfigured before; otherwise the leader's snapshot replaces it.
 */
export function joiningIdentity(config: PfsdConfig): MemberIdentity {
  const others = initialClusterMembers(config).filter((member) => member.name !== config.name);
  if (others.length === 0) {
    throw new ConfigError("--initial-cluster-state", "existing needs the other members in " +
      "--initial-cluster");
  }
  return {
    memberId: nodeId(0n), clusterId: computeClusterId(others.map((member) => member.id)),
    bootstrapMembers: others,
  };
}

/** The identity file's text: member ID, cluster ID, then one bootstrap member a line. */
export function encodeIdentity(identity: MemberIdentity): string {
  const lines = [identity.memberId.toString(16), identity.clusterId.toString(16)];
  for (const member of identity.bootstrapMembers) {
    lines.push([member.id.toString(16), member.name, ...member.peerUrls].join(" "));
  }
  return `${lines.join("\n")}\n`;
}

/** Reads the identity file; undefined when there is none. */
export async function readIdentity(file: string): Promise<MemberIdentity | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const [memberLine, clusterLine, ...memberLines] = text.trim().split("\n");
  if (memberLine === undefined || clusterLine === undefined) {
    throw new ConfigError("--data-dir", `${file} is damaged`);
  }
  const bootstrapMembers = memberLines.map((line) => {
    const [id, name, ...peerUrls] = line.split(" ");
    return {
      id: nodeId(BigInt(`0x${id ?? "0"}`)), name: name ?? "", peerUrls, clientUrls: [],
      isLearner: false,
    };
  });
  return {
    memberId: nodeId(BigInt(`0x${memberLine}`)), clusterId: BigInt(`0x${clusterLine}`),
    bootstrapMembers,
  };
}

/** "host:port" the peer transport listens on (the first --listen-peer-urls). */
export function peerListenAddress(config: PfsdConfig): string {
  const url = config.listenPeerUrls[0];
  if (url === undefined) throw new ConfigError("--listen-peer-urls", "no URL given");
  return peerAddress(url);
}

/** The peers' transport addresses: every bootstrap member but `self`. */
export function bootstrapPeers(members: readonly Member[], self: NodeId): Map<NodeId, string> {
  const peers = new Map<NodeId, string>();
  for (const member of members) {
    const url = member.peerUrls[0];
    if (member.id !== self && url !== undefined) peers.set(member.id, peerAddress(url));
  }
  return peers;
}

/** Peer TLS from --peer-cert-file, --peer-key-file and --peer-trusted-ca-file. */
export async function peerTls(config: PfsdConfig): Promise<TransportTls | undefined> {
  const { peerCertFile, peerKeyFile, peerTrustedCaFile } = config;
  if (peerCertFile === undefined || peerKeyFile === undefined) return undefined;
  if (peerTrustedCaFile === undefined) {
    throw new ConfigError("--peer-trusted-ca-file", "peer TLS needs the CA that signed the peers");
  }
  const [certPem, keyPem, caPem] = await Promise.all([
    readFile(peerCertFile), readFile(peerKeyFile), readFile(peerTrustedCaFile),
  ]);
  return { certPem, keyPem, caPem };
}
