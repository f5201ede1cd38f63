/**
 * Goal: one test per claim of the Raft paper (§5), after etcd-io/raft's raft_paper_test.go.
 * Method: a node under test is driven by hand-built messages (pre-vote and check quorum off, as
 * in the paper) and its Readies are inspected; log-repair claims run on the harness.
 */
import test from "ava";
import type { LogIndex, NodeId, Term } from "../../pkg/common/index.js";
import {
  type Entry,
  MemoryStorage,
  type Message,
  RawNode,
  type Ready,
  type Role,
} from "../../pkg/raft/index.js";
import { Cluster, entry, id, text } from "./harness.js";

interface Subject {
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  readonly readies: Ready[];
}

interface SubjectOptions {
  readonly peers?: readonly number[];
  readonly entries?: readonly Entry[];
  readonly term?: number;
  readonly vote?: number;
  readonly seed?: number;
}

function subject(options: SubjectOptions = {}): Subject {
  const peers = options.peers ?? [1, 2, 3];
  const storage = new MemoryStorage({ voters: peers.map(id), learners: [] });
  storage.append(options.entries ?? []);
  storage.setHardState({
    term: (options.term ?? 0) as Term, vote: id(options.vote ?? 0), commit: 0 as LogIndex,
  });
  const raw = new RawNode({
    id: id(1), storage, electionTicks: 10, heartbeatTicks: 1, seed: options.seed ?? 1,
    preVote: false, checkQuorum: false,
  });
  return { raw, storage, readies: [] };
}

/** Handles every pending Ready by the contract; returns the messages it released. */
function drain(s: Subject): Message[] {
  const out: Message[] = [];
  while (s.raw.hasReady()) {
    const rd = s.raw.ready();
    s.readies.push(rd);
    if (rd.hardState !== undefined) s.storage.setHardState(rd.hardState);
    s.storage.append(rd.entries);
    out.push(...rd.earlyMessages, ...rd.messages);
    s.raw.advance();
  }
  return out;
}

const term = (n: number): Term => n as Term;
const index = (n: number): LogIndex => n as LogIndex;

function append(from: number, t: number, prev: number, prevTerm: number, entries: Entry[], commit = 0): Message {
  return {
    type: "appendEntries", from: id(from), to: id(1), term: term(t), logTerm: term(prevTerm),
    index: index(prev), entries, commit: index(commit),
  };
}

function voteResponse(from: number, t: number, reject = false): Message {
  return { type: "requestVoteResponse", from: id(from), to: id(1), term: term(t), preVote: false, reject };
}

function appendResponse(from: number, t: number, at: number): Message {
  return {
    type: "appendEntriesResponse", from: id(from), to: id(1), term: term(t), index: index(at),
    reject: false, rejectHint: index(0), logTerm: term(0),
  };
}

/** Makes the subject leader of term (stored term + 1) with votes from 2 and 3. */
function makeLeader(s: Subject): Term {
  s.raw.campaign();
  drain(s);
  const t = s.raw.status().term;
  s.raw.step(voteResponse(2, t));
  drain(s);
  return t;
}

const step = (s: Subject, m: Message): void => {
  const result = s.raw.step(m);
  if (!result.ok) throw new Error(result.error);
};

test("§5.1 a node starts as a follower", (t) => {
  t.is(subject().raw.status().role, "follower");
});

test("§5.1 a higher term in any message updates the term and makes the node a follower", (t) => {
  for (const role of ["follower", "candidate", "leader"] as const) {
    const s = subject({ term: 1 });
    if (role === "candidate") s.raw.campaign();
    if (role === "leader") makeLeader(s);
    drain(s);
    step(s, append(2, 5, 0, 0, []));
    const status = s.raw.status();
    t.is(Number(status.term), 5, role);
    t.is(status.role, "follower", role);
    t.is(status.lead, id(2), role);
  }
});

test("§5.1 a message with a stale term is ignored", (t) => {
  const s = subject({ term: 2 });
  step(s, append(2, 1, 0, 0, [entry(1, 1)]));
  drain(s);
  t.is(Number(s.raw.status().lastIndex), 0);
  t.is(Number(s.raw.status().term), 2);
});

test("§5.2 a leader broadcasts heartbeats every heartbeat interval", (t) => {
  const s = subject();
  makeLeader(s);
  drain(s);
  s.raw.tick();
  const beats = drain(s).filter((m) => m.type === "heartbeat");
  t.deepEqual(beats.map((m) => m.to), [id(2), id(3)]);
});

test("§5.2 a follower or candidate starts an election after its timeout", (t) => {
  for (const asCandidate of [false, true]) {
    const s = subject({ term: 1 });
    if (asCandidate) s.raw.campaign();
    drain(s);
    for (let i = 0; i < 20; i += 1) s.raw.tick();
    const messages = drain(s);
    const status = s.raw.status();
    t.is(Number(status.term), asCandidate ? 3 : 2);
    t.is(status.role, "candidate");
    t.is(status.vote, id(1));
    const votes = messages.filter((m) => m.type === "requestVote");
    t.deepEqual(votes.map((m) => [m.to, m.term]), [[id(2), status.term], [id(3), status.term]]);
  }
});

test("§5.2 an election is decided in one round of votes (table)", (t) => {
  const cases: [number, Record<number, boolean>, Role][] = [
    [1, {}, "leader"],
    [3, { 2: true, 3: true }, "leader"],
    [3, { 2: true }, "leader"],
    [5, { 2: true, 3: true, 4: true, 5: true }, "leader"],
    [5, { 2: true, 3: true, 4: true }, "leader"],
    [5, { 2: true, 3: true }, "leader"],
    [3, { 2: false, 3: false }, "follower"],
    [5, { 2: false, 3: false, 4: false, 5: false }, "follower"],
    [5, { 2: true, 3: false, 4: false, 5: false }, "follower"],
    [3, {}, "candidate"],
    [5, { 2: true }, "candidate"],
    [5, { 2: false, 3: false }, "candidate"],
  ];
  for (const [size, votes, expected] of cases) {
    const s = subject({ peers: Array.from({ length: size }, (_, i) => i + 1) });
    s.raw.campaign();
    drain(s);
    for (const [from, granted] of Object.entries(votes)) {
      step(s, voteResponse(Number(from), 1, !granted));
    }
    drain(s);
    t.is(s.raw.status().role, expected, `${size} nodes, votes ${JSON.stringify(votes)}`);
  }
});

test("§5.2 a follower votes at most once per term, first come first served", (t) => {
  const cases: [number, number, boolean][] = [[0, 2, false], [0, 3, false], [2, 2, false], [3, 3, false], [2, 3, true], [3, 2, true]];
  for (const [vote, candidate, rejected] of cases) {
    const s = subject({ term: 1, vote });
    step(s, {
      type: "requestVote", from: id(candidate), to: id(1), term: term(1), preVote: false,
      logTerm: term(0), index: index(0), transfer: false,
    });
    const response = drain(s).find((m) => m.type === "requestVoteResponse");
    t.like(response, { to: id(candidate), reject: rejected }, `vote ${vote} candidate ${candidate}`);
  }
});

test("§5.2 a candidate that hears from a leader of its term falls back to follower", (t) => {
  for (const leaderTerm of [1, 2]) {
    const s = subject();
    s.raw.campaign();
    drain(s);
    step(s, append(2, leaderTerm, 0, 0, []));
    t.is(s.raw.status().role, "follower");
    t.is(Number(s.raw.status().term), leaderTerm);
  }
});

test("§5.2 election timeouts are randomized in [T, 2T) and differ between nodes", (t) => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 60; seed += 1) {
    const s = subject({ term: 1, seed });
    let ticks = 0;
    while (s.raw.status().role === "follower" && ticks < 100) {
      s.raw.tick();
      ticks += 1;
    }
    t.true(ticks >= 10 && ticks < 20, `seed ${seed}: timeout ${ticks}`);
    seen.add(ticks);
  }
  t.true(seen.size >= 5, `only ${seen.size} distinct timeouts`);
});

test("§5.3 the leader appends a proposal and replicates it to every follower", (t) => {
  const s = subject();
  const t1 = makeLeader(s);
  step(s, appendResponse(2, t1, 1)); // The no-op is acknowledged: both followers replicate.
  step(s, appendResponse(3, t1, 1));
  drain(s);
  s.raw.propose(text("some data"));
  const appends = drain(s).filter((m) => m.type === "appendEntries");
  t.is(appends.length, 2);
  for (const m of appends) {
    t.like(m, { term: t1, logTerm: t1, index: 1, commit: 1 });
    t.deepEqual(m.entries.map((e) => [e.index, e.term]), [[2, t1]]);
  }
  t.is(Number(s.raw.status().lastIndex), 2);
});

test("§5.3 the leader commits once a majority holds the entry and tells the followers", (t) => {
  const s = subject();
  const t1 = makeLeader(s);
  step(s, appendResponse(2, t1, 1));
  drain(s);
  s.raw.propose(text("data"));
  drain(s);
  step(s, appendResponse(2, t1, 2));
  const messages = drain(s);
  t.is(Number(s.raw.status().commit), 2);
  const committed = s.readies.flatMap((r) => r.committedEntries).map((e) => e.index);
  t.deepEqual(committed, [index(1), index(2)]);
  const toTwo = messages.find((m) => m.type === "appendEntries" && m.to === id(2));
  t.like(toTwo, { commit: 2 }, "the new commit index goes out at once");
});

test("§5.3 commitment needs acknowledgements from a majority (table)", (t) => {
  const cases: [number, number[], boolean][] = [
    [1, [], true], [3, [], false], [3, [2], true], [3, [2, 3], true],
    [5, [], false], [5, [2], false], [5, [2, 3], true], [5, [2, 3, 4, 5], true],
  ];
  for (const [size, acks, committed] of cases) {
    const s = subject({ peers: Array.from({ length: size }, (_, i) => i + 1) });
    s.raw.campaign();
    drain(s);
    for (let peer = 2; peer <= Math.floor(size / 2) + 1; peer += 1) step(s, voteResponse(peer, 1));
    drain(s);
    for (const peer of acks) step(s, appendResponse(peer, 1, 1));
    drain(s);
    t.is(Number(s.raw.status().commit) === 1, committed, `${size} nodes, acks ${acks.join(",")}`);
  }
});

test("§5.3 a new leader's no-op commits the entries of earlier terms before it", (t) => {
  const s = subject({ term: 2, entries: [entry(1, 1), entry(2, 2)] });
  const t3 = makeLeader(s);
  step(s, appendResponse(2, t3, 3));
  drain(s);
  t.is(Number(s.raw.status().commit), 3);
  t.deepEqual(s.readies.flatMap((r) => r.committedEntries).map((e) => e.index), [1, 2, 3].map(index));
});

test("§5.3 a follower commits up to min(leaderCommit, last new entry)", (t) => {
  const s = subject({ term: 1 });
  step(s, append(2, 1, 0, 0, [entry(1, 1, "a"), entry(2, 1, "b")], 1));
  drain(s);
  t.is(Number(s.raw.status().commit), 1);
  step(s, append(2, 1, 2, 1, [], 5));
  drain(s);
  t.is(Number(s.raw.status().commit), 2, "commit is capped at the entries known to match");
});

test("§5.3 a follower checks AppendEntries consistency and hints on rejection (table)", (t) => {
  const log = [entry(1, 1), entry(2, 2)];
  const cases: [number, number, boolean, number][] = [
    [0, 0, false, 0], [2, 2, false, 2], [2, 1, true, 1], [3, 3, true, 2],
  ];
  for (const [prev, prevTerm, reject, hint] of cases) {
    const s = subject({ term: 2, entries: log });
    step(s, append(2, 2, prev, prevTerm, []));
    const response = drain(s).find((m) => m.type === "appendEntriesResponse");
    t.like(response, reject ? { reject, rejectHint: hint } : { reject, index: hint }, `prev ${prev}/${prevTerm}`);
  }
});

test("§5.3 a follower appends, truncating only from the first conflict (table)", (t) => {
  const cases: [number, number, Entry[], [number, number][]][] = [
    [2, 2, [entry(3, 3)], [[1, 1], [2, 2], [3, 3]]],
    [1, 1, [entry(2, 3), entry(3, 4)], [[1, 1], [2, 3], [3, 4]]],
    [0, 0, [entry(1, 1)], [[1, 1], [2, 2]]],
    [0, 0, [entry(1, 3)], [[1, 3]]],
  ];
  for (const [prev, prevTerm, entries, expected] of cases) {
    const s = subject({ term: 4, entries: [entry(1, 1), entry(2, 2)] });
    step(s, append(2, 4, prev, prevTerm, entries));
    drain(s);
    const stored = s.storage.entries(index(1), (s.storage.lastIndex() + 1) as LogIndex, Infinity);
    t.deepEqual(stored.ok ? stored.value.map((e) => [e.index, e.term]) : [], expected);
  }
});

test("§5.3 Figure 7: the leader brings every divergent follower log in line", (t) => {
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  const log = (terms: number[]): Entry[] => terms.map((tm, i) => entry(i + 1, tm));
  for (const [name, terms] of Object.entries(followers)) {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.preload(1, log(leaderTerms), 7);
    c.preload(2, log(terms), 7);
    c.preload(3, log(leaderTerms), 7);
    c.elect(1);
    t.deepEqual(c.leaders(), [1], name);
    c.tick(3);
    t.deepEqual(c.logOf(2), c.logOf(1), `follower ${name}`);
  }
});

test("§5.4.1 a candidate's vote request carries its last log index and term", (t) => {
  const s = subject({ term: 3, entries: [entry(1, 1), entry(2, 3)] });
  s.raw.campaign();
  const votes = drain(s).filter((m) => m.type === "requestVote");
  for (const m of votes) t.like(m, { term: 4, logTerm: 3, index: 2 });
  t.is(votes.length, 2);
});

test("§5.4.1 a voter rejects a candidate whose log is less up to date (table)", (t) => {
  const log = [entry(1, 1), entry(2, 2)];
  const cases: [number, number, boolean][] = [
    [2, 2, false], [3, 2, false], [3, 3, false], [1, 2, true], [5, 1, true], [2, 1, true],
  ];
  for (const [lastIndex, lastTerm, rejected] of cases) {
    const s = subject({ term: 2, entries: log });
    step(s, {
      type: "requestVote", from: id(2), to: id(1), term: term(3), preVote: false,
      logTerm: term(lastTerm), index: index(lastIndex), transfer: false,
    });
    const response = drain(s).find((m) => m.type === "requestVoteResponse");
    t.like(response, { reject: rejected }, `candidate last ${lastIndex}/${lastTerm}`);
  }
});

test("§5.4.2 a leader commits by counting only entries of its current term (table)", (t) => {
  const cases: [number, number][] = [[1, 0], [2, 0], [3, 3]];
  for (const [acked, commit] of cases) {
    const s = subject({ term: 2, entries: [entry(1, 1), entry(2, 2)] });
    const t3 = makeLeader(s);
    step(s, appendResponse(2, t3, acked));
    drain(s);
    t.is(Number(s.raw.status().commit), commit, `ack ${acked}`);
  }
});

test("status reports ids as given", (t) => {
  const s = subject();
  t.is(s.raw.status().id, 1n as NodeId);
});
