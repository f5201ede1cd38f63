// Goal: every rule of etcd-api.md §6 that the watch hub implements, with exact response fields:
// create (ids, ranges, failures, start revisions, compaction), events (filters, prev_kv, live
// and replay header revisions, atomic revisions), cancel, progress, slow consumers, fragments
// and the proto encoding.
import test, { type ExecutionContext } from "ava";
import { limits, revision } from "../../../pkg/common/index.js";
import {
  type MvccEvent,
  type MvccStore,
  type WatchCreateRequest,
  type WatchResponse,
  WatchHub,
  cancelReasonDuplicateId,
  deleteRangeRequest,
  encodeWatchResponse,
  putRequest,
  watchCreateRequest,
  watchResponse,
} from "../../../pkg/etcdserver/index.js";
import { b, must, newStore } from "./store-fixture.js";

function put(
  t: ExecutionContext, store: MvccStore, hub: WatchHub, key: string, value: string,
): void {
  hub.publish(must(t, store.put(putRequest({ key: b(key), value: b(value) }))).events);
}

function del(t: ExecutionContext, store: MvccStore, hub: WatchHub, key: string, end = ""): void {
  const request = deleteRangeRequest({ key: b(key), rangeEnd: b(end) });
  hub.publish(must(t, store.deleteRange(request)).events);
}

function create(fields: Partial<WatchCreateRequest> & { key: Uint8Array }): WatchCreateRequest {
  return watchCreateRequest(fields);
}

/** Compact summary of events: "PUT a=1@2" / "DELETE a@4", with "<prev" for prevKv. */
function ev(events: readonly MvccEvent[]): string[] {
  return events.map((e) => {
    const key = Buffer.from(e.kv.key).toString("latin1");
    const value = e.type === "PUT" ? `=${Buffer.from(e.kv.value).toString("latin1")}` : "";
    const prev = e.prevKv === undefined ? "" : `<${Buffer.from(e.prevKv.value).toString("latin1")}`;
    return `${e.type} ${key}${value}@${e.kv.modRevision}${prev}`;
  });
}

/** "id@header:events" of a response. */
function line(r: WatchResponse): string {
  return `${r.watchId}@${r.headerRevision}:${ev(r.events).join(",")}`;
}

function setup(): { store: MvccStore; hub: WatchHub } {
  const store = newStore();
  return { store, hub: new WatchHub(store) };
}

test("auto ids start at 0 and skip ids in use; created is first with current revision", (t) => {
  const { store, hub } = setup();
  put(t, store, hub, "a", "1");
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), watchId: 1 }));
  stream.create(create({ key: b("a") }));
  stream.create(create({ key: b("a") }));
  t.deepEqual(stream.take(), [
    watchResponse({ watchId: 1, headerRevision: 2, created: true }),
    watchResponse({ watchId: 0, headerRevision: 2, created: true }),
    watchResponse({ watchId: 2, headerRevision: 2, created: true }),
  ]);
  t.deepEqual(stream.watchIds, [1, 0, 2]);
});

test("a duplicate id or an empty range fails with watch_id -1 and etcd's reason", (t) => {
  const { store, hub } = setup();
  put(t, store, hub, "a", "1");
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), watchId: 5 }));
  stream.create(create({ key: b("a"), watchId: 5 }));
  stream.create(create({ key: b("b"), rangeEnd: b("a") }));
  stream.create(create({ key: b("b"), rangeEnd: b("b") }));
  const failure = (cancelReason: string): WatchResponse => watchResponse({
    watchId: -1, headerRevision: 2, created: true, canceled: true, cancelReason,
  });
  t.deepEqual(stream.take(), [
    watchResponse({ watchId: 5, headerRevision: 2, created: true }),
    failure("mvcc: duplicate watch ID provided on the WatchStream"),
    failure("mvcc: watcher range is empty"),
    failure("mvcc: watcher range is empty"),
  ]);
  t.deepEqual(stream.watchIds, [5]);
});

test("ranges: empty key is \\0, range_end \\0 is everything from key, else [key, end)", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b(""), rangeEnd: b("\0") }));
  stream.create(create({ key: b("b"), rangeEnd: b("\0") }));
  stream.create(create({ key: b("a"), rangeEnd: b("c") }));
  stream.create(create({ key: b("b") }));
  stream.create(create({ key: b("") }));
  stream.take();
  for (const key of ["a", "b", "c", "\0"]) put(t, store, hub, key, "v");
  const got = stream.take().map((r) => `${r.watchId}:${ev(r.events).join(",")}`);
  t.deepEqual(got, [
    "0:PUT a=v@2", "2:PUT a=v@2",
    "0:PUT b=v@3", "1:PUT b=v@3", "2:PUT b=v@3", "3:PUT b=v@3",
    "0:PUT c=v@4", "1:PUT c=v@4",
    "0:PUT \0=v@5", "4:PUT \0=v@5",
  ]);
});

test("live: one response per revision with header = that revision; a txn is never split", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), rangeEnd: b("z") }));
  stream.take();
  put(t, store, hub, "a", "1");
  put(t, store, hub, "b", "1");
  del(t, store, hub, "a", "c");
  const responses = stream.take();
  t.deepEqual(responses.map((r) => [r.headerRevision, ev(r.events)]), [
    [2, ["PUT a=1@2"]], [3, ["PUT b=1@3"]], [4, ["DELETE a@4", "DELETE b@4"]],
  ]);
});

test("filters drop events and a response left empty is not sent; prev_kv only when asked", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), filters: ["NOPUT"], prevKv: true }));
  stream.create(create({ key: b("a"), filters: ["NODELETE"] }));
  stream.take();
  put(t, store, hub, "a", "1");
  put(t, store, hub, "a", "2");
  del(t, store, hub, "a");
  t.deepEqual(stream.take().map((r) => `${r.watchId}:${ev(r.events).join(",")}`), [
    "1:PUT a=1@2", "1:PUT a=2@3", "0:DELETE a@4<2",
  ]);
});

test("start_revision: 0 is current+1, <= current replays inclusive, > current waits", (t) => {
  const { store, hub } = setup();
  put(t, store, hub, "a", "1");
  put(t, store, hub, "a", "2");
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 2, prevKv: true }));
  stream.create(create({ key: b("a") }));
  stream.create(create({ key: b("a"), startRevision: 5, progressNotify: true }));
  t.deepEqual(stream.take().map(line), [
    "0@3:", "0@3:PUT a=1@2,PUT a=2@3<1", "1@3:", "2@3:",
  ]);
  put(t, store, hub, "a", "3");
  put(t, store, hub, "a", "4");
  t.deepEqual(stream.take().map(line), [
    "0@4:PUT a=3@4<2", "1@4:PUT a=3@4", "0@5:PUT a=4@5<3", "1@5:PUT a=4@5", "2@5:PUT a=4@5",
  ]);
});

test("replay after created: history inclusive with header = current on the final batch", (t) => {
  const { store, hub } = setup();
  put(t, store, hub, "a", "1");
  put(t, store, hub, "a", "2");
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 2, prevKv: true }));
  const responses = stream.take();
  t.is(responses.length, 2);
  t.deepEqual(responses[0], watchResponse({ watchId: 0, headerRevision: 3, created: true }));
  t.is(responses[1]?.headerRevision, 3);
  t.deepEqual(ev(responses[1]?.events ?? []), ["PUT a=1@2", "PUT a=2@3<1"]);
});

test("replay batches: 1000 revisions each, header = last event revision unless final", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 2500; i += 1) put(t, store, hub, i % 2 === 0 ? "a" : "b", String(i));
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 1 }));
  const responses = stream.take().slice(1);
  t.is(store.revision, 2501);
  // Revisions 2..1001, 1002..2001, 2002..2501 (1 has no write); "a" is written at even revisions.
  t.deepEqual(responses.map((r) => [r.headerRevision, r.events.length]), [
    [1000, 500], [2000, 500], [2501, 250],
  ]);
  t.is(responses[0]?.events.at(-1)?.kv.modRevision, revision(1000));
});

test("start below the compaction revision: created, then canceled with compact_revision", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 5; i += 1) put(t, store, hub, "a", String(i));
  must(t, store.compact({ revision: revision(4), physical: false }));
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 3 }));
  t.deepEqual(stream.take(), [
    watchResponse({ watchId: 0, headerRevision: 6, created: true }),
    watchResponse({ watchId: 0, headerRevision: 0, canceled: true, compactRevision: 4 }),
  ]);
  t.deepEqual(stream.watchIds, []);
  put(t, store, hub, "a", "x");
  t.deepEqual(stream.take(), []);
});

test("a compaction-canceled id stays taken until the client cancels it (as etcd 3.4)", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 5; i += 1) put(t, store, hub, "a", String(i));
  must(t, store.compact({ revision: revision(4), physical: false }));
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 3 }));
  stream.take();
  stream.create(create({ key: b("a"), watchId: 0 }));
  stream.create(create({ key: b("b"), watchId: 0 }));
  t.deepEqual(stream.take().map((r) => [r.watchId, r.created, r.canceled]), [
    [1, true, false], [2, true, false],
  ], "auto IDs skip the compacted one");
  stream.cancel(0);
  t.deepEqual(stream.take(), [watchResponse({ watchId: 0, headerRevision: 6, canceled: true })]);
  stream.cancel(0);
  t.deepEqual(stream.take(), [], "a second cancel of it is silent");
});

test("a create reusing a compaction-canceled id is refused as a duplicate", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 5; i += 1) put(t, store, hub, "a", String(i));
  must(t, store.compact({ revision: revision(4), physical: false }));
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 3, watchId: 7 }));
  stream.take();
  stream.create(create({ key: b("a"), watchId: 7 }));
  t.deepEqual(stream.take().map((r) => [r.watchId, r.canceled, r.cancelReason]), [
    [-1, true, cancelReasonDuplicateId],
  ]);
});

test("cancel: a known id is answered once and then silent; an unknown id gets nothing", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b("a") }));
  put(t, store, hub, "a", "1");
  stream.cancel(0);
  stream.cancel(0);
  stream.cancel(42);
  put(t, store, hub, "a", "2");
  const responses = stream.take();
  t.deepEqual(responses.map((r) => [r.watchId, r.canceled, r.headerRevision, r.events.length]), [
    [0, false, 1, 0], [0, false, 2, 1], [0, true, 2, 0],
  ]);
});

test("progress_request answers watch_id -1 at current only when every watcher is synced", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 200; i += 1) put(t, store, hub, "a", String(i));
  const stream = hub.openStream();
  stream.requestProgress();
  t.deepEqual(stream.take(), [watchResponse({ watchId: -1, headerRevision: 201 })]);
  // 200 responses' worth of live writes for a watcher whose outbox is not drained.
  stream.create(create({ key: b("a") }));
  for (let i = 0; i < 200; i += 1) put(t, store, hub, "a", String(i));
  t.true(stream.catchingUp);
  stream.requestProgress();
  let drained: WatchResponse[] = [];
  while (stream.pending > 0) drained = [...drained, ...stream.take()];
  t.false(drained.some((r) => r.watchId === -1));
  t.is(drained.flatMap((r) => r.events).length, 200);
  t.false(stream.catchingUp);
  stream.requestProgress();
  t.deepEqual(stream.take(), [watchResponse({ watchId: -1, headerRevision: 401 })]);
});

test("progress_notify ticks only idle synced watchers that asked, once per period", (t) => {
  const store = newStore();
  const hub = new WatchHub(store, { progressNotifyMs: 1000 });
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), progressNotify: true }));
  stream.create(create({ key: b("b"), progressNotify: true }));
  stream.create(create({ key: b("c") }));
  stream.create(create({ key: b("d"), progressNotify: true, startRevision: 10 }));
  stream.take();
  hub.tick(0);
  put(t, store, hub, "a", "1");
  hub.tick(999);
  t.deepEqual(stream.take().map((r) => r.watchId), [0]);
  hub.tick(1000);
  t.deepEqual(stream.take(), [watchResponse({ watchId: 1, headerRevision: 2 })]);
  hub.tick(2000);
  t.deepEqual(stream.take(), [
    watchResponse({ watchId: 0, headerRevision: 2 }),
    watchResponse({ watchId: 1, headerRevision: 2 }),
  ]);
});

test("slow consumer: a full outbox pushes back, the watcher catches up with nothing lost", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b("a") }));
  const writes = limits.etcdWatchResponsesBufferedMax * 3;
  for (let i = 0; i < writes; i += 1) put(t, store, hub, "a", String(i));
  t.true(stream.backpressured);
  t.is(stream.pending, limits.etcdWatchResponsesBufferedMax);
  const seen: number[] = [];
  for (let round = 0; round < 20 && (stream.pending > 0 || stream.catchingUp); round += 1) {
    for (const r of stream.take(10)) seen.push(...r.events.map((e) => e.kv.modRevision));
    if (round === 3) put(t, store, hub, "a", "late");
  }
  const expected = Array.from({ length: writes + 1 }, (_, i) => i + 2);
  t.deepEqual(seen, expected);
  t.false(stream.backpressured);
});

test("fragment: only when asked, >= 2 MiB and >= 2 events; the last has fragment=false", (t) => {
  const { store, hub } = setup();
  const big = "x".repeat(600 * 1024);
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), rangeEnd: b("z"), fragment: true }));
  stream.create(create({ key: b("a"), rangeEnd: b("z") }));
  stream.take();
  const ops = ["a", "b", "c", "d", "e"].map((key) => ({
    type: "put" as const, request: putRequest({ key: b(key), value: b(big) }),
  }));
  hub.publish(must(t, store.txn({ compare: [], success: ops, failure: [] })).events);
  const responses = stream.take();
  const fragmented = responses.filter((r) => r.watchId === 0);
  t.true(fragmented.length >= 2);
  const flags = fragmented.map((_, i) => i < fragmented.length - 1);
  t.deepEqual(fragmented.map((r) => r.fragment), flags);
  t.is(fragmented.flatMap((r) => r.events).length, 5);
  t.true(fragmented.every((r) => r.headerRevision === 2));
  const whole = responses.filter((r) => r.watchId === 1);
  t.deepEqual(whole.map((r) => [r.fragment, r.events.length]), [[false, 5]]);
});

test("encodeWatchResponse gives the proto shape with int64 strings", (t) => {
  const { store, hub } = setup();
  const stream = hub.openStream();
  stream.create(create({ key: b("a") }));
  put(t, store, hub, "a", "1");
  const [created, live] = stream.take();
  t.like(encodeWatchResponse(watchResponse({ watchId: -1, canceled: true, cancelReason: "r" })), {
    watch_id: "-1", canceled: true, cancel_reason: "r", compact_revision: "0", events: [],
  });
  t.like(encodeWatchResponse(created ?? watchResponse({})), {
    header: { revision: "1" }, watch_id: "0", created: true, canceled: false, fragment: false,
  });
  t.like(encodeWatchResponse(live ?? watchResponse({})), {
    header: { revision: "2" },
    events: [{ type: "PUT", kv: { key: b("a"), value: b("1"), mod_revision: "2", version: "1" } }],
  });
});

test("catch-up is bounded per pass and resumed by sync(); closed streams leave the hub", (t) => {
  const { store, hub } = setup();
  for (let i = 0; i < 70 * limits.etcdWatchReplayRevisionsMax; i += 1) put(t, store, hub, "b", "x");
  const stream = hub.openStream();
  stream.create(create({ key: b("a"), startRevision: 1 }));
  // 70 batches with no event for "a": one pass reads 64 of them.
  t.true(stream.catchingUp);
  t.true(hub.catchingUp);
  hub.sync();
  t.false(hub.catchingUp);
  t.deepEqual(stream.take().map((r) => r.created), [true]);
  put(t, store, hub, "a", "1");
  t.deepEqual(stream.take().map(line), [`0@${store.revision}:PUT a=1@${store.revision}`]);
  const other = hub.openStream();
  t.is(hub.streamCount, 2);
  hub.closeStream(other);
  stream.close();
  t.true(stream.closed);
  put(t, store, hub, "a", "2");
  t.is(hub.streamCount, 0);
  t.deepEqual(stream.take(), []);
});
