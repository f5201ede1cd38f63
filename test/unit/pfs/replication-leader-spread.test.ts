// The choice of where Raft leadership goes so that one node failure costs one failover
// (cmd/pfsd-leader-spread.ts): only off a node that masters a shard, only to an active voter
// with a live pfs node that masters none, never while a failover may be under way (a shard
// without a master, or a master whose member stopped answering the leader).
import test from "ava";
import fc from "fast-check";
import { type SpreadInput, mastersSettled, spreadTarget } from "../../../cmd/pfsd-leader-spread.js";
import { type NodeId, nodeId } from "../../../pkg/common/index.js";

const member = (name: string, id: number, isLearner = false):
  { id: NodeId; name: string; isLearner: boolean } => ({ id: nodeId(BigInt(id)), name, isLearner });

const five = [member("m1", 1), member("m2", 2), member("m3", 3), member("m4", 4),
  member("m5", 5)];

function input(masters: readonly (string | undefined)[], extra: Partial<SpreadInput> = {}):
  SpreadInput {
  return { self: "m1", members: five, masters, live: () => true,
    active: five.map((each) => each.id), ...extra };
}

test("a leader mastering a shard hands leadership to the lowest-named free voter", (t) => {
  t.is(spreadTarget(input(["m1", "m2", "m3", "m2"])), nodeId(4n));
  t.is(spreadTarget(input(["m1", "m2", "m4", "m2"])), nodeId(3n));
});

test("a leader mastering nothing stays", (t) => {
  t.is(spreadTarget(input(["m2", "m3", "m4", "m5"])), undefined);
});

test("no move while a failover may be under way: a leader change extends a dead master's lease",
  (t) => {
    t.is(spreadTarget(input(["m1", undefined, "m3", "m2"])), undefined);
    const m3Silent = input(["m1", "m2", "m3", "m2"], {
      active: five.filter((each) => each.name !== "m3").map((each) => each.id),
    });
    t.false(mastersSettled(m3Silent));
    t.is(spreadTarget(m3Silent), undefined, "m3 masters shard 2 and stopped answering");
    t.true(mastersSettled(input(["m1", "m2", "m3", "m2"], { active: [nodeId(2n), nodeId(3n)] })),
      "the leader itself need not be in the list of peers that answer it");
  });

test("no free voter, no move: learners, dead nodes and unstarted members do not count", (t) => {
  const members = [member("m1", 1), member("m2", 2), member("m3", 3), member("l4", 4, true),
    member("", 6)];
  const masters = ["m1", "m2", "m3", "m1"];
  t.is(spreadTarget(input(masters, { members })), undefined);
  t.is(spreadTarget(input(["m1", "m2", "m1", "m1"], {
    members, live: (name) => name !== "m3",
  })), undefined);
  t.is(spreadTarget(input(["m1", "m2", "m1", "m1"], { members })), nodeId(3n));
  t.is(spreadTarget(input(["m1", "m2", "m1", "m1"], {
    members, active: [nodeId(1n), nodeId(2n)],
  })), undefined, "m3's member stopped answering the leader");
});

test("any target is a live voter other than the leader that masters no shard", (t) => {
  const names = ["m1", "m2", "m3", "m4", "m5"];
  fc.assert(fc.property(
    fc.array(fc.option(fc.constantFrom(...names), { nil: undefined }), { minLength: 1,
      maxLength: 8 }),
    fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    (masters, learners, lives, actives) => {
      const members = names.map((name, i) => member(name, i + 1, learners[i] === true));
      const live = (name: string): boolean => lives[names.indexOf(name)] === true;
      const active = members.filter((_, i) => actives[i] === true).map((m) => m.id);
      const target = spreadTarget({ self: "m1", members, masters, live, active });
      if (target === undefined) {
        const could = mastersSettled({ self: "m1", members, masters, live, active }) &&
          masters.includes("m1") &&
          members.some((m) => !m.isLearner && m.name !== "m1" && !masters.includes(m.name) &&
            live(m.name) && active.includes(m.id));
        return !could;
      }
      const chosen = members.find((m) => m.id === target);
      return chosen !== undefined && !chosen.isLearner && chosen.name !== "m1" &&
        !masters.includes(chosen.name) && live(chosen.name) && active.includes(target) &&
        masters.includes("m1") && masters.every((m) => m !== undefined &&
          (m === "m1" || active.includes(members[names.indexOf(m)]?.id ?? nodeId(0n))));
    }), { seed: 20261130 });
  t.pass();
});
