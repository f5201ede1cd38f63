// Goal: a 3-member pfsd cluster keeps etcd's guarantees under faults: linearizable KV, no
// acknowledged write lost, and every watch guarantee of etcd-api.md §6 (ordered, unique,
// atomic revisions, no gaps, resumable, prev_kv). Method: the same recorder, nemesis and
// checkers that etcd-faults-etcd.test.ts validates on real etcd 3.4.23: six raw gRPC clients
// (put, linearizable get, CAS on value and mod_revision, multi-key txn, delete) and five
// watchers with prev_kv for 25 s (longer if the four opening faults need it), while the
// nemesis kills -9 the leader, SIGSTOPs it, kills the leader twice more, then strikes at
// random (leader most often).
// Seeded: PFS_SEED=<seed> replays the fault schedule and the clients' choices.
import test from "ava";
import { systemSeed } from "../../pkg/common/index.js";
import {
  defaultFaultRunOptions, judgeFaultRun, recordFaultRun, runCounts,
} from "./support/fault-run.js";
import { defaultNemesisOptions } from "./support/nemesis.js";

const seed = process.env["PFS_SEED"] === undefined ? systemSeed() : Number(process.env["PFS_SEED"]);

test("pfsd under kill -9 and SIGSTOP: linearizable, no write lost, watch guarantees kept", async (t) => {
  t.timeout(180_000);
  t.log(`seed ${seed} (replay: PFS_SEED=${seed} npx ava dist/test/e2e/etcd-faults-pfsd.test.js)`);
  const recording = await recordFaultRun({
    ...defaultFaultRunOptions, kind: "pfsd", seed, loadMs: 25_000,
    nemesis: { ...defaultNemesisOptions, openingFaults: ["kill9", "sigstop", "kill9", "kill9"] },
    log: (line) => {
      t.log(line);
    },
  });
  const verdict = judgeFaultRun(recording);
  t.log(verdict.summary);
  for (const failure of verdict.failures) t.log(`FAIL ${failure}`);
  if (verdict.failures.length > 0) {
    for (const [name, tail] of Object.entries(recording.logTails ?? {})) {
      t.log(`${name} stderr (end):\n${tail}`);
    }
  }
  t.deepEqual(verdict.failures, [], `seed ${seed}`);

  const counts = runCounts(recording);
  t.true((counts["leaderKills"] ?? 0) >= 3, "the leader was killed several times");
  t.true((counts["stops"] ?? 0) >= 1, "a member was stopped");
  t.true((counts["watchResumes"] ?? 0) >= 1, "a watch resumed after a stream error");
  t.true((counts["multiEventRevisions"] ?? 0) >= 1, "a revision had several events");
});
