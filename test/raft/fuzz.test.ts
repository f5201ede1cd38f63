/**
 * Goal: Raft's safety properties hold under a hostile network, and the cluster recovers once
 * the network heals. Method: for fixed seeds, a seeded PRNG drives a 5-node cluster through
 * ticks, proposals, partitions, restarts and compactions while messages are dropped,
 * duplicated and reordered. After every step: at most one leader per term, and every pair of
 * nodes applied the same entry at each index they both applied (state machine safety). At the
 * end the network heals and a proposal must commit everywhere (liveness). A failure prints
 * its seed; `PFS_SEED=n` replays one.
 */
import test from "ava";
import { Prng } from "../../pkg/common/index.js";
import { ConfChangeType, type Entry, EntryType } from "../../pkg/raft/index.js";
import { Cluster, id, text, textOf } from "./harness.js";

const ids = [1, 2, 3, 4, 5];

function checkSafety(c: Cluster, leaderOfTerm: Map<number, number>): string | undefined {
  for (const n of [...ids, 6]) {
    const status = c.raw(n).status();
    if (status.role !== "leader") continue;
    const known = leaderOfTerm.get(status.term);
    if (known !== undefined && known !== n) return `two leaders in term ${status.term}: ${known}, ${n}`;
    leaderOfTerm.set(status.term, n);
  }
  const byIndex = new Map<number, Entry>();
  for (const n of [...ids, 6]) {
    for (const e of c.get(n).applied) {
      const other = byIndex.get(e.index);
      if (other === undefined) {
        byIndex.set(e.index, e);
      } else if (other.term !== e.term || textOf(other.data) !== textOf(e.data)) {
        return `node ${n} applied ${e.index}/${e.term} but another applied ${other.index}/${other.term}`;
      }
    }
  }
  return undefined;
}

/** Delivers the queue with drops, duplicates and reordering, then handles Readies. */
function chaoticDelivery(c: Cluster, prng: Prng): void {
  const batch = c.queue.filter((m) => {
    if (!prng.chance(0.1)) return true;
    if (m.type === "installSnapshot") c.raw(m.from).reportSnapshot(m.to, false);
    return false;
  });
  for (const m of c.queue) if (prng.chance(0.05)) batch.push(m);
  prng.shuffle(batch);
  c.queue = batch;
  c.deliver();
  c.processAll();
}

function randomStep(c: Cluster, prng: Prng, step: number): void {
  const roll = prng.nextFloat();
  const n = prng.pick(ids);
  if (roll < 0.5) {
    c.raw(n).tick();
  } else if (roll < 0.7) {
    c.raw(n).propose(text(`v${step}`));
  } else if (roll < 0.75) {
    c.isolate(n, [prng.pick(ids)]);
  } else if (roll < 0.8) {
    c.heal();
  } else if (roll < 0.82) {
    c.restart(n);
  } else if (roll < 0.84 && c.raw(n).applied() > c.get(n).storage.firstIndex()) {
    c.compact(n, prng.intBelow(3));
  } else if (roll < 0.86) {
    c.raw(n).transferLeader(BigInt(prng.pick(ids)) as never);
  } else if (roll < 0.88) {
    // Membership churn of node 6: learner, voter, removed (the core must stay safe).
    const type = prng.pick([ConfChangeType.AddLearner, ConfChangeType.AddNode, ConfChangeType.RemoveNode]);
    c.raw(n).proposeConfChange({ type, nodeId: id(6), context: new Uint8Array(0) });
  } else if (roll < 0.9) {
    c.raw(6).tick();
  }
  c.processAll();
  chaoticDelivery(c, prng);
}

function runSeed(seed: number): string | undefined {
  const prng = new Prng(seed);
  // Even seeds let a leader's disk write overlap its replication (steps between ready/advance).
  const c = new Cluster(ids, { seed, electionTicks: 5, asyncLeaderAppend: seed % 2 === 0 });
  c.add(6, c.get(1).confState); // Runs from the start; becomes a member only by conf change.
  const all = [...ids, 6];
  const leaderOfTerm = new Map<number, number>();
  for (let step = 0; step < 1500; step += 1) {
    randomStep(c, prng, step);
    const violation = checkSafety(c, leaderOfTerm);
    if (violation !== undefined) return `step ${step}: ${violation}`;
  }
  c.heal();
  c.tick(60);
  const leaders = c.leaders();
  if (leaders.length !== 1) return `after healing: leaders ${leaders.join(",")}`;
  const leader = leaders[0] ?? 0;
  const proposed = c.raw(leader).propose(text("final"));
  if (!proposed.ok) return `final proposal refused: ${proposed.error}`;
  c.tick(10);
  const members = c.get(leader).confState;
  for (const n of all) {
    const member = members.voters.includes(id(n)) || members.learners.includes(id(n));
    if (member && !c.appliedText(n).includes("final")) return `node ${n} did not apply the final entry`;
  }
  if (process.env["PFS_VERBOSE"] !== undefined) {
    const snapshots = ids.map((n) => c.get(n).readies.filter((r) => r.snapshot !== undefined).length);
    const confChanges = c.get(1).applied.filter((e) => e.type !== EntryType.Normal).length;
    console.log(`seed ${seed}: terms ${leaderOfTerm.size}, applied ${c.appliedText(1).length}, snapshots ${snapshots.join(",")}, conf changes ${confChanges}, node 6 applied ${c.appliedText(6).length}`);
  }
  return checkSafety(c, leaderOfTerm);
}

test("safety under drops, duplicates, reordering, partitions and restarts (seeded)", (t) => {
  const fixed = process.env["PFS_SEED"];
  const count = Number(process.env["PFS_SEEDS"] ?? 8);
  const seeds = fixed === undefined ? Array.from({ length: count }, (_, i) => i + 1) : [Number(fixed)];
  for (const seed of seeds) {
    const failure = runSeed(seed);
    t.is(failure, undefined, `seed ${seed}: ${failure ?? ""}`);
  }
});
