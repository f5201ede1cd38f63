// Goal (issue 6, test 1): under concurrent writers and a nemesis that kills -9 random nodes
// (the Raft leader and shard masters more often) and restarts them, nothing acknowledged is
// lost: every commit whose finish returned success is finished and byte-identical on every
// replica, no data of a failed commit is visible, and writes resume after every kill.
// Method: chaos-run.ts on 5 real pfsd processes (R=3, W=2, 4 shards, 2 s master leases), 3
// writers, ~40 s of faults (a kill, its pause and the restart take ~15 s), then the checker
// (checker.ts). The seed is in the title and in every failure; PFS_TEST_SEED reproduces a
// run. `scripts/chaos --minutes N` runs it longer.
import test from "ava";
import { defaultChaosRunOptions, runChaos } from "./chaos-run.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);

test(`chaos: 5 nodes, kill -9 under load, nothing acknowledged lost (seed ${seed})`,
  async (t) => {
    t.timeout(240_000);
    const result = await runChaos({
      ...defaultChaosRunOptions, seed, loadMs: 40_000, tailMs: 8_000,
      log: (line) => { t.log(line); },
    });
    t.log(result.summary);
    t.true(result.kills.length >= 2, `only ${result.kills.length} kills`);
    t.true(result.verdict.counts.ok >= 5, `only ${result.verdict.counts.ok} ok commits`);
    t.deepEqual(result.verdict.failures.slice(0, 20), [], `seed ${seed}: ${result.summary}`);
  });
