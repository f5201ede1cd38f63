/**
 * Runs a block of simulator seeds as one ava test: fixed seeds (the regression corpus CI always
 * runs) plus fresh ones drawn from the operating system (printed, so a failure can be replayed).
 * Every failing seed is reported with the command that replays it.
 */
import { randomInt } from "node:crypto";
import type { ExecutionContext } from "ava";
import { formatKnobs } from "./sim-knobs.js";
import { type Coverage, emptyCoverage, runSimulation } from "./simulation.js";

/** Fresh seeds stay below 2^31 so that they are easy to type and replay. */
const freshSeedBound = 2 ** 31;

export function freshSeeds(count: number): number[] {
  return Array.from({ length: count }, () => randomInt(0, freshSeedBound));
}

export function runSeeds(t: ExecutionContext, seeds: readonly number[]): void {
  const failures: string[] = [];
  const sizes = new Map<number, number>();
  let membership = 0;
  const total = emptyCoverage();
  for (const seed of seeds) {
    const result = runSimulation(seed);
    for (const key of Object.keys(total) as (keyof Coverage)[]) total[key] += result.coverage[key];
    sizes.set(result.knobs.nodeCount, (sizes.get(result.knobs.nodeCount) ?? 0) + 1);
    if (result.knobs.membershipChanges) membership += 1;
    if (result.passed) continue;
    failures.push(`seed ${seed}: ${result.failures.join("\n  also: ")}\n` +
      `  knobs: ${formatKnobs(result.knobs)}\n  replay: scripts/sim --seed ${seed}`);
  }
  const sizeText = [...sizes].sort().map(([n, count]) => `${count}×${n} nodes`).join(", ");
  t.log(`${seeds.length} seeds (${sizeText}; ${membership} with membership changes)`);
  t.log(`coverage: ${JSON.stringify(total)}`);
  for (const failure of failures) t.log(`FAIL ${failure}`);
  t.is(failures.length, 0, `${failures.length} of ${seeds.length} seeds failed`);
  if (seeds.length >= 100) {
    // Every fault and feature must really have been exercised across a block of seeds.
    const unexercised = Object.entries(total).filter(([, count]) => count === 0);
    t.deepEqual(unexercised, [], `features never exercised: ${JSON.stringify(unexercised)}`);
  }
}

/** The fixed seeds [first, first + count). */
export function seedRange(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}
