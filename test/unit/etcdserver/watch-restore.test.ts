// Goal: watchers on a member that installs a Raft snapshot (EtcdStateMachine.restore, the hook
// wired to WatchHub.restored as MemberCore wires it) miss nothing and get nothing twice. Method:
// a "leader" state machine applies a log of requests; a "follower" applies a prefix of it,
// serves watch streams, then restores the leader's snapshot (the revisions in between are never
// published) and applies the rest. Scripted cases assert exact responses (catch-up from the
// restored history, prev_kv, filters, watchers waiting at future revisions, etcd's compacted
// cancel, progress, fragments); a seeded random run checks every watch against the leader's
// full event history over many lags and restores.
import test from "ava";
import {
  MemoryLogger, Prng, SimulatedClock, nodeId,
} from "../../../pkg/common/index.js";
import {
  type EtcdRequest,
  type MvccEvent,
  type WatchCreateRequest,
  type WatchFilter,
  type WatchResponse,
  type WatchStream,
  EtcdStateMachine,
  WatchHub,
  deleteRangeRequest,
  inWatchRange,
  putRequest,
  watchCreateRequest,
  watchRange,
  watchResponse,
} from "../../../pkg/etcdserver/index.js";

const b = (text: string): Uint8Array => Buffer.from(text, "latin1");
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1");

function newMachine(): EtcdStateMachine {
  return new EtcdStateMachine({
    lease: { ttlSecondsMin: 2 },
    initialMembers: [{ id: nodeId(1n), name: "m1", peerUrls: ["http://a:1"], clientUrls: [],
      isLearner: false }],
    clock: new SimulatedClock(), logger: new MemoryLogger(),
  });
}

/** A member's state machine and watch hub, wired the way MemberCore wires them. */
interface Member {
  readonly machine: EtcdStateMachine;
  readonly hub: WatchHub;
}

function newMember(progressNotifyMs?: number): Member {
  const machine = newMachine();
  const hub = new WatchHub(machine.watchSource,
    progressNotifyMs === undefined ? {} : { progressNotifyMs });
  machine.setHooks({
    onEvents: (events) => { hub.publish(events); },
    onRestored: () => { hub.restored(); },
  });
  return { machine, hub };
}

function apply(machine: EtcdStateMachine, request: EtcdRequest): void {
  const result = machine.applyRequest(request);
  if (!result.ok) throw result.error;
}

const put = (key: string, value: string): EtcdRequest =>
  ({ type: "put", request: putRequest({ key: b(key), value: b(value) }) });
const del = (key: string, end = ""): EtcdRequest =>
  ({ type: "deleteRange", request: deleteRangeRequest({ key: b(key), rangeEnd: b(end) }) });
const compact = (at: number): EtcdRequest =>
  ({ type: "compact", request: { revision: at, physical: false } });
const txnPuts = (...pairs: [string, string][]): EtcdRequest => ({
  type: "txn",
  request: { compare: [], failure: [], success: pairs.map(([key, value]) =>
    ({ type: "put" as const, request: putRequest({ key: b(key), value: b(value) }) })) },
});

const everyKey = { key: b(""), rangeEnd: b("\0") };

/** "PUT a=1@2" / "DELETE a@4", with "<1" for a prevKv of value 1. */
function describeEvent(event: MvccEvent): string {
  const value = event.type === "PUT" ? `=${text(event.kv.value)}` : "";
  const prev = event.prevKv === undefined ? "" : `<${text(event.prevKv.value)}`;
  return `${event.type} ${text(event.kv.key)}${value}@${event.kv.modRevision}${prev}`;
}

/** "id@header:events", with flags for created, canceled, compact revision and fragments. */
function line(response: WatchResponse): string {
  const flags = [
    response.created ? " created" : "", response.canceled ? " canceled" : "",
    response.compactRevision !== 0 ? ` compact=${response.compactRevision}` : "",
    response.fragment ? " fragment" : "",
  ].join("");
  const events = response.events.map(describeEvent).join(",");
  return `${response.watchId}@${response.headerRevision}${flags}:${events}`;
}

/** Runs the hub's catch-up until done, then drains the stream. */
function drain(member: Member, stream: WatchStream): string[] {
  const lines: string[] = [];
  for (let pass = 0; pass < 10_000; pass += 1) {
    member.hub.sync();
    const taken = stream.take();
    lines.push(...taken.map(line));
    if (taken.length === 0 && !member.hub.catchingUp) return lines;
  }
  throw new Error("the watch stream never drained");
}

function create(stream: WatchStream, fields: Partial<WatchCreateRequest>): void {
  stream.create(watchCreateRequest(fields));
}

test("after a restore, watchers catch up from the restored history exactly once", (t) => {
  const leader = newMachine();
  const follower = newMember();
  const both = (request: EtcdRequest): void => {
    apply(leader, request);
    apply(follower.machine, request);
  };
  both(put("a", "1")); // 2
  both(put("b", "1")); // 3
  const stream = follower.hub.openStream();
  create(stream, { ...everyKey, startRevision: 1 });
  create(stream, { key: b("a"), prevKv: true });
  create(stream, { ...everyKey, startRevision: 6 }); // ahead of the follower, within the snapshot
  create(stream, { ...everyKey, startRevision: 9, filters: ["NOPUT"] }); // beyond the snapshot
  t.deepEqual(drain(follower, stream), [
    "0@3 created:", "0@3:PUT a=1@2,PUT b=1@3",
    "1@3 created:", "2@3 created:", "3@3 created:",
  ]);
  // The follower falls behind: only the leader applies these.
  apply(leader, put("a", "2")); // 4
  apply(leader, del("b")); // 5
  apply(leader, txnPuts(["a", "3"], ["c", "1"])); // 6
  apply(leader, put("d", "1")); // 7
  follower.machine.restore(leader.snapshot());
  t.is(follower.machine.store.revision, 7);
  t.deepEqual(drain(follower, stream), [
    "0@7:PUT a=2@4,DELETE b@5,PUT a=3@6,PUT c=1@6,PUT d=1@7",
    "1@7:PUT a=2@4<1,PUT a=3@6<2",
    "2@7:PUT a=3@6,PUT c=1@6,PUT d=1@7",
  ]);
  // Live again: one response per revision, none repeated.
  both(put("e", "1")); // 8
  both(del("a")); // 9
  both(put("c", "2")); // 10
  t.deepEqual(drain(follower, stream), [
    "0@8:PUT e=1@8", "2@8:PUT e=1@8",
    "0@9:DELETE a@9", "1@9:DELETE a@9<3", "2@9:DELETE a@9", "3@9:DELETE a@9",
    "0@10:PUT c=2@10", "2@10:PUT c=2@10",
  ]);
});

test("a restore that compacted a watcher's next revision cancels it as etcd does", (t) => {
  const leader = newMachine();
  const follower = newMember();
  apply(leader, put("a", "1")); // 2
  apply(follower.machine, put("a", "1"));
  const stream = follower.hub.openStream();
  create(stream, { ...everyKey, startRevision: 1 }); // synced at 3, below the compaction
  create(stream, { ...everyKey, startRevision: 5 }); // waiting at 5, below it
  create(stream, { ...everyKey, startRevision: 6, prevKv: true }); // at it: readable
  create(stream, { key: b("k"), rangeEnd: b("l"), startRevision: 7 });
  create(stream, { ...everyKey, startRevision: 20 }); // beyond the snapshot: keeps waiting
  t.is(drain(follower, stream).length, 6);
  for (const [key, value] of [["b", "1"], ["c", "1"], ["k1", "1"], ["a", "2"], ["k2", "1"],
    ["k1", "2"]] as const) {
    apply(leader, put(key, value)); // 3 .. 8
  }
  apply(leader, compact(6));
  follower.machine.restore(leader.snapshot());
  t.is(follower.machine.store.compactRevision, 6);
  t.deepEqual(drain(follower, stream), [
    "0@0 canceled compact=6:",
    "1@0 canceled compact=6:",
    // At the compaction revision the store keeps the live versions; prev_kv below it is gone.
    "2@8:PUT a=2@6,PUT k2=1@7,PUT k1=2@8<1",
    "3@8:PUT k2=1@7,PUT k1=2@8",
  ]);
  t.deepEqual(stream.watchIds, [2, 3, 4]);
  for (let i = 9; i <= 20; i += 1) apply(follower.machine, put("z", `${i}`));
  t.deepEqual(drain(follower, stream), [
    ...Array.from({ length: 12 }, (_, i) => `2@${9 + i}:PUT z=${9 + i}@${9 + i}` +
      (i === 0 ? "" : `<${8 + i}`)),
    "4@20:PUT z=20@20",
  ]);
});

test("progress waits for the catch-up after a restore, then reports the restored revision",
  (t) => {
    const leader = newMachine();
    const follower = newMember(1);
    apply(leader, put("a", "1"));
    apply(follower.machine, put("a", "1"));
    const stream = follower.hub.openStream();
    create(stream, { key: b("a"), progressNotify: true });
    create(stream, { key: b("q"), progressNotify: true });
    follower.hub.tick(0);
    stream.take();
    apply(leader, put("a", "2"));
    apply(leader, put("b", "1"));
    follower.machine.restore(leader.snapshot());
    // Both watchers are behind: no progress, because an event below it may still come.
    stream.requestProgress();
    follower.hub.tick(10);
    t.is(stream.pending, 0);
    t.true(follower.hub.catchingUp);
    follower.hub.sync();
    stream.requestProgress();
    t.deepEqual(stream.take().map(line), ["0@4:PUT a=2@3", "-1@4:"]);
    follower.hub.tick(20);
    // Watcher 0 got events since the last tick; watcher 1 is idle and synced.
    t.deepEqual(stream.take(), [watchResponse({ watchId: 1, headerRevision: 4 })]);
  });

test("a catch-up after a restore is fragmented like any other when asked", (t) => {
  const leader = newMachine();
  const follower = newMember();
  const stream = follower.hub.openStream();
  create(stream, { key: b("big"), fragment: true });
  create(stream, { key: b("big") });
  stream.take();
  const large = "x".repeat(1536 * 1024);
  apply(leader, put("big", large)); // 2
  apply(leader, put("big", large.slice(1))); // 3
  follower.machine.restore(leader.snapshot());
  follower.hub.sync();
  const responses = stream.take();
  t.deepEqual(responses.map((response) =>
    [response.watchId, response.headerRevision, response.fragment,
      response.events.map((event) => event.kv.modRevision)]), [
    [0, 3, true, [2]], [0, 3, false, [3]], [1, 3, false, [2, 3]],
  ]);
});

// ---- random runs -------------------------------------------------------------------------

const seeds = [11, 12, 13, 14, 15, 16];
const stepsPerSeed = 500;
const randomKeys = ["a", "b", "c", "d", "e"];

/** One random watch and everything its stream sent it. */
interface RandomWatch {
  readonly stream: WatchStream;
  readonly id: number;
  readonly request: WatchCreateRequest;
  /** The start revision as the server resolved it (0 → current + 1). */
  readonly start: number;
  readonly responses: WatchResponse[];
}

function randomRequest(prng: Prng, current: number): WatchCreateRequest {
  const first = prng.pick(randomKeys);
  const ranged = prng.chance(0.5);
  const end = ranged ? String.fromCharCode(first.charCodeAt(0) + prng.intBetween(1, 3)) : "";
  const filters: WatchFilter[] = prng.chance(0.2) ? [prng.pick(["NOPUT", "NODELETE"] as const)]
    : [];
  const startRevision = prng.chance(0.3) ? 0 : prng.intBetween(1, current + 40);
  return watchCreateRequest({ key: b(first), rangeEnd: b(end), startRevision, filters,
    fragment: prng.chance(0.3) });
}

/**
 * A random write; a compaction only at a revision that deleted nothing, because compacting
 * at C drops the DELETEs of C from history (as etcd's backend does), which the reference
 * history below does not model.
 */
function randomWrite(prng: Prng, leader: EtcdStateMachine,
  history: readonly MvccEvent[]): EtcdRequest {
  const roll = prng.nextFloat();
  const key = prng.pick(randomKeys);
  if (roll < 0.55) return put(key, `${prng.intBelow(1000)}`);
  if (roll < 0.7) return del(key, prng.chance(0.5) ? "" : "f");
  const at = prng.intBetween(Math.max(1, leader.store.compactRevision), leader.store.revision);
  const deletedAt = history.some((event) => event.kv.modRevision === at &&
    event.type === "DELETE");
  if (roll < 0.95 || at <= leader.store.compactRevision || at <= 1 || deletedAt) {
    return txnPuts([key, "t"], [`${key}${key}`, `${prng.intBelow(10)}`]);
  }
  return compact(at);
}

/** What `watch` must receive of `history`: in range, not filtered, at or after its start. */
function expectedEvents(watch: RandomWatch, history: readonly MvccEvent[]): string[] {
  const range = watchRange(watch.request.key, watch.request.rangeEnd);
  if (range === null) return [];
  const noPut = watch.request.filters.includes("NOPUT");
  const noDelete = watch.request.filters.includes("NODELETE");
  return history.filter((event) => event.kv.modRevision >= watch.start &&
    inWatchRange(range, event.kv.key) && !(event.type === "PUT" ? noPut : noDelete))
    .map((event) => describeEvent({ type: event.type, kv: event.kv }));
}

/** Checks one watch's responses against the leader's full history; "" when all is well. */
function checkWatch(watch: RandomWatch, history: readonly MvccEvent[]): string {
  const [created, ...rest] = watch.responses;
  if (created === undefined || !created.created) return "no created response first";
  const received: string[] = [];
  let lastRevision = 0;
  let open = false; // the previous response was a fragment
  let canceled: WatchResponse | undefined;
  for (const response of rest) {
    if (canceled !== undefined) return `response after the cancel: ${line(response)}`;
    if (response.canceled) {
      canceled = response;
      continue;
    }
    const revisions = response.events.map((event) => event.kv.modRevision);
    const firstRevision = revisions[0] ?? lastRevision + 1;
    if (firstRevision < lastRevision || (firstRevision === lastRevision && !open)) {
      return `revision ${firstRevision} after ${lastRevision}: split or repeated`;
    }
    lastRevision = revisions.at(-1) ?? lastRevision;
    open = response.fragment;
    received.push(...response.events.map(describeEvent));
  }
  const expected = expectedEvents(watch, history);
  const prefix = expected.slice(0, received.length);
  if (received.join("|") !== prefix.join("|")) {
    return `got ${received.join(",")}\nwant ${prefix.join(",")}`;
  }
  if (canceled === undefined) {
    return received.length === expected.length ? ""
      : `missing ${expected.slice(received.length).join(",")}`;
  }
  const next = expected[received.length];
  const compactRevision = canceled.compactRevision;
  if (compactRevision <= 0) return `a cancel without a compaction: ${line(canceled)}`;
  return next === undefined || lastRevision < compactRevision ? ""
    : `canceled at compaction ${compactRevision} after revision ${lastRevision}`;
}

/** One seeded run: the follower lags and restores many times while random watches run. */
function randomRun(seed: number): { watches: RandomWatch[]; history: MvccEvent[] } {
  const prng = new Prng(seed);
  const history: MvccEvent[] = [];
  const leader = newMachine();
  leader.setHooks({ onEvents: (events) => { history.push(...events); } });
  const follower = newMember();
  const log: EtcdRequest[] = [];
  let applied = 0; // log entries the follower applied (or restored past)
  let lagging = false;
  const streams = [follower.hub.openStream(), follower.hub.openStream()];
  const watches: RandomWatch[] = [];
  const applyBacklog = (): void => {
    for (; applied < log.length; applied += 1) {
      apply(follower.machine, log[applied] as EtcdRequest);
    }
  };
  const takeFrom = (stream: WatchStream, max: number): void => {
    for (const response of stream.take(max)) {
      const watch = watches.find((w) => w.stream === stream && w.id === response.watchId);
      if (watch !== undefined) watch.responses.push(response);
    }
  };
  for (let step = 0; step < stepsPerSeed; step += 1) {
    const request = randomWrite(prng, leader, history);
    log.push(request);
    apply(leader, request);
    if (lagging && prng.chance(0.15)) {
      follower.machine.restore(leader.snapshot());
      applied = log.length;
      lagging = false;
    } else if (!lagging) {
      applyBacklog();
      lagging = prng.chance(0.1);
    }
    const stream = prng.pick(streams);
    if (prng.chance(0.1) && watches.length < 60 && !stream.backpressured) {
      const watchRequest = randomRequest(prng, follower.machine.store.revision);
      const id = watches.length + 1; // never reused: a compacted watch's ID stays taken
      const start = watchRequest.startRevision === 0
        ? follower.machine.store.revision + 1 : watchRequest.startRevision;
      watches.push({ stream, id, request: { ...watchRequest, watchId: id }, start,
        responses: [] });
      stream.create({ ...watchRequest, watchId: id });
    }
    if (prng.chance(0.5)) follower.hub.sync();
    if (prng.chance(0.4)) takeFrom(stream, prng.intBetween(1, 40));
  }
  applyBacklog();
  for (let pass = 0; pass < 10_000 && (follower.hub.catchingUp ||
    streams.some((stream) => stream.pending > 0)); pass += 1) {
    follower.hub.sync();
    for (const stream of streams) takeFrom(stream, 64);
  }
  return { watches, history };
}

for (const seed of seeds) {
  test(`random lags and restores: every watch gets the leader's history (seed ${seed})`, (t) => {
    const { watches, history } = randomRun(seed);
    t.true(watches.length > 10, `seed ${seed}: only ${watches.length} watches`);
    const problems = watches.map((watch) => {
      const problem = checkWatch(watch, history);
      return problem === "" ? "" : `watch ${watch.id} from ${watch.start}: ${problem}`;
    }).filter((problem) => problem !== "");
    t.deepEqual(problems, [], `seed ${seed}`);
    t.true(watches.some((watch) => watch.responses.length > 2), `seed ${seed}: no events`);
  });
}
