/**
 * The bounds of add-then-drop replica moves (replica-map.ts), each named with its unit and why
 * (STYLE rule 8). A move lists its new replica next to the one leaving until the new one has
 * caught up, so while moves are in flight the cluster copies whole shards and some shards list
 * one node more than R.
 */
import { assert } from "../../common/index.js";
import { rebalanceMovesPerRoundMax } from "./limits.js";

/**
 * Moves (rebalancing or draining a retired node) one replica map may carry in flight at once:
 * each starts a catch-up that copies a whole shard to a new node, so a few at a time keep the
 * copying from crowding out the writes; the next ones start as these finish.
 */
export const rebalanceMovesInFlightMax: number = 8;

/**
 * Pause, in milliseconds, between two checks of the moves in flight when no replica status
 * change woke the controller (a backstop: a status record that changes wakes it at once).
 */
export const movesRecheckMs: number = 2_000;

assert(rebalanceMovesInFlightMax >= rebalanceMovesPerRoundMax,
  "a round's rebalancing moves must fit in flight");
assert(movesRecheckMs > 0, "the moves re-check pause must be positive");
