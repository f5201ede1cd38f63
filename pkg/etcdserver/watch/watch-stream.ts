/**
 * One client Watch stream (etcd-api.md §6): its watchers, keyed by watch ID, and a bounded
 * outbox of responses in the order the client must see them. Transport-independent: the gRPC
 * service feeds it requests, drains `take()`, and stops reading the client while
 * `backpressured` (STYLE rule 14). Live writes come through its `WatchHub`.
 *
 * Ordering contract, per watch ID: the created response first; then events in ascending
 * revision, each revision whole (unless fragmenting), never twice, with no gaps; after a
 * cancel (client or compaction) nothing more. A watcher whose live response finds the outbox
 * full becomes unsynced and later catches up from history, so no event is ever dropped.
 *
 * header.revision: live responses carry their write's revision. History replay sends batches
 * of up to 1000 revisions; a batch that does not reach the current revision carries its last
 * event's revision (etcd3 resumes at header.revision + 1, §13); the final batch carries the
 * current revision, as etcd does, which is safe because the watcher is synced after it, so
 * every later event is above it.
 */
import { assert, limits } from "../../common/index.js";
import type { MvccEvent } from "../mvcc/index.js";
import { fragmentEvents } from "./fragments.js";
import { selectEvents, watchRange } from "./watch-range.js";
import {
  type WatchCreateRequest,
  type WatchResponse,
  type WatchSource,
  cancelReasonDuplicateId,
  cancelReasonEmptyRange,
  watchResponse,
} from "./watch-types.js";
import type { Watcher } from "./watcher.js";

const {
  etcdWatchResponsesBufferedMax,
  etcdWatchOutboxResponsesMax,
  etcdWatchReplayRevisionsMax,
  etcdWatchCatchUpReadsMax,
} = limits;

export class WatchStream {
  readonly #source: WatchSource;
  readonly #watchers = new Map<number, Watcher>();
  /**
   * IDs of watchers canceled because their start was compacted: etcd keeps such an ID taken
   * (a create with it is a duplicate, auto IDs skip it) until the client cancels it, and
   * answers that cancel.
   */
  readonly #compactedIds = new Set<number>();
  #outbox: WatchResponse[] = [];
  #nextId = 0;
  #closed = false;

  /** Use `WatchHub.openStream`, which also routes live writes to the stream. */
  constructor(source: WatchSource) {
    this.#source = source;
  }

  /**
   * True while the outbox holds etcdWatchResponsesBufferedMax responses or more: the service
   * must stop reading requests from the client until `take()` makes room.
   */
  get backpressured(): boolean {
    return this.#outbox.length >= etcdWatchResponsesBufferedMax;
  }

  /** Responses waiting in the outbox. */
  get pending(): number {
    return this.#outbox.length;
  }

  /** Whether some watcher still has history to read (call `take()` or `WatchHub.sync()`). */
  get catchingUp(): boolean {
    for (const watcher of this.#watchers.values()) if (!watcher.synced) return true;
    return false;
  }

  /** Watchers open on this stream. */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** The watch IDs in use. */
  get watchIds(): number[] {
    return [...this.#watchers.keys()];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * create_request: answers created (or created+canceled with watch_id -1 and etcd's reason
   * when the range is empty or a non-zero ID is in use), then replays history if asked.
   */
  create(request: WatchCreateRequest): void {
    assert(!this.#closed, "create on a closed watch stream");
    const current = this.#source.revision;
    const range = watchRange(request.key, request.rangeEnd);
    if (range === null) {
      this.#failCreate(current, cancelReasonEmptyRange);
      return;
    }
    if (request.watchId !== 0 && this.#taken(request.watchId)) {
      this.#failCreate(current, cancelReasonDuplicateId);
      return;
    }
    const id = request.watchId !== 0 ? request.watchId : this.#autoId();
    const start = request.startRevision === 0 ? current + 1 : request.startRevision;
    assert(start >= 1, () => `watch start revision ${start} < 1`);
    this.#watchers.set(id, {
      id, range, filters: [...request.filters], prevKv: request.prevKv,
      fragment: request.fragment, progressNotify: request.progressNotify,
      nextRevision: start, synced: start > current, sentSinceTick: false,
    });
    this.#pushControl(watchResponse({ watchId: id, headerRevision: current, created: true }));
    this.catchUp();
  }

  /** cancel_request: a known ID is answered canceled and then silent; an unknown one not. */
  cancel(watchId: number): void {
    assert(!this.#closed, "cancel on a closed watch stream");
    const compacted = this.#compactedIds.delete(watchId);
    if (!this.#watchers.delete(watchId) && !compacted) return;
    const current = this.#source.revision;
    this.#pushControl(watchResponse({ watchId, headerRevision: current, canceled: true }));
  }

  /**
   * progress_request: `{watch_id -1, header.revision current}` only when every watcher is
   * synced (etcd 3.5), so that every later event is above it; otherwise nothing.
   */
  requestProgress(): void {
    assert(!this.#closed, "progress request on a closed watch stream");
    if (this.catchingUp) return;
    this.#pushControl(watchResponse({ watchId: -1, headerRevision: this.#source.revision }));
  }

  /**
   * Removes and returns up to `max` responses in order, then lets unsynced watchers catch up
   * into the room made.
   */
  take(max: number = etcdWatchOutboxResponsesMax): WatchResponse[] {
    assert(max >= 1, "take at least one response");
    const taken = this.#outbox.slice(0, max);
    this.#outbox = this.#outbox.slice(taken.length);
    if (!this.#closed) this.catchUp();
    return taken;
  }

  /** Ends the stream: forgets its watchers and outbox. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#watchers.clear();
    this.#compactedIds.clear();
    this.#outbox = [];
  }

  /**
   * Live delivery of one applied write's events (all of one revision) to synced watchers;
   * called by the hub for every write that changed something, in revision order.
   */
  publish(writeRevision: number, events: readonly MvccEvent[]): void {
    if (this.#closed) return;
    for (const watcher of this.#watchers.values()) {
      if (!watcher.synced || writeRevision < watcher.nextRevision) continue;
      assert(writeRevision === watcher.nextRevision, () =>
        `watch ${watcher.id} synced at ${watcher.nextRevision} got revision ${writeRevision}`);
      const selected = selectEvents(watcher, events);
      if (selected.length === 0) {
        watcher.nextRevision = writeRevision + 1;
      } else if (this.backpressured) {
        watcher.synced = false;
      } else {
        watcher.nextRevision = writeRevision + 1;
        this.#pushEvents(watcher, writeRevision, selected);
      }
    }
  }

  /**
   * The source's store was replaced by a snapshot (see `WatchHub.restored`): every watcher
   * whose next revision the restored store already holds goes back to reading history, so it
   * gets the skipped revisions from there, from exactly its next revision (none twice, none
   * missed). The reads happen later, in `catchUp`, at the stream's pace.
   */
  restored(): void {
    if (this.#closed) return;
    const current = this.#source.revision;
    for (const watcher of this.#watchers.values()) {
      if (watcher.nextRevision <= current) watcher.synced = false;
    }
  }

  /** Progress notification pass: idle synced watchers that asked for it get one. */
  progressTick(): void {
    if (this.#closed) return;
    const current = this.#source.revision;
    for (const watcher of this.#watchers.values()) {
      const idle = watcher.synced && !watcher.sentSinceTick && watcher.nextRevision <= current + 1;
      if (watcher.progressNotify && idle && !this.backpressured) {
        this.#pushControl(watchResponse({ watchId: watcher.id, headerRevision: current }));
      }
      watcher.sentSinceTick = false;
    }
  }

  /**
   * Lets unsynced watchers read history while the outbox has room, at most
   * etcdWatchCatchUpReadsMax reads per call.
   */
  catchUp(): void {
    let reads = 0;
    for (const watcher of [...this.#watchers.values()]) {
      while (!watcher.synced && reads < etcdWatchCatchUpReadsMax && !this.backpressured) {
        if (!this.#watchers.has(watcher.id)) break;
        this.#readHistory(watcher);
        reads += 1;
      }
    }
  }

  /** One history batch for `watcher`: events, a compaction cancel, or becoming synced. */
  #readHistory(watcher: Watcher): void {
    const current = this.#source.revision;
    const from = watcher.nextRevision;
    if (from > current) {
      watcher.synced = true;
      return;
    }
    const read = this.#source.events(from, etcdWatchReplayRevisionsMax, watcher.prevKv);
    if (!read.ok) {
      this.#watchers.delete(watcher.id);
      this.#compactedIds.add(watcher.id);
      const compactRevision = this.#source.compactRevision;
      this.#pushControl(watchResponse({ watchId: watcher.id, canceled: true, compactRevision }));
      return;
    }
    const groups = read.value;
    const lastGroup = groups.at(-1)?.revision ?? current;
    assert(groups.every((group) => group.revision >= from), "history below the read revision");
    const final = groups.length < etcdWatchReplayRevisionsMax || lastGroup >= current;
    const selected = groups.flatMap((group) => selectEvents(watcher, group.events));
    watcher.nextRevision = final ? current + 1 : lastGroup + 1;
    watcher.synced = final;
    const last = selected.at(-1);
    if (last === undefined) return;
    this.#pushEvents(watcher, final ? current : last.kv.modRevision, selected);
  }

  #pushEvents(watcher: Watcher, headerRevision: number, events: readonly MvccEvent[]): void {
    watcher.sentSinceTick = true;
    const groups = watcher.fragment ? fragmentEvents(events) : [events];
    groups.forEach((group, index) => {
      const fragment = index < groups.length - 1;
      const watchId = watcher.id;
      this.#outbox.push(watchResponse({ watchId, headerRevision, fragment, events: group }));
    });
  }

  #pushControl(response: WatchResponse): void {
    assert(this.#outbox.length < etcdWatchOutboxResponsesMax, () =>
      `watch outbox over ${etcdWatchOutboxResponsesMax}: the service ignored backpressure`);
    this.#outbox.push(response);
  }

  #failCreate(current: number, cancelReason: string): void {
    this.#pushControl(watchResponse({
      watchId: -1, headerRevision: current, created: true, canceled: true, cancelReason,
    }));
  }

  /** An ID is taken by a live watcher or by one canceled for compaction (etcd keeps those). */
  #taken(id: number): boolean {
    return this.#watchers.has(id) || this.#compactedIds.has(id);
  }

  #autoId(): number {
    while (this.#taken(this.#nextId)) this.#nextId += 1;
    const id = this.#nextId;
    this.#nextId += 1;
    return id;
  }
}
