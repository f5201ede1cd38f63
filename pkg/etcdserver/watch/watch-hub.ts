/**
 * The watch hub of one MVCC store: opens `WatchStream`s, fans out each applied write's events
 * to their synced watchers, and drives catch-up and progress notifications. Single-threaded
 * and synchronous: the service calls `publish` after every applied write, in revision order,
 * `restored()` after the source's store was replaced by a snapshot, `sync()` each driver cycle
 * while any stream is catching up, and `tick(nowMs)` on its clock.
 *
 * Invariant: `#lastRevision` is the revision up to which the hub has seen the source's writes,
 * either published one by one or skipped wholesale by a restore; it never decreases.
 */
import { assert, limits } from "../../common/index.js";
import type { MvccEvent } from "../mvcc/index.js";
import type { WatchSource } from "./watch-types.js";
import { WatchStream } from "./watch-stream.js";

export interface WatchHubOptions {
  /** Period of progress notifications; etcd's 10 min by default. */
  readonly progressNotifyMs?: number;
}

export class WatchHub {
  readonly #source: WatchSource;
  readonly #streams = new Set<WatchStream>();
  readonly #progressNotifyMs: number;
  #lastTickMs: number | null = null;
  #lastRevision: number;

  constructor(source: WatchSource, options: WatchHubOptions = {}) {
    this.#source = source;
    this.#progressNotifyMs = options.progressNotifyMs ?? limits.etcdWatchProgressNotifyMs;
    assert(this.#progressNotifyMs >= 1, "progress notify period < 1 ms");
    this.#lastRevision = source.revision;
  }

  /**
   * A new client stream; `closeStream` it (or `close()` it: the hub then drops it at the next
   * publish) when the client goes away.
   */
  openStream(): WatchStream {
    const stream = new WatchStream(this.#source);
    this.#streams.add(stream);
    return stream;
  }

  /** Closes `stream` and stops routing writes to it. */
  closeStream(stream: WatchStream): void {
    stream.close();
    this.#streams.delete(stream);
  }

  /** Open streams. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Watchers open on all streams (etcd_debugging_mvcc_watcher_total). */
  get watcherCount(): number {
    let count = 0;
    for (const stream of this.#streams) count += stream.watcherCount;
    return count;
  }

  /**
   * The events of one applied write (`Applied.events`, prevKv filled): all of one revision,
   * which must be the store's current one. Empty (the write changed nothing) is a no-op.
   */
  publish(events: readonly MvccEvent[]): void {
    const first = events[0];
    if (first === undefined) return;
    const writeRevision = first.kv.modRevision;
    assert(writeRevision === this.#source.revision, () =>
      `published revision ${writeRevision} is not the store's ${this.#source.revision}`);
    assert(writeRevision > this.#lastRevision, () =>
      `published revision ${writeRevision} after ${this.#lastRevision}`);
    assert(events.every((event) => event.kv.modRevision === writeRevision), "mixed revisions");
    this.#lastRevision = writeRevision;
    for (const stream of this.#streams) {
      if (stream.closed) this.#streams.delete(stream);
      else stream.publish(writeRevision, events);
    }
  }

  /**
   * The source's store was replaced wholesale by a snapshot (a follower that fell behind
   * installs its leader's state), and no events were published for the revisions it skipped.
   * As etcd does after a snapshot restore, every watcher whose next revision is at or below
   * the restored revision stops taking live writes and catches up from the restored store's
   * history (`sync()`, `take()`): in order, each revision once, from exactly its next
   * revision, or with etcd's compacted cancel when that revision was compacted away. Watchers
   * waiting above the restored revision keep waiting. The restored revision must not be
   * below one already published (Raft installs only snapshots ahead of the applied index).
   */
  restored(): void {
    const restoredRevision = this.#source.revision;
    assert(restoredRevision >= this.#lastRevision, () =>
      `restored revision ${restoredRevision} below published ${this.#lastRevision}`);
    this.#lastRevision = restoredRevision;
    for (const stream of this.#streams) {
      if (stream.closed) this.#streams.delete(stream);
      else stream.restored();
    }
  }

  /** Whether some stream has a watcher still reading history: call `sync()` again. */
  get catchingUp(): boolean {
    for (const stream of this.#streams) if (stream.catchingUp) return true;
    return false;
  }

  /** One catch-up pass over every stream (bounded per stream). */
  sync(): void {
    for (const stream of this.#streams) stream.catchUp();
  }

  /**
   * Progress notifications: the first call sets the baseline; after that, once a period has
   * passed, every stream's idle synced watchers with progress_notify get one.
   */
  tick(nowMs: number): void {
    if (this.#lastTickMs === null) {
      this.#lastTickMs = nowMs;
      return;
    }
    if (nowMs - this.#lastTickMs < this.#progressNotifyMs) return;
    this.#lastTickMs = nowMs;
    for (const stream of this.#streams) stream.progressTick();
  }
}
