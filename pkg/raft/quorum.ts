/** Majority quorum arithmetic (etcd-io/raft quorum/majority.go), pure functions. */
import type { LogIndex, NodeId } from "../common/index.js";

/** The outcome of an election so far. */
export type VoteResult = "won" | "lost" | "pending";

/** The size of a majority of `voterCount` voters. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index held by a majority of `voters`, given each one's match index (missing =
 * 0). With no voters it returns 0, so nothing commits.
 */
export function committedIndex(
  voters: ReadonlySet<NodeId>,
  matchOf: (id: NodeId) => LogIndex,
): LogIndex {
  if (voters.size === 0) return 0 as LogIndex;
  const matches = [...voters].map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.size) - 1] ?? (0 as LogIndex);
}

/** Tallies votes of `voters` (true = granted) into won, lost or still pending. */
export function voteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted += 1;
    if (vote === false) rejected += 1;
  }
  const needed = majority(voters.size);
  if (granted >= needed) return "won";
  if (voters.size - rejected < needed) return "lost";
  return "pending";
}
