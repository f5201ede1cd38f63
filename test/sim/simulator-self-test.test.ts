/**
 * Goal: the simulator's checkers have teeth: a driver broken on purpose is caught.
 * Method: run fixed seeds with two sabotages, each of which a correct driver must never do:
 * skipping fsync (crashes then lose votes and acknowledged entries) and serving reads from
 * the local state machine without ReadIndex (stale reads); and a network that never heals must
 * fail the liveness check. Most seeds must fail, and with the checker expected for that fault.
 */
import test from "ava";
import { seedRange } from "./seed-suite.js";
import { type Sabotage, runSimulation } from "./simulation.js";

function failureKinds(sabotage: Sabotage, seeds: readonly number[]): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const seed of seeds) {
    const result = runSimulation(seed, {
      sabotage, overrides: { safetyTicks: 800, crashProbability: 0.006 },
    });
    const first = result.failures[0];
    const kind = first === undefined ? "passed" : (/^[^:\d]+/.exec(first)?.[0].trim() ?? first);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

test("skipping fsync is caught", (t) => {
  const kinds = failureKinds("skip-fsync", seedRange(1, 40));
  t.log(JSON.stringify([...kinds]));
  t.true((kinds.get("passed") ?? 0) <= 10, "too few seeds caught a driver that never fsyncs");
});

test("reading without ReadIndex is caught by the linearizability checker", (t) => {
  const kinds = failureKinds("read-local", seedRange(1, 40));
  t.log(JSON.stringify([...kinds]));
  t.true((kinds.get("linearizability illegal") ?? 0) >= 20, JSON.stringify([...kinds]));
});

test("a cluster that cannot heal fails the liveness check", (t) => {
  const kinds = failureKinds("no-heal", seedRange(1, 10));
  t.deepEqual([...kinds], [["liveness", 10]]);
});

test("a run is a function of its seed", (t) => {
  const first = runSimulation(12345);
  const second = runSimulation(12345);
  t.is(first.summary, second.summary);
  t.deepEqual(first.failures, second.failures);
});
