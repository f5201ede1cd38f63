/**
 * Goal: the simulated network delays, reorders, loses, duplicates and partitions as its knobs
 * say, deterministically. Method: send seeded traffic and count what arrives.
 */
import test from "ava";
import { type NodeId, Prng, type Term } from "../../pkg/common/index.js";
import type { Message } from "../../pkg/raft/index.js";
import { SimNetwork, fullyConnected, randomPartition } from "./sim-network.js";

function timeoutNow(from: bigint, to: bigint, term: number): Message {
  return { type: "timeoutNow", from: from as NodeId, to: to as NodeId, term: term as Term };
}

function drain(network: SimNetwork, until: number): Message[] {
  const out: Message[] = [];
  for (let now = 0; now <= until; now += 1) {
    for (let due = network.nextDue(now); due !== undefined; due = network.nextDue(now)) {
      if (!due.dropped) out.push(due.envelope.message);
    }
  }
  return out;
}

test("messages arrive within the delay bounds, reordered, with loss and duplication", (t) => {
  const network = new SimNetwork(new Prng(3), {
    delayStepsMin: 1, delayStepsMax: 20, lossProbability: 0.1, duplicateProbability: 0.1,
    staleReplayProbability: 0,
  });
  for (let i = 0; i < 1000; i += 1) network.send(0, timeoutNow(1n, 2n, i));
  t.is(network.nextDue(0), undefined, "nothing arrives before the minimum delay");
  const arrived = drain(network, 20);
  t.is(network.inFlight, 0);
  const terms = arrived.map((m) => m.term);
  t.true(terms.some((term, i) => i > 0 && term < (terms[i - 1] ?? 0)), "reordered");
  t.true(network.stats.lost > 50 && network.stats.lost < 150, `lost ${network.stats.lost}`);
  t.is(arrived.length, 1000 - network.stats.lost + network.stats.duplicated);
});

test("a partition drops messages at send and in flight; stopFaults ends loss", (t) => {
  const network = new SimNetwork(new Prng(4), {
    delayStepsMin: 5, delayStepsMax: 5, lossProbability: 0.5, duplicateProbability: 0,
    staleReplayProbability: 1,
  });
  network.stopFaults(5);
  network.send(0, timeoutNow(1n, 2n, 1));
  network.setPartition({ name: "1 cut", cut: (from) => from === 1n });
  t.is(network.send(0, timeoutNow(1n, 3n, 2)), "partition");
  t.is(network.send(0, timeoutNow(2n, 3n, 3)), undefined);
  network.setPartition(fullyConnected);
  t.deepEqual(drain(network, 5).map((m) => m.term), [1, 3]);
  network.send(10, timeoutNow(1n, 2n, 4));
  network.setPartition({ name: "all cut", cut: () => true });
  t.deepEqual(drain(network, 20), []);
  t.is(network.replayStale(30), undefined, "no stale replays once faults stop");
});

test("stale replays re-deliver an old message", (t) => {
  const network = new SimNetwork(new Prng(6), {
    delayStepsMin: 1, delayStepsMax: 1, lossProbability: 0, duplicateProbability: 0,
    staleReplayProbability: 1,
  });
  network.send(0, timeoutNow(1n, 2n, 7));
  t.deepEqual(drain(network, 1).map((m) => m.term), [7]);
  t.is(Number(network.replayStale(100)?.term), 7);
  t.is(network.nextDue(100), undefined);
  t.is(Number(network.nextDue(101)?.envelope.message.term), 7);
});

test("random partitions cut some link and never cut a node from itself", (t) => {
  const prng = new Prng(5);
  const nodes = [1n, 2n, 3n, 4n, 5n] as NodeId[];
  const names = new Set<string>();
  for (let i = 0; i < 100; i += 1) {
    const partition = randomPartition(prng, nodes);
    names.add(partition.name.split(" ")[0] ?? "");
    for (const node of nodes) t.false(partition.cut(node, node) && partition.name.startsWith("split"));
  }
  t.true(names.size >= 3, [...names].join(","));
});
