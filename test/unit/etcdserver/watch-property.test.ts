// Goal: under random writes (puts, range deletes, multi-put txns, compactions), random watchers
// opened at random start revisions with random ranges, filters and prev_kv, random cancels and
// slow, random-sized consumption, every watch sees: created first; then exactly the events of
// the write log it selects, ascending, without gaps or duplicates; each revision whole in one
// response; header.revision >= its events and below every later event (resumable); prev_kv as
// the write reported it (or left out below the compaction); nothing after a cancel.
import test, { type ExecutionContext } from "ava";
import { Prng, revision } from "../../../pkg/common/index.js";
import {
  type MvccEvent,
  type WatchFilter,
  type WatchResponse,
  type WatchStream,
  MvccStore,
  WatchHub,
  deleteRangeRequest,
  inWatchRange,
  putRequest,
  watchCreateRequest,
  watchRange,
} from "../../../pkg/etcdserver/index.js";

const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
const stepsPerSeed = 600;
const keys = ["a", "b", "c", "d", "e"];

function b(text: string): Uint8Array {
  return Buffer.from(text, "latin1");
}

interface OpenWatch {
  readonly stream: number;
  readonly id: number;
  readonly key: string;
  readonly end: string;
  readonly start: number;
  readonly filters: WatchFilter[];
  readonly prevKv: boolean;
  responses: WatchResponse[];
}

interface World {
  readonly prng: Prng;
  readonly store: MvccStore;
  readonly hub: WatchHub;
  readonly streams: WatchStream[];
  readonly watches: OpenWatch[];
  /** Every write's events as applied, prevKv filled, keyed by revision. */
  readonly log: Map<number, readonly MvccEvent[]>;
  /** Writes after which some stream pushed back: the slow-consumer path must be exercised. */
  pushedBack: number;
}

function write(world: World): void {
  const { prng, store, hub, log } = world;
  const choice = prng.intBelow(10);
  const key = b(prng.pick(keys));
  let events: readonly MvccEvent[] = [];
  if (choice < 6) {
    const value = b(String(prng.intBelow(1000)));
    const applied = store.put(putRequest({ key, value }));
    if (applied.ok) events = applied.value.events;
  } else if (choice < 8) {
    const rangeEnd = prng.chance(0.5) ? new Uint8Array(0) : b(prng.pick(["c", "f"]));
    const applied = store.deleteRange(deleteRangeRequest({ key, rangeEnd }));
    if (applied.ok) events = applied.value.events;
  } else {
    const success = keys.filter(() => prng.chance(0.5)).map((k) => ({
      type: "put" as const, request: putRequest({ key: b(k), value: b(`t${prng.intBelow(9)}`) }),
    }));
    const applied = store.txn({ compare: [], success, failure: [] });
    if (applied.ok) events = applied.value.events;
  }
  if (events.length > 0) log.set(store.revision, events);
  hub.publish(events);
  if (world.streams.some((stream) => stream.backpressured)) world.pushedBack += 1;
}

function openWatch(world: World): void {
  const { prng, store, streams, watches } = world;
  const stream = prng.intBelow(streams.length);
  const key = prng.pick(["", ...keys]);
  const end = prng.pick(["", "\0", "c", "f"]);
  if (watchRange(b(key), b(end)) === null) return;
  const start = prng.chance(0.3) ? 0 : prng.intBetween(1, store.revision + 3);
  const filters: WatchFilter[] =
    prng.chance(0.2) ? [prng.pick(["NOPUT", "NODELETE"] as const)] : [];
  const prevKv = prng.chance(0.5);
  const target = streams[stream];
  if (target === undefined) return;
  const ids = new Set(target.watchIds);
  const rangeEnd = b(end);
  const startRevision = start;
  target.create(watchCreateRequest({ key: b(key), rangeEnd, startRevision, filters, prevKv }));
  const id = target.watchIds.find((candidate) => !ids.has(candidate));
  if (id === undefined) return;
  const first = start === 0 ? store.revision + 1 : start;
  watches.push({ stream, id, key, end, start: first, filters, prevKv, responses: [] });
}

function consume(world: World, streamIndex: number, max: number): void {
  const stream = world.streams[streamIndex];
  if (stream === undefined) return;
  for (const response of stream.take(max)) {
    const watch = world.watches.find((w) => w.stream === streamIndex && w.id === response.watchId);
    if (watch !== undefined) watch.responses.push(response);
  }
}

function step(world: World): void {
  const { prng, store, streams } = world;
  const choice = prng.intBelow(100);
  if (choice < 50) write(world);
  else if (choice < 60) openWatch(world);
  else if (choice < 85) consume(world, prng.intBelow(streams.length), prng.intBetween(1, 8));
  else if (choice < 88) {
    const watch = world.watches.length === 0 ? undefined : prng.pick(world.watches);
    if (watch !== undefined) streams[watch.stream]?.cancel(watch.id);
  } else if (choice < 90 && store.revision > store.compactRevision + 1) {
    const at = prng.intBetween(Math.max(store.compactRevision + 1, 1), store.revision);
    store.compact({ revision: revision(at), physical: false });
  } else if (choice < 95) world.hub.sync();
}

function expectedEvents(world: World, watch: OpenWatch, from: number, until: number): string[] {
  const range = watchRange(b(watch.key), b(watch.end));
  const out: string[] = [];
  for (let rev = from; rev <= until; rev += 1) {
    for (const event of world.log.get(rev) ?? []) {
      if (range === null || !inWatchRange(range, event.kv.key)) continue;
      if (watch.filters.includes(event.type === "PUT" ? "NOPUT" : "NODELETE")) continue;
      out.push(describe(event, false));
    }
  }
  return out;
}

function describe(event: MvccEvent, withPrev: boolean): string {
  const prev = withPrev && event.prevKv !== undefined
    ? ` prev=${Buffer.from(event.prevKv.value).toString()}@${event.prevKv.modRevision}` : "";
  return `${event.type} ${Buffer.from(event.kv.key).toString()}@${event.kv.modRevision}` +
    `=${Buffer.from(event.kv.value).toString()}${prev}`;
}

function checkWatch(t: ExecutionContext, world: World, watch: OpenWatch, where: string): void {
  const [created, ...rest] = watch.responses;
  t.true(created?.created === true, `${where}: created first`);
  const cancelAt = rest.findIndex((r) => r.canceled);
  // After a cancel only one more may come: the answer to the client's own cancel of a watch
  // canceled for compaction (etcd keeps its ID until then).
  const afterCancel = cancelAt === -1 ? [] : rest.slice(cancelAt + 1);
  t.true(afterCancel.length <= 1 && afterCancel.every((r) => r.canceled && r.events.length === 0 &&
    rest[cancelAt]?.compactRevision !== 0), `${where}: nothing after cancel`);
  const eventResponses = rest.filter((r) => !r.canceled);
  let lastHeader = watch.start - 1;
  const got: MvccEvent[] = [];
  for (const response of eventResponses) {
    t.true(response.events.length > 0, `${where}: no empty event responses`);
    for (const event of response.events) {
      const at = event.kv.modRevision;
      t.true(at > lastHeader, `${where}: event ${at} <= ${lastHeader}`);
      t.true(event.kv.modRevision <= response.headerRevision, `${where}: header below events`);
    }
    const last = response.events.at(-1)?.kv.modRevision ?? 0;
    const whole = (world.log.get(last) ?? []).filter((e) =>
      expectedEvents(world, watch, last, last).includes(describe(e, false)));
    const inResponse = response.events.filter((e) => e.kv.modRevision === last);
    if (last > world.store.compactRevision) {
      t.is(inResponse.length, whole.length, `${where}: revision ${last} split`);
    }
    lastHeader = response.headerRevision;
    got.push(...response.events);
  }
  checkEvents(t, world, watch, got, cancelAt === -1, where);
}

function checkEvents(
  t: ExecutionContext, world: World, watch: OpenWatch, got: MvccEvent[], open: boolean,
  where: string,
): void {
  const compacted = world.store.compactRevision;
  const until = open ? world.store.revision : (got.at(-1)?.kv.modRevision ?? watch.start - 1);
  const expected = expectedEvents(world, watch, Math.max(watch.start, compacted + 1), until);
  const above = got.filter((e) => e.kv.modRevision > compacted).map((e) => describe(e, false));
  if (open || above.length > 0) t.deepEqual(above, expected, `${where}: events`);
  else t.true(expected.length === 0 || !open, `${where}: events`);
  for (const event of got) {
    const truth = (world.log.get(event.kv.modRevision) ?? [])
      .find((e) => describe(e, false) === describe(event, false));
    t.true(truth !== undefined, `${where}: event not in the log`);
    if (!watch.prevKv) t.is(event.prevKv, undefined, `${where}: unasked prev_kv`);
    else if (event.prevKv !== undefined || event.kv.modRevision - 1 >= compacted) {
      t.is(describe(event, true), describe(truth ?? event, true), `${where}: prev_kv`);
    }
  }
}

for (const seed of seeds) {
  test(`random watches see ordered, gapless, whole revisions (seed ${seed})`, (t) => {
    const prng = new Prng(seed);
    const store = new MvccStore({ leaseExists: () => false });
    const hub = new WatchHub(store);
    const world: World = {
      prng, store, hub, streams: [hub.openStream(), hub.openStream()], watches: [], log: new Map(),
      pushedBack: 0,
    };
    for (let index = 0; index < stepsPerSeed; index += 1) step(world);
    for (let round = 0; round < 10_000; round += 1) {
      const busy = world.streams.some((s) => s.pending > 0 || s.catchingUp);
      if (!busy) break;
      world.streams.forEach((_, index) => {
        consume(world, index, 50);
      });
    }
    t.true(world.watches.length > 10, "enough watches");
    t.true(world.pushedBack > 0, "some stream pushed back");
    for (const watch of world.watches) {
      checkWatch(t, world, watch, `seed ${seed} ${watch.stream}/${watch.id}`);
    }
  });
}
