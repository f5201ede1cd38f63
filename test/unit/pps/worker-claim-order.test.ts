// Goal: the worker's claim order (pkg/pps/worker/claim-order.ts) puts tasks whose shards live
// here first, lets other tasks in only after ppsRemoteClaimDelayMs, never offers a claimed,
// busy or unrunnable task, and orders each group by age then key; freeSlots lists exactly the
// untaken indexes below parallelism.
// Method: seeded random task sets (PFS_SEED, printed on failure) checked against the rules
// written out directly.
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
import type { DatumTaskRecord } from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pps re-exports the worker once pps-node wires it
import { type SeenTask, claimOrder, freeSlots, workerLimits } from "../../../pkg/pps/worker/index.js";

const seed = Number(process.env["PFS_SEED"] ?? Date.now() % 1_000_000_000);
const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

function randomTask(prng: Prng, index: number): SeenTask {
  const jobId = hex(prng.intBelow(3), 32);
  const datumId = hex(index, 64);
  const task: DatumTaskRecord = {
    jobId, pipeline: "p", inputCommit: "in@c",
    datum: { id: datumId, root: `/${index}`, files: [], sizeBytes: 0 },
    shards: [prng.intBelow(8)], createdMs: prng.intBelow(5),
  };
  return { suffix: `${jobId}/${datumId}`, task, seenMs: prng.intBelow(4_000) };
}

test("local tasks first, remote ones only after the delay, none claimed, busy or stopped",
  (t) => {
    t.teardown(() => { if (!t.passed) t.log(`PFS_SEED=${seed}`); });
    const prng = new Prng(seed);
    for (let round = 0; round < 200; round += 1) {
      const tasks = Array.from({ length: prng.intBetween(0, 30) }, (_, i) => randomTask(prng, i));
      const claimed = new Set(tasks.filter(() => prng.chance(0.2)).map((s) => s.suffix));
      const busy = new Set(tasks.filter(() => prng.chance(0.1)).map((s) => s.suffix));
      const stopped = new Set(tasks.filter(() => prng.chance(0.1)).map((s) => s.suffix));
      const held = new Set([0, 1, 2].filter(() => prng.chance(0.6)));
      const nowMs = 4_000;
      const order = claimOrder({
        tasks, claimed: (s) => claimed.has(s), busy: (s) => busy.has(s),
        runnable: (task) => !stopped.has(`${task.jobId}/${task.datum.id}`),
        holdsShard: (shard) => held.has(shard), nowMs,
      });
      const local = (s: SeenTask): boolean => s.task.shards.some((shard) => held.has(shard));
      const expected = tasks.filter((s) => !claimed.has(s.suffix) && !busy.has(s.suffix) &&
        !stopped.has(s.suffix) &&
        (local(s) || nowMs - s.seenMs >= workerLimits.ppsRemoteClaimDelayMs));
      t.deepEqual(order.map((s) => s.suffix).sort(), expected.map((s) => s.suffix).sort());
      const firstRemote = order.findIndex((s) => !local(s));
      if (firstRemote >= 0) t.true(order.slice(firstRemote).every((s) => !local(s)));
      for (let i = 1; i < order.length; i += 1) {
        const [a, b] = [order[i - 1], order[i]];
        if (a === undefined || b === undefined || local(a) !== local(b)) continue;
        t.true(a.task.createdMs < b.task.createdMs ||
          (a.task.createdMs === b.task.createdMs && a.suffix < b.suffix));
      }
    }
  });

test("freeSlots lists the untaken indexes below parallelism in order", (t) => {
  t.deepEqual(freeSlots(5, (index) => index === 1 || index === 3), [0, 2, 4]);
  t.deepEqual(freeSlots(2, () => true), []);
  t.deepEqual(freeSlots(1, () => false), [0]);
});
