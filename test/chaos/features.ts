/**
 * Which parts of issue 6 the built pfsd has, read from the compiled tree next to this file
 * (dist/), so a chaos test that needs a part not landed yet registers as a todo naming it
 * instead of passing without testing anything. Each check looks for the wiring itself (the
 * flag handed to the pfs node, the rpc in the contract), not for a file that may exist before
 * it is used.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function compiled(relative: string): string {
  const file = fileURLToPath(new URL(`../../${relative}`, import.meta.url));
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

function source(relative: string): string {
  // .proto files are read from the source tree (dist/ is next to it).
  const file = fileURLToPath(new URL(`../../../${relative}`, import.meta.url));
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

const pfsd = compiled("cmd/pfsd.js");
const shardProto = source("pkg/proto/pfs-shard.proto");
const pfsdConfig = compiled("pkg/common/pfsd-config.js");
const pfsNode = compiled("pkg/pfs/api/pfs-node.js");

export const features = {
  /** pfsd hands --replicas and --master-lease-ttl to its pfs node (replicas, masters). */
  replication: /config\.replicas\b/.test(pfsd) && /config\.masterLeaseTtl\b/.test(pfsd),
  /** pfs.Shard has ReadManifest (a replica's manifest of a commit, over the wire). */
  readManifest: /rpc\s+ReadManifest\b/.test(shardProto),
  /** pfsd takes --join URL. */
  join: /\bjoin\s*:/.test(pfsdConfig),
  /** The pfs node serves ClusterStatus (pfs cluster status). */
  clusterStatus: /clusterStatus/.test(pfsNode),
} as const;

/** A todo title for a test that waits for `part`. */
export function waitingFor(title: string, part: string): string {
  return `${title} — waits for ${part}, not in the built pfsd yet`;
}
