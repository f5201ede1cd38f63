// Goal: the PRNG is deterministic per seed (the simulator replays runs from a seed), seeds
// give distinct streams, and the derived helpers are unbiased and stay in range.
import test from "ava";
import { Prng, prngSeedMax } from "../../../pkg/common/index.js";

function draw(prng: Prng, count: number): number[] {
  return Array.from({ length: count }, () => prng.nextUint32());
}

test("the same seed gives the same sequence", (t) => {
  for (const seed of [0, 1, 42, 2 ** 31, prngSeedMax]) {
    t.deepEqual(draw(new Prng(seed), 1000), draw(new Prng(seed), 1000), `seed ${seed}`);
  }
});

test("the sequence is pinned: a change to the generator is caught", (t) => {
  // Replaying recorded simulator seeds depends on this exact stream.
  t.snapshot(draw(new Prng(7), 8));
});

test("different seeds give different sequences, including seeds above 2^32", (t) => {
  const seen = new Set<string>();
  for (const seed of [0, 1, 2, 3, 2 ** 32, 2 ** 32 + 1, 2 ** 40]) {
    seen.add(draw(new Prng(seed), 4).join(","));
  }
  t.is(seen.size, 7);
});

test("intBelow is in range and roughly uniform", (t) => {
  const prng = new Prng(99);
  const buckets = new Array<number>(10).fill(0);
  const draws = 100_000;
  for (let i = 0; i < draws; i += 1) {
    const value = prng.intBelow(10);
    t.true(value >= 0 && value < 10);
    buckets[value] = (buckets[value] ?? 0) + 1;
  }
  for (const count of buckets) t.true(Math.abs(count - draws / 10) < draws / 100, `bucket ${count}`);
});

test("nextFloat is in [0, 1), intBetween is inclusive, chance respects extremes", (t) => {
  const prng = new Prng(5);
  const ends = new Set<number>();
  for (let i = 0; i < 10_000; i += 1) {
    const float = prng.nextFloat();
    t.true(float >= 0 && float < 1);
    ends.add(prng.intBetween(3, 5));
    t.false(prng.chance(0));
    t.true(prng.chance(1));
  }
  t.deepEqual([...ends].sort(), [3, 4, 5]);
});

test("shuffle is a permutation and fork gives an independent, reproducible stream", (t) => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = new Prng(11).shuffle([...items]);
  t.notDeepEqual(shuffled, items);
  t.deepEqual([...shuffled].sort((a, b) => a - b), items);
  const forkA = new Prng(3).fork();
  const forkB = new Prng(3).fork();
  t.deepEqual(draw(forkA, 10), draw(forkB, 10));
  t.notDeepEqual(draw(new Prng(3).fork(), 10), draw(new Prng(3), 10));
});

test("nextUint64 spans 64 bits", (t) => {
  const prng = new Prng(8);
  let sawHigh = false;
  for (let i = 0; i < 100; i += 1) {
    const value = prng.nextUint64();
    t.true(value >= 0n && value < 1n << 64n);
    if (value >= 1n << 63n) sawHigh = true;
  }
  t.true(sawHigh);
});

test("bad seeds and bounds are programmer errors", (t) => {
  t.throws(() => new Prng(-1), { message: /seed -1/ });
  t.throws(() => new Prng(1.5), { message: /not a safe integer/ });
  t.throws(() => new Prng(0).intBelow(0), { message: /bound 0/ });
  t.throws(() => new Prng(0).pick([]), { message: /empty array/ });
});
