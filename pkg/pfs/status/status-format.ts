/**
 * How `pfs cluster status` and `pfs cluster remove-node` print for people: a node table and a
 * shard table in the CLI's table style (pkg/pfs/client `formatTable`), and one line per thing
 * a removal did. Pure. (`--json` prints the response message itself.)
 */
import { formatTable } from "../client/index.js";
import type {
  NodeStatusMessage, RemoveNodeResponse, ShardStatusMessage,
} from "../../proto/index.js";
import type { ClusterStatus } from "./cluster-status.js";

/** Ascending shard numbers as ranges: [0, 1, 2, 5] → "0-2,5"; none → "-". */
export function formatShardList(shards: readonly number[]): string {
  const sorted = [...shards].sort((a, b) => a - b);
  const parts: string[] = [];
  let index = 0;
  while (index < sorted.length) {
    const first = sorted[index] ?? 0;
    let last = first;
    while (index + 1 < sorted.length && sorted[index + 1] === last + 1) {
      index += 1;
      last += 1;
    }
    parts.push(first === last ? String(first) : `${first}-${last}`);
    index += 1;
  }
  return parts.length === 0 ? "-" : parts.join(",");
}

/** yes, NO (offline) or FAULTY (offline past the dead time). */
function onlineCell(node: NodeStatusMessage): string {
  if (node.online) return "yes";
  return node.faulty ? "FAULTY" : "NO";
}

function lagCell(lag: number): string {
  return lag < 0 ? "?" : String(lag);
}

function noteCell(shard: ShardStatusMessage): string {
  const notes: string[] = [];
  if (shard.under_replicated) {
    const online = shard.replica_status.filter((replica) => replica.online).length;
    notes.push(`under-replicated (${online}/${shard.r} online)`);
  }
  if (shard.master === "") notes.push("no master");
  return notes.join(", ");
}

/** The node table, a blank line, then the shard table. */
export function formatClusterStatus(status: ClusterStatus): string {
  const nodes = formatTable(["ID", "ADDRESS", "RAFT", "ONLINE", "MASTERED", "HELD"],
    status.nodes.map((node) => [
      node.id, node.address === "" ? "-" : node.address,
      node.raft_role === "" ? "-" : node.raft_role, onlineCell(node),
      formatShardList(node.shards_mastered), formatShardList(node.shards_held),
    ]));
  const shards = formatTable(["SHARD", "MASTER", "REPLICAS", "LAG", "NOTE"],
    status.shards.map((shard) => [
      String(shard.shard), shard.master === "" ? "-" : shard.master,
      shard.replicas.length === 0 ? "-" : shard.replicas.join(","), lagCell(shard.lag),
      noteCell(shard),
    ]));
  return `${nodes}\n${shards}`;
}

/** One line per thing a removal did. */
export function formatRemoveNode(removed: RemoveNodeResponse): string {
  const lines = [removed.already_retired ? `node ${removed.id} was already retired`
    : `retired node ${removed.id}${removed.was_online ? " (it was online: --force)" : ""}`];
  if (removed.node_key_deleted) lines.push(`deleted its node key`);
  if (removed.health_record_deleted) lines.push(`deleted its offline record`);
  if (removed.member_removed) {
    lines.push(`removed coordination store member ${removed.member_id}`);
  }
  lines.push("the placement controller moves its replicas to other nodes now");
  return lines.join("\n") + "\n";
}
