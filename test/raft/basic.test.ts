/**
 * Goal: the core works end to end on the harness: a cluster elects one leader, replicates and
 * applies proposals in the same order everywhere, and a single node commits alone.
 */
import test from "ava";
import { Cluster, text } from "./harness.js";

test("three nodes elect a leader, replicate and apply in order", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  t.deepEqual(c.leaders(), [1]);
  for (const word of ["a", "b", "c"]) t.true(c.raw(1).propose(text(word)).ok);
  c.stabilize();
  for (const n of [1, 2, 3]) t.deepEqual(c.appliedText(n), ["a", "b", "c"], `node ${n}`);
  const status = c.raw(1).status();
  t.is(Number(status.commit), 4); // The no-op plus three entries.
  t.is(status.progress?.get(c.get(2).id)?.state, "replicate");
});

test("a follower forwards a proposal to the leader", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  t.true(c.raw(3).propose(text("via follower")).ok);
  c.stabilize();
  for (const n of [1, 2, 3]) t.deepEqual(c.appliedText(n), ["via follower"]);
});

test("a single node elects itself and commits once its append is durable", (t) => {
  const c = new Cluster([1]);
  c.elect(1);
  t.deepEqual(c.leaders(), [1]);
  t.true(c.raw(1).propose(text("solo")).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(1), ["solo"]);
});

test("the election timer elects a leader without campaign()", (t) => {
  const c = new Cluster([1, 2, 3, 4, 5], { seed: 7 });
  c.tick(25);
  t.is(c.leaders().length, 1);
});
