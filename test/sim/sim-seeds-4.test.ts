/**
 * Goal: the Raft core keeps every safety property under faults and recovers afterwards, for
 * fixed seeds 301..400 plus 25 fresh seeds (quarter 4 of the CI simulation).
 * Method: one deterministic simulation per seed (test/sim/simulation.ts); each failing seed is
 * listed with the command that replays it.
 */
import test from "ava";
import { freshSeeds, runSeeds, seedRange } from "./seed-suite.js";

test("fixed seeds 301..400", (t) => {
  t.timeout(180_000);
  runSeeds(t, seedRange(301, 100));
});

test("25 fresh seeds", (t) => {
  t.timeout(180_000);
  const seeds = freshSeeds(25);
  t.log(`fresh seeds: ${seeds.join(" ")}`);
  runSeeds(t, seeds);
});
