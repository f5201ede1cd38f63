// Goal: the orphan sweeper's decision (pkg/pfs/api/orphan-sweep.ts) acts exactly on the
// auto-commits whose owning node is gone for good: an open one is deleted and a finishing one
// resumed when its owner is faulty (offline past the dead time, counted from the controller's
// offline record) or retired; it leaves alone every commit whose owner is online (in its
// current run, or restarted: its own recovery settles it), only offline, or unknown to the
// store, every user commit (even one whose description reads like an auto-commit's), and
// every commit whose description names no owner; it keeps the given order and its limit.
// Method: the pure decision on hand-made facts, case by case, then a seeded property over
// random commits and node states against a plain restatement of the rule.
import test from "ava";
import fc from "fast-check";
import { systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the sweeper's pure decision, internal to the API layer.
import { decideOrphans, ownerGone, type OwnerFacts } from "../../../pkg/pfs/api/orphan-sweep.js";
// eslint-disable-next-line pfs/boundaries -- the auto-commit owner format, internal to the API.
import { type AutoCommitOwner, type UnsettledCommit, autoCommitDescription } from
  "../../../pkg/pfs/api/commit-recovery.js";
import type { CommitInfo, CommitState } from "../../../pkg/pfs/index.js";

const deadTimeMs = 30_000;
const nowWallMs = 1_800_000_000_000;

function commitOf(id: number, state: CommitState, description: string): CommitInfo {
  return {
    repo: "r", id: id.toString(16).padStart(32, "0"), branch: `b${id}`, parent: "", state,
    description, startedMs: nowWallMs - 60_000, finishedMs: 0, sizeBytes: 0, error: "",
    provenance: [],
  };
}

function auto(id: number, state: CommitState, owner: AutoCommitOwner): UnsettledCommit {
  return { commit: commitOf(id, state, autoCommitDescription(owner)), auto: true };
}

/**
 * The facts of the cases below: `up` is online, `late` offline for less than the dead time,
 * `dead` offline for longer (faulty), `gone` retired, `back` retired but registered again;
 * `ghost` is in no record at all (offline only since now, as node-health.ts counts).
 */
const facts: OwnerFacts = {
  live: new Set(["up", "back"]),
  records: new Map([
    ["late", { offlineSinceWallMs: nowWallMs - deadTimeMs + 1 }],
    ["dead", { offlineSinceWallMs: nowWallMs - deadTimeMs }],
  ]),
  retired: new Set(["gone", "back"]),
  nowWallMs, deadTimeMs,
};

test("owner health: faulty at the dead time exactly, retired wins over live", (t) => {
  t.is(ownerGone("up", facts), undefined);
  t.is(ownerGone("late", facts), undefined);
  t.is(ownerGone("dead", facts), "faulty");
  t.is(ownerGone("gone", facts), "retired");
  t.is(ownerGone("back", facts), "retired");
  t.is(ownerGone("ghost", facts), undefined);
});

test("deletes open and resumes finishing auto-commits of gone owners only", (t) => {
  const run = "00ff";
  const unsettled: UnsettledCommit[] = [
    auto(1, "open", { node: "dead", run }),
    auto(2, "finishing", { node: "dead", run }),
    auto(3, "open", { node: "gone", run }),
    auto(4, "finishing", { node: "gone", run }),
    auto(5, "open", { node: "up", run }), // its current run, or an earlier one: its own
    auto(6, "finishing", { node: "up", run: "abcd" }), // recovery's, never the sweeper's
    auto(7, "open", { node: "late", run }),
    auto(8, "open", { node: "ghost", run }),
    // A user commit whose description reads like an auto-commit's.
    { commit: commitOf(9, "open", autoCommitDescription({ node: "dead", run })), auto: false },
    { commit: commitOf(10, "open", "a user's words"), auto: true },
    { commit: commitOf(11, "open", ""), auto: true },
    auto(12, "finished", { node: "dead", run }),
    auto(13, "failed", { node: "gone", run }),
    auto(14, "open", { node: "back", run }),
  ];
  const actions = decideOrphans(unsettled, facts);
  t.deepEqual(actions.map((action) => [Number.parseInt(action.commit.id, 16), action.kind,
    action.why, action.owner.node]), [
    [1, "delete", "faulty", "dead"], [2, "resume", "faulty", "dead"],
    [3, "delete", "retired", "gone"], [4, "resume", "retired", "gone"],
    [14, "delete", "retired", "back"],
  ]);
  t.deepEqual(decideOrphans(unsettled, facts, 3).map((action) => action.commit.id),
    actions.slice(0, 3).map((action) => action.commit.id), "the limit keeps the first ones");
  t.deepEqual(decideOrphans(unsettled, { ...facts, nowWallMs: nowWallMs - 1 })
    .map((action) => action.why), ["retired", "retired", "retired"],
  "one millisecond before its dead time, `dead` is only offline");
});

test("bad facts or limits are programmer errors", (t) => {
  t.throws(() => decideOrphans([], { ...facts, deadTimeMs: 0 }), { message: /dead time/ });
  t.throws(() => decideOrphans([], facts, 0), { message: /action limit/ });
});

const nodes = ["n0", "n1", "n2", "n3", "n4"];
type Health = "online" | "offline" | "faulty" | "retired" | "unknown";
const healthArb = fc.constantFrom<Health>("online", "offline", "faulty", "retired", "unknown");
const commitArb = fc.record({
  node: fc.constantFrom(...nodes),
  run: fc.constantFrom("0a", "0b"),
  state: fc.constantFrom<CommitState>("open", "finishing", "finished", "failed"),
  auto: fc.boolean(),
  owned: fc.boolean(),
});

function factsOf(healths: readonly Health[]): OwnerFacts {
  const live = new Set<string>();
  const records = new Map<string, { offlineSinceWallMs: number }>();
  const retired = new Set<string>();
  healths.forEach((health, index) => {
    const node = nodes[index] ?? "";
    if (health === "online") live.add(node);
    if (health === "offline") records.set(node, { offlineSinceWallMs: nowWallMs - 1 });
    if (health === "faulty") records.set(node, { offlineSinceWallMs: nowWallMs - deadTimeMs });
    if (health === "retired") retired.add(node);
  });
  return { live, records, retired, nowWallMs, deadTimeMs };
}

test("property: acts exactly on auto-commits of faulty or retired owners", (t) => {
  const seed = systemSeed() % 2 ** 31;
  const property = fc.property(fc.array(healthArb, { minLength: 5, maxLength: 5 }),
    fc.array(commitArb, { maxLength: 40 }), fc.integer({ min: 1, max: 50 }),
    (healths, specs, limit) => {
      const unsettled = specs.map((spec, index): UnsettledCommit => ({
        commit: commitOf(index, spec.state, spec.owned
          ? autoCommitDescription({ node: spec.node, run: spec.run }) : `user commit ${index}`),
        auto: spec.auto,
      }));
      const expected = specs.flatMap((spec, index) => {
        const health = healths[nodes.indexOf(spec.node)];
        const gone = health === "faulty" || health === "retired";
        const unsettledState = spec.state === "open" || spec.state === "finishing";
        if (!spec.auto || !spec.owned || !gone || !unsettledState) return [];
        return [[index, spec.state === "open" ? "delete" : "resume", health]];
      }).slice(0, limit);
      const actions = decideOrphans(unsettled, factsOf(healths), limit);
      return JSON.stringify(actions.map((action) => [Number.parseInt(action.commit.id, 16),
        action.kind, action.why])) === JSON.stringify(expected);
    });
  const outcome = fc.check(property, { seed, numRuns: 300 });
  if (outcome.failed) t.log(`seed ${seed}: ${fc.defaultReportMessage(outcome) ?? ""}`);
  t.false(outcome.failed, `seed ${seed}`);
});
