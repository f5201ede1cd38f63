/**
 * Member and cluster IDs made exactly as etcd 3.4 makes them (membership/member.go and
 * cluster.go), so a pfsd cluster started with the same --initial-cluster and
 * --initial-cluster-token as an etcd cluster has the same IDs:
 *
 * - member ID: SHA-1 over the member's peer URLs sorted and concatenated with no separator,
 *   then the cluster token, then (for members added later) the decimal Unix seconds of the
 *   add; the first 8 bytes of the digest, big-endian. Members added through MemberAdd use an
 *   empty token and the time, as etcd's ClusterServer does.
 * - cluster ID: SHA-1 over the sorted member IDs, each as 8 big-endian bytes; first 8 bytes.
 */
import { createHash } from "node:crypto";
import { assert, nodeId, type NodeId } from "../../common/index.js";

function first8BigEndian(digest: Buffer): bigint {
  assert(digest.length >= 8, () => `digest of ${digest.length} bytes`);
  return digest.readBigUInt64BE(0);
}

/**
 * The ID of a member with `peerUrls` (as etcd prints them, e.g. "http://127.0.0.1:2380").
 * `addedAtUnixSeconds` is given only for members added after bootstrap.
 */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string,
  addedAtUnixSeconds?: number): NodeId {
  assert(peerUrls.length > 0, "a member needs at least one peer URL");
  const hash = createHash("sha1");
  // etcd sorts Go strings: bytewise, which for these ASCII URLs is code-unit order.
  for (const url of [...peerUrls].sort(compareStrings)) hash.update(url, "utf8");
  hash.update(clusterToken, "utf8");
  if (addedAtUnixSeconds !== undefined) hash.update(String(addedAtUnixSeconds), "utf8");
  const id = first8BigEndian(hash.digest());
  // etcd never checks this; a zero ID would be a 1-in-2^64 accident we refuse to handle.
  assert(id !== 0n, "member id hashed to 0");
  return nodeId(id);
}

/** The cluster ID of the bootstrap members `ids`. */
export function computeClusterId(ids: readonly NodeId[]): bigint {
  assert(ids.length > 0, "a cluster needs members");
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => { bytes.writeBigUInt64BE(id, 8 * i); });
  return first8BigEndian(createHash("sha1").update(bytes).digest());
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "host:port" of a peer URL ("http://127.0.0.1:2380" → "127.0.0.1:2380"). */
export function peerAddress(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port === "" ? (parsed.protocol === "https:" ? "443" : "80") : parsed.port;
  return `${parsed.hostname}:${port}`;
}
