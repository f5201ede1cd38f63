// Goal: the subject (pfsd; a second etcd with PFS_DIFF_SUBJECT=etcd) answers a random sequence
// of raw gRPC requests exactly as a fresh etcd 3.4.23 does. Method: per seed, start a fresh
// single-member etcd and a fresh subject; grant two leases with fixed IDs on both; send the same
// seeded ops to both in lockstep (KV put/delete/nested txn/range/compact, lease
// grant/revoke/timetolive/leases/keepalive, watch create/cancel/progress on two Watch streams per
// member, waiting after each watch request until the streams are quiet); compare every unary
// response field by field (header cluster_id, member_id and raft_term masked; a lease's
// remaining TTL within ±1 s; timetolive's keys as a set, since etcd lists them in Go map
// order) and, after each watch request and at the end, each watch ID's whole response sequence.
// A mismatch names the seed, the first differing op (for a watch, the op during which the
// first differing response arrived) and both outcomes.
// PFS_DIFF_SEED=s starts at seed s, PFS_DIFF_SEEDS=k runs k seeds, PFS_DIFF_OPS=n ops per seed.
// PFS_DIFF_PERTURB=n sends one extra Put to the subject alone before op n: a self-check, the
// run must then fail.
import { isDeepStrictEqual } from "node:util";
import test from "ava";
import { Prng } from "../../pkg/common/index.js";
import { grantedLeaseIds } from "./support/kv-wire-generator.js";
import { keepAliveOnce } from "./support/grpc-lease-stream.js";
import {
  type GrpcMember, type GrpcPair, startGrpcPair, subjectKind,
} from "./support/grpc-members.js";
import {
  type GrpcOutcome, alignTolerant, callUnary, showOutcome,
} from "./support/grpc-outcome.js";
import {
  type RandomOp, RandomGrpcOps, watchStreamCount,
} from "./support/grpc-random-ops.js";
import { WatchRecorder, type WireWatchResponse } from "./support/grpc-watch-recorder.js";

const firstSeed = Number(process.env["PFS_DIFF_SEED"] ?? "1");
const seedCount = Number(process.env["PFS_DIFF_SEEDS"] ?? "3");
const opsPerSeed = Number(process.env["PFS_DIFF_OPS"] ?? "300");
const perturbAt = Number(process.env["PFS_DIFF_PERTURB"] ?? "-1");
/** etcd syncs unsynced watchers every 100 ms; a quiet stretch this long covers a few passes. */
const replayQuietMs = 250;
/** After a watch request's own answer, how long the stream must stay quiet. */
const answerQuietMs = 30;
/** How long a cancel or progress request may wait for its answer (an unknown ID gets none). */
const watchAnswerMsMax = 1_000;
/** A lease's remaining TTL may differ by this much between the two servers. */
const ttlToleranceSeconds = 1;

/** One member under test: its clients and its Watch streams. */
interface Side {
  readonly member: GrpcMember;
  readonly watches: readonly WatchRecorder[];
}

function watchOf(side: Side, stream: number): WatchRecorder {
  const recorder = side.watches[stream];
  if (recorder === undefined) throw new Error(`no watch stream ${stream}`);
  return recorder;
}

/** What the generator sees: revisions from etcd's answers, watch IDs etcd created. */
class ReferenceView {
  revision = 1;
  compactRevision = 0;
  openWatchIds: string[][] = [];
  createdWatchIds: string[][] = [];

  observe(op: RandomOp, outcome: unknown): void {
    const result = outcome as GrpcOutcome;
    if (op.kind !== "unary" || !result.ok) return;
    const header = (result.response as { header?: { revision?: string } }).header;
    const revision = Number(header?.revision ?? "0");
    if (revision > 0) this.revision = revision;
    if (op.method === "Compact") this.compactRevision = Number(op.request["revision"]);
  }

  observeWatch(recorders: readonly WatchRecorder[]): void {
    this.openWatchIds = recorders.map((recorder) => ReferenceView.#open(recorder.responses));
    this.createdWatchIds = recorders.map((recorder) => [...new Set(recorder.responses
      .filter((response) => response.created === true && response.canceled !== true)
      .map((response) => response.watch_id ?? "0"))]);
  }

  static #open(responses: readonly WireWatchResponse[]): string[] {
    const open = new Set<string>();
    for (const response of responses) {
      const id = response.watch_id ?? "0";
      if (response.created === true && response.canceled !== true) open.add(id);
      else if (response.canceled === true) open.delete(id);
    }
    return [...open];
  }
}

/** Whether a create replays history (start at or below the current revision). */
function replays(create: Record<string, unknown>, revision: number): boolean {
  const start = Number(create["start_revision"] ?? "0");
  return start > 0 && start <= revision;
}

/**
 * Sends a watch request and waits until its answer is in: the created response, or the one
 * response to a cancel or progress request (at most watchAnswerMsMax); then until the stream
 * is quiet, long enough for a replay from history when the create asks for one. Returns the
 * created response of a create (compared as the op's outcome), else null.
 */
async function watchRequest(watch: WatchRecorder, request: Record<string, unknown>,
  revision: number): Promise<unknown> {
  const create = request["create_request"] as Record<string, unknown> | undefined;
  if (create !== undefined) {
    const before = watch.responses.length;
    await watch.create(create);
    const created = watch.responses.slice(before).find((response) => response.created === true);
    await watch.quiet(replays(create, revision) ? replayQuietMs : answerQuietMs);
    return created ?? { ended: watch.ended };
  }
  const before = watch.responses.length;
  const deadline = Date.now() + watchAnswerMsMax;
  watch.send(request);
  await watch.until(() => watch.responses.length > before || Date.now() > deadline);
  await watch.quiet(answerQuietMs);
  return null;
}

async function perform(side: Side, op: RandomOp, revision: number): Promise<unknown> {
  switch (op.kind) {
    case "unary":
      return callUnary(side.member.clients[op.service], op.method, op.request);
    case "keepalive":
      return keepAliveOnce(side.member.clients.Lease, op.id);
    case "watch":
      return watchRequest(watchOf(side, op.stream), op.request, revision);
  }
}

function sortedKeys(outcome: GrpcOutcome): GrpcOutcome {
  if (!outcome.ok) return outcome;
  const response = outcome.response as { keys?: Buffer[] };
  if (!Array.isArray(response.keys)) return outcome;
  const keys = [...response.keys].sort((a, b) => Buffer.compare(a, b));
  return { ok: true, response: { ...response, keys } };
}

/** The two outcomes with timing-dependent and unordered fields made comparable. */
function comparable(op: RandomOp, expected: unknown, actual: unknown): [unknown, unknown] {
  if (op.kind !== "unary" || op.method !== "LeaseTimeToLive") return [expected, actual];
  const reference = sortedKeys(expected as GrpcOutcome);
  const subject = sortedKeys(actual as GrpcOutcome);
  return [reference, alignTolerant(reference, subject, ["TTL"], ttlToleranceSeconds)];
}

/** Each watch's responses, keyed "stream/watch ID", with the op during which each arrived. */
function byWatchId(side: Side): Map<string, { response: unknown; op: number }[]> {
  const map = new Map<string, { response: unknown; op: number }[]>();
  side.watches.forEach((recorder, stream) => {
    recorder.responses.forEach((response, index) => {
      const id = `${stream}/${response.watch_id ?? "0"}`;
      map.set(id, [...(map.get(id) ?? []), { response, op: recorder.arrivals[index] ?? -1 }]);
    });
  });
  return map;
}

/** How each side's watch streams ended, for failure messages. */
function streamEnds(side: Side): string {
  return showOutcome(side.watches.map((recorder) => recorder.ended));
}

/**
 * The first watch ID whose responses differ, described; null when all agree. Unless
 * `complete`, only the responses both streams have so far are compared (an event may still be
 * on its way to one of them).
 */
function watchMismatch(reference: Side, subject: Side, complete: boolean): string | null {
  const kind = subject.member.kind;
  const [expected, actual] = [byWatchId(reference), byWatchId(subject)];
  for (const id of new Set([...expected.keys(), ...actual.keys()])) {
    const [want, got] = [expected.get(id) ?? [], actual.get(id) ?? []];
    const count = complete
      ? Math.max(want.length, got.length)
      : Math.min(want.length, got.length);
    for (let index = 0; index < count; index += 1) {
      const [a, b] = [want[index], got[index]];
      if (isDeepStrictEqual(a?.response, b?.response)) continue;
      return [
        `watch (stream/id) ${id}, response ${index}, arrived during op ${a?.op ?? b?.op ?? -1}`,
        `reference etcd: ${showOutcome(a?.response ?? "nothing")}`,
        `subject ${kind}: ${showOutcome(b?.response ?? "nothing")}`,
        `etcd stream ends: ${streamEnds(reference)}; ${kind} stream ends: ${streamEnds(subject)}`,
      ].join("\n");
    }
  }
  return null;
}

function scriptedWatches(ops: RandomGrpcOps, view: ReferenceView): RandomOp[] {
  const starts = [view.compactRevision - 1, view.revision + 1, view.revision + 3];
  return starts.filter((start) => start >= 1).map((start) =>
    ({ kind: "watch", stream: 0, request: { create_request: ops.watchCreate(start) } }));
}

function setupOps(): RandomOp[] {
  return grantedLeaseIds.map((id) => ({
    kind: "unary", service: "Lease", method: "LeaseGrant",
    request: { ID: id.toString(), TTL: "3600" },
  }));
}

/** What a seed exercised, logged so that a vacuous run shows. */
class SeedStats {
  readonly byKind = new Map<string, number>();
  errors = 0;
  /** The summary, filled in before the members stop. */
  watchSummary = "";

  count(op: RandomOp, expected: unknown): void {
    const name = op.kind === "unary" ? op.method : op.kind;
    this.byKind.set(name, (this.byKind.get(name) ?? 0) + 1);
    if ((expected as { ok?: unknown } | null)?.ok === false) this.errors += 1;
  }

  summary(watches: readonly WatchRecorder[]): string {
    const responses = watches.flatMap((watch) => watch.responses);
    const events = responses.reduce((sum, r) => sum + (r.events?.length ?? 0), 0);
    const cancels = responses.filter((r) => r.canceled === true).length;
    const ops = [...this.byKind].map(([name, count]) => `${name} ${count}`).join(", ");
    return `${ops}; ${this.errors} errors; watch: ${responses.length} responses, ` +
      `${events} events, ${cancels} cancels`;
  }
}

async function runOps(seed: number, reference: Side, subject: Side, stats: SeedStats):
  Promise<string | null> {
  const view = new ReferenceView();
  const ops = new RandomGrpcOps(new Prng(seed), () => view);
  const pending: RandomOp[] = setupOps();
  for (let index = 0; index < opsPerSeed + 2; index += 1) {
    if (index === Math.floor(opsPerSeed / 2)) pending.push(...scriptedWatches(ops, view));
    const op = pending.shift() ?? ops.next();
    for (const recorder of [...reference.watches, ...subject.watches]) recorder.stamp = index;
    if (index === perturbAt) {
      const extra = { key: Buffer.from("b"), value: Buffer.from("!") };
      await callUnary(subject.member.clients.KV, "Put", extra);
    }
    const outcomes = await Promise.all([
      perform(reference, op, view.revision), perform(subject, op, view.revision),
    ]);
    const [expected, actual] = comparable(op, ...outcomes);
    stats.count(op, expected);
    view.observe(op, expected);
    view.observeWatch(reference.watches);
    const kind = subject.member.kind;
    if (!isDeepStrictEqual(expected, actual)) {
      return [`seed ${seed}, op ${index}: ${showOutcome(op)}`,
        `reference etcd: ${showOutcome(expected)}`, `subject ${kind}: ${showOutcome(actual)}`,
      ].join("\n");
    }
    const watchDiff = op.kind === "watch" ? watchMismatch(reference, subject, false) : null;
    if (watchDiff !== null) return `seed ${seed}, op ${index}: ${showOutcome(op)}\n${watchDiff}`;
  }
  const recorders = [...reference.watches, ...subject.watches];
  await Promise.all(recorders.map((recorder) => recorder.quiet(replayQuietMs)));
  const watchDiff = watchMismatch(reference, subject, true);
  return watchDiff === null ? null : `seed ${seed}, at the end:\n${watchDiff}`;
}

/** Fresh pairs, each started while the seed before it runs. */
const pairs = new Map<number, Promise<GrpcPair>>();

function pairFor(seed: number): Promise<GrpcPair> {
  const started = pairs.get(seed) ?? startGrpcPair();
  pairs.delete(seed);
  if (seed + 1 < firstSeed + seedCount) {
    const next = startGrpcPair();
    next.catch(() => undefined);
    pairs.set(seed + 1, next);
  }
  return started;
}

test.after.always(async () => {
  const leftovers = await Promise.allSettled(pairs.values());
  for (const result of leftovers) if (result.status === "fulfilled") await result.value.stop();
});

async function runSeed(seed: number, stats: SeedStats): Promise<string | null> {
  const pair = await pairFor(seed);
  const side = (member: GrpcMember): Side => ({
    member,
    watches: Array.from({ length: watchStreamCount },
      () => new WatchRecorder(member.clients.Watch)),
  });
  const [reference, subject] = [side(pair.reference), side(pair.subject)];
  try {
    const mismatch = await runOps(seed, reference, subject, stats);
    return mismatch === null ? null : `${mismatch}\n${subject.member.kind} log tail:\n` +
      subject.member.log().slice(-1_500);
  } finally {
    stats.watchSummary = stats.summary(reference.watches);
    for (const recorder of [...reference.watches, ...subject.watches]) recorder.close();
    await pair.stop();
  }
}

for (let seed = firstSeed; seed < firstSeed + seedCount; seed += 1) {
  const title =
    `${subjectKind()} answers raw gRPC like etcd 3.4.23 (seed ${seed}, ${opsPerSeed} ops)`;
  test.serial(title, async (t) => {
    const stats = new SeedStats();
    const mismatch = await runSeed(seed, stats);
    t.log(stats.watchSummary);
    if (mismatch === null) t.pass();
    else t.fail(mismatch);
  });
}
