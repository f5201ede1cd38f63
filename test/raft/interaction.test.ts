/**
 * Goal: scripted regressions for the Raft bug classes of shared/raft-notes.md §4. Method: each
 * test drives a small cluster on the deterministic harness (Ready contract followed exactly),
 * delivering, dropping and cutting messages per script, and asserts on Readies, logs, roles
 * and applied state.
 */
import test from "ava";
import { type LogIndex } from "../../pkg/common/index.js";
import { ConfChangeType, EntryType, type Message } from "../../pkg/raft/index.js";
import { Cluster, entry, id, text } from "./harness.js";

const isAppendFrom = (from: number) => (m: Message): boolean =>
  m.type === "appendEntries" && m.from === id(from);

test("Figure 8: an old-term entry on a majority is not committed by counting", (t) => {
  const c = new Cluster([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, maxEntriesPerMessage: 1 });
  c.elect(1); // Term 1; the no-op at index 1 commits everywhere.
  t.true(c.raw(1).propose(text("x")).ok); // Index 2, term 1: reaches S2 only.
  c.stabilize((m) => !(m.type === "appendEntries" && m.to !== id(2)));
  c.isolate(1); // S1 "crashes".
  c.raw(5).campaign(); // S5 wins term 2 with S3, S4 and writes its no-op at index 2 only locally.
  c.stabilize((m) => !isAppendFrom(5)(m));
  t.deepEqual(c.leaders().sort(), [1, 5]);
  c.isolate(5);
  c.cut.delete("1->2"); c.cut.delete("2->1"); c.cut.delete("1->3"); c.cut.delete("3->1");
  c.cut.delete("1->4"); c.cut.delete("4->1");
  c.restart(1); // S1 comes back as a follower of term 1 with index 2 (term 1) in its log.
  // S1 replicates index 2 (term 1) but its new-term no-op is lost on the way (except in
  // appends the follower rejects anyway, which let S1 find where the logs match).
  const noOpLost = (m: Message): boolean =>
    m.type === "appendEntries" && m.entries.some((e) => e.term === c.raw(1).status().term) &&
    c.get(m.to).storage.lastIndex() >= m.index;
  c.raw(1).campaign(); // Term 2: S3 and S4 already voted for S5, so S1 loses...
  c.stabilize((m) => !noOpLost(m));
  c.raw(1).campaign(); // ...and wins term 3.
  c.stabilize((m) => !noOpLost(m));
  t.true(c.leaders().includes(1));
  t.is(Number(c.raw(1).status().term), 3);
  for (const n of [1, 2, 3, 4]) t.deepEqual(c.logOf(n)[1], [2, 1], `index 2 on node ${n}`);
  t.is(Number(c.raw(1).status().commit), 1, "index 2 is on a majority but must not commit");
  t.deepEqual(c.appliedText(1), []);
  // S1 crashes again; S5 (last term 2) wins and overwrites index 2 with its own entry.
  c.heal();
  c.isolate(1);
  c.restart(5); // S5 restarts (still holding its term-2 no-op at index 2) and campaigns.
  c.elect(5);
  if (!c.leaders().includes(5)) c.elect(5);
  t.true(c.leaders().includes(5));
  c.stabilize();
  for (const n of [2, 3, 4, 5]) t.deepEqual(c.logOf(n)[1], [2, 2], `index 2 replaced on ${n}`);
  t.false(c.appliedText(2).includes("x"), "the uncommitted entry was never applied");
});

test("vote and term are in Ready.hardState with mustSync before the vote is released", (t) => {
  const c = new Cluster([1, 2, 3], { preVote: false });
  c.raw(1).campaign();
  const candidateReady = c.processReady(1);
  t.truthy(candidateReady);
  t.deepEqual(candidateReady?.hardState, { term: 1, vote: id(1), commit: 0 });
  t.true(candidateReady?.mustSync);
  t.is(candidateReady?.earlyMessages.length, 0, "vote requests wait for the persist");
  t.is(candidateReady?.messages.filter((m) => m.type === "requestVote").length, 2);
  c.deliver((m) => m.to === id(2));
  const voterReady = c.raw(2).ready();
  t.deepEqual(voterReady.hardState, { term: 1, vote: id(1), commit: 0 });
  t.true(voterReady.mustSync);
  t.deepEqual(voterReady.earlyMessages, []);
  t.deepEqual(voterReady.messages.map((m) => m.type), ["requestVoteResponse"]);
  c.raw(2).advance();
});

test("the leader's appends go out early, and it counts its own entries only when durable", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  t.true(c.raw(1).propose(text("p")).ok);
  const rd = c.raw(1).ready();
  t.is(rd.entries.length, 1);
  t.deepEqual(rd.messages, []);
  t.deepEqual(rd.earlyMessages.map((m) => m.type), ["appendEntries", "appendEntries"]);
  // Followers persist and acknowledge before the leader persists: a majority (2, 3) holds it.
  c.queue.push(...rd.earlyMessages);
  c.deliver();
  c.processAll();
  c.deliver((m) => m.to === id(1));
  t.is(Number(c.raw(1).status().commit), 2, "2 and 3 are a majority without the leader");
  c.get(1).storage.append(rd.entries);
  c.raw(1).advance();
  c.stabilize();
  for (const n of [1, 2, 3]) t.deepEqual(c.appliedText(n), ["p"]);
});

test("a single leader counts its entry only after advance()", (t) => {
  const c = new Cluster([1]);
  c.elect(1);
  t.true(c.raw(1).propose(text("p")).ok);
  const rd = c.raw(1).ready();
  t.is(rd.committedEntries.length, 0, "not committed before it is durable");
  c.get(1).storage.append(rd.entries);
  c.raw(1).advance();
  const next = c.raw(1).ready();
  t.deepEqual(next.committedEntries.map((e) => e.index), [2]);
  c.raw(1).advance();
});

test("a new leader refuses a conf change until it commits an entry of its term", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.raw(1).campaign();
  c.stabilize((m) => m.type !== "appendEntriesResponse"); // Its no-op is not acknowledged.
  t.deepEqual(c.leaders(), [1]);
  const cc = { type: ConfChangeType.AddLearner, nodeId: id(4), context: new Uint8Array(0) };
  const early = c.raw(1).proposeConfChange(cc);
  t.deepEqual(early, { ok: false, error: "conf-change-pending" });
  c.tick(2); // Heartbeats bring the no-op's acknowledgements.
  t.true(c.raw(1).proposeConfChange(cc).ok);
  // A second change while the first is unapplied is refused locally...
  const second = { type: ConfChangeType.AddLearner, nodeId: id(5), context: new Uint8Array(0) };
  t.deepEqual(c.raw(1).proposeConfChange(second), { ok: false, error: "conf-change-pending" });
  // ...and a forwarded one becomes a no-op entry (the follower cannot be told).
  t.true(c.raw(2).proposeConfChange(second).ok);
  c.stabilize();
  const confEntries = c.get(1).applied.filter((e) => e.type === EntryType.ConfChange);
  t.is(confEntries.length, 1);
  t.deepEqual(c.get(1).confState.learners, [id(4)]);
});

test("pre-vote and check quorum keep a leader under a partial partition", (t) => {
  const c = new Cluster([1, 2, 3], { seed: 3 });
  c.elect(1);
  const term = c.raw(1).status().term;
  c.cut.add("1->3"); c.cut.add("3->1"); // 3 cannot reach the leader but can reach 2.
  c.tick(100);
  t.deepEqual(c.leaders(), [1], "the leader keeps its quorum (1, 2)");
  t.is(c.raw(1).status().term, term, "3's pre-votes did not disrupt the term");
  t.is(c.raw(2).status().term, term);
  t.true(c.raw(1).propose(text("still live")).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(2), ["still live"]);
  c.heal();
  c.tick(20);
  t.deepEqual(c.leaders(), [1]);
  t.deepEqual(c.appliedText(3), ["still live"], "3 catches up after the heal");
});

test("an isolated leader steps down (check quorum) and the rest elect a new one", (t) => {
  const c = new Cluster([1, 2, 3], { seed: 5 });
  c.elect(1);
  c.isolate(1);
  c.tick(40);
  t.not(c.raw(1).status().role, "leader");
  const leaders = c.leaders();
  t.is(leaders.length, 1);
  t.not(leaders[0], 1);
  c.heal();
  c.tick(20);
  t.is(c.leaders().length, 1);
  t.is(c.raw(1).status().lead, id(leaders[0] ?? 0));
});

test("a partitioned leader cannot complete a ReadIndex; a live one can", (t) => {
  const c = new Cluster([1, 2, 3], { seed: 9 });
  c.elect(1);
  t.true(c.raw(1).readIndex(text("live")).ok);
  c.stabilize();
  t.deepEqual(c.get(1).readStates.map((r) => [Number(r.index), new TextDecoder().decode(r.context)]), [[1, "live"]]);
  c.isolate(1);
  t.true(c.raw(1).readIndex(text("stale")).ok);
  c.tick(9, [1]); // Heartbeats go unanswered within one election timeout.
  t.is(c.get(1).readStates.length, 1, "no read completes without a quorum");
  c.tick(30); // 2 and 3 elect a new leader and commit; 1 steps down.
  t.true(c.raw(2).propose(text("w")).ok || c.raw(3).propose(text("w")).ok);
  c.stabilize();
  t.not(c.raw(1).status().role, "leader");
  t.is(c.get(1).readStates.length, 1, "the deposed leader never answered the read");
});

test("ReadIndex waits until the new leader commits an entry of its term; followers forward", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.raw(1).campaign();
  c.stabilize((m) => m.type !== "appendEntriesResponse");
  t.true(c.raw(1).readIndex(text("early")).ok);
  c.stabilize((m) => m.type !== "appendEntriesResponse");
  t.is(c.get(1).readStates.length, 0, "commit index of an old term is not a read point");
  c.tick(2);
  t.deepEqual(c.get(1).readStates.map((r) => Number(r.index)), [1]);
  t.true(c.raw(3).readIndex(text("forwarded")).ok);
  c.stabilize();
  t.deepEqual(c.get(3).readStates.map((r) => Number(r.index)), [1]);
});

test("a stale or duplicate appendEntries does not truncate the follower's log", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.preload(2, [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 1)], 1);
  const stale: Message = {
    type: "appendEntries", from: id(1), to: id(2), term: 1 as never, logTerm: 1 as never,
    index: 1 as LogIndex, entries: [entry(2, 1), entry(3, 1)], commit: 0 as LogIndex,
  };
  t.true(c.raw(2).step(stale).ok);
  c.processAll();
  t.is(c.logOf(2).length, 5, "entries 4 and 5 survive");
  const response = c.queue.find((m) => m.type === "appendEntriesResponse");
  t.like(response, { index: 3, reject: false });
});

test("a follower whose needed entries are compacted catches up by snapshot", (t) => {
  const c = new Cluster([1, 2, 3], { seed: 2 });
  c.elect(1);
  c.isolate(3);
  for (const word of ["a", "b", "c", "d"]) t.true(c.raw(1).propose(text(word)).ok);
  c.stabilize();
  c.compact(1); // The leader's log now starts after "d".
  t.true(c.raw(1).propose(text("e")).ok);
  c.stabilize();
  c.heal();
  c.tick(3);
  const snapshots = c.get(3).readies.filter((r) => r.snapshot !== undefined);
  t.is(snapshots.length, 1);
  c.raw(1).reportSnapshot(id(3), true);
  c.tick(3);
  t.deepEqual(c.appliedText(3), ["a", "b", "c", "d", "e"]);
  t.is(c.raw(1).status().progress?.get(id(3))?.state, "replicate");
  // A stale copy of the snapshot arriving late is ignored (it is at or below commit).
  const stale = c.get(3).readies.find((r) => r.snapshot !== undefined)?.snapshot;
  if (stale === undefined) throw new Error("no snapshot");
  const term = c.raw(1).status().term;
  t.true(c.raw(3).step({ type: "installSnapshot", from: id(1), to: id(3), term, snapshot: stale }).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(3), ["a", "b", "c", "d", "e"]);
  t.is(c.get(3).readies.filter((r) => r.snapshot !== undefined).length, 1);
});

test("leader transfer hands over to a caught-up voter with timeoutNow", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  t.true(c.raw(1).propose(text("before")).ok);
  c.stabilize();
  c.heal();
  t.true(c.raw(1).transferLeader(id(3)).ok); // 3 is behind: it is caught up first.
  t.deepEqual(c.raw(1).propose(text("during")), { ok: false, error: "transfer-in-progress" });
  c.stabilize();
  t.deepEqual(c.leaders(), [3]);
  t.true(c.raw(3).propose(text("after")).ok);
  c.stabilize();
  for (const n of [1, 2, 3]) t.deepEqual(c.appliedText(n), ["before", "after"]);
  t.deepEqual(c.raw(3).transferLeader(id(9)), { ok: false, error: "not-voter" });
});

test("a learner replicates but never votes or counts, until promoted", (t) => {
  const c = new Cluster([1, 2, 3], {}, [4]);
  c.elect(1);
  t.true(c.raw(1).propose(text("one")).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(4), ["one"]);
  c.raw(4).campaign();
  c.stabilize();
  t.deepEqual(c.leaders(), [1], "a learner does not campaign");
  c.cut.add("1->2"); c.cut.add("1->3");
  t.true(c.raw(1).propose(text("two")).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(1), ["one"], "leader + learner is not a quorum");
  c.heal();
  c.tick(2);
  t.true(c.raw(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id(4), context: new Uint8Array(0) }).ok);
  c.stabilize();
  t.deepEqual(c.get(4).confState, { voters: [id(1), id(2), id(3), id(4)], learners: [] });
  c.cut.add("1->2"); c.cut.add("1->3");
  t.true(c.raw(1).propose(text("three")).ok);
  c.stabilize();
  t.deepEqual(c.appliedText(1), ["one", "two"], "1 and 4 of 4 voters are not a majority");
  c.heal();
  c.tick(2);
  t.deepEqual(c.appliedText(4), ["one", "two", "three"]);
});

test("a removed leader steps down once the removal commits; the rest go on", (t) => {
  const c = new Cluster([1, 2, 3], { seed: 4 });
  c.elect(1);
  c.tick(1);
  t.true(c.raw(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id(1), context: new Uint8Array(0) }).ok);
  c.stabilize();
  t.is(c.raw(1).status().role, "follower");
  c.isolate(1);
  c.tick(40);
  const leaders = c.leaders();
  t.is(leaders.length, 1);
  t.not(leaders[0], 1);
  t.deepEqual(c.get(2).confState.voters, [id(2), id(3)]);
});

test("a node added with an empty log joins and catches up from the log", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  t.true(c.raw(1).propose(text("x")).ok);
  c.tick(1);
  // A joining node starts from the current configuration (etcd: initial-cluster-state existing).
  c.add(4, c.get(1).confState);
  t.true(c.raw(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id(4), context: new Uint8Array(0) }).ok);
  c.tick(3);
  t.deepEqual(c.appliedText(4), ["x"]);
  t.deepEqual(c.get(4).confState.voters, [id(1), id(2), id(3), id(4)]);
});
