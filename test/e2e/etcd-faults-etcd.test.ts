// Goal: the fault-run checkers accept what a real etcd 3.4.23 does under faults, and still
// catch a stale read in that very history (so a pass means something). Method: a 3-member etcd
// cluster on loopback; six raw gRPC clients (own channel each, random member, 3 s deadlines)
// doing put, linearizable get, CAS on value and mod_revision, multi-key txns and deletes on
// five keys; five watchers with prev_kv (prefix, range, single key; from revision 1, from
// current, and opened mid-run at an older revision); the nemesis kills -9 the leader, then
// SIGSTOPs it, then strikes at random (leader most often) for 15 s. Then: linearizability per
// key, whole-store revision order, no acknowledged write lost, every watch guarantee. Finally a
// read of the recorded history is made stale and the checker must call it illegal.
// Seeded: PFS_SEED=<seed> replays the fault schedule and the clients' choices.
import test from "ava";
import { systemSeed } from "../../pkg/common/index.js";
import {
  defaultFaultRunOptions, judgeFaultRun, recordFaultRun, runCounts,
} from "./support/fault-run.js";
import { checkHistory } from "./support/history-checker.js";
import { injectStaleRead } from "./support/history-faults.js";

const seed = process.env["PFS_SEED"] === undefined ? systemSeed() : Number(process.env["PFS_SEED"]);

test("real etcd under kill -9 and SIGSTOP passes every check; a stale read in its history fails", async (t) => {
  t.timeout(120_000);
  t.log(`seed ${seed} (replay: PFS_SEED=${seed} npx ava dist/test/e2e/etcd-faults-etcd.test.js)`);
  const recording = await recordFaultRun({
    ...defaultFaultRunOptions, kind: "etcd", seed, loadMs: 15_000, log: (line) => { t.log(line); },
  });
  const verdict = judgeFaultRun(recording);
  t.log(verdict.summary);
  for (const failure of verdict.failures) t.log(`FAIL ${failure}`);
  t.deepEqual(verdict.failures, [], `seed ${seed}`);

  const counts = runCounts(recording);
  t.true((counts["leaderKills"] ?? 0) >= 1, "the leader was killed");
  t.true((counts["stops"] ?? 0) >= 1, "a member was stopped");
  t.true((counts["watchResumes"] ?? 0) >= 1, "a watch resumed after a stream error");
  t.true((counts["multiEventRevisions"] ?? 0) >= 1, "a revision had several events");

  const stale = injectStaleRead(recording.history);
  if (stale === undefined) {
    t.fail(`seed ${seed}: no read to make stale`);
    return;
  }
  t.log(`stale read injected: ${stale.detail}`);
  t.is(checkHistory(stale.value).outcome, "illegal", `seed ${seed}`);
});
