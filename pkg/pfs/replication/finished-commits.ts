/**
 * `FinishedCommits`: one node's in-memory index of the finished commits in the coordination
 * store, kept current by a watch, so catch-up and candidacy need not list `<root>/commits/`
 * over and over (issue 6, open item 3).
 *
 * How it follows the store: it reads the prefix once, in pages at one revision R (MetaKv
 * `readPrefix`), then watches the prefix from R + 1 on a watch stream of its own, so no change
 * is missed or applied twice. Its `revision` is the store revision its view is complete up to:
 * R after a load, the revision of the last event applied (all the events of one revision come
 * in one response: we never ask for fragments), or the revision a progress response reports
 * (etcd answers a `progress_request` only once every watcher of the stream is synced, so every
 * event at or below that revision came before it). A watch that fails, ends, is canceled or
 * starts on a compacted revision is dropped and the index reloads (after
 * `finishedIndexReloadPauseMs`, again until it succeeds or closes); meanwhile it keeps its last
 * view and `revision`, which stay true statements about the past.
 *
 * Which shards a finished commit touches: all of them. A finish seals the commit on every
 * shard's master (commit-resolver.ts `sealAll`), an empty part included, and only then marks it
 * finished; so the finished commits of shard s are all finished commits. `finishedOf(shard)`
 * keeps the per-shard question in one place should a commit ever touch fewer.
 *
 * `waitForRevision(N)` resolves once `revision ≥ N`, asking the server for progress every
 * `finishedIndexProgressPollMs` (an idle prefix sends no events), and fails UNAVAILABLE after
 * `finishedIndexWaitMs`. With `currentRevision()` (a linearizable read) it gives a view at
 * least as new as any point a caller has passed: read the revision, wait, then look.
 * This leans on the server ordering a requested progress response after every event at or
 * below its revision: pfsd's member does (pkg/etcdserver/watch/watch-stream.ts answers only
 * while every watcher of the stream is synced, through the same outbox as the events); etcd
 * releases before the fix of etcd-io/etcd#15220 (PR #15237), Debian's 3.4.23 among them, could
 * send it ahead of pending events. So a check that decides safety does not rest on it:
 * `finishedSince(eventRevision)` reads (linearizably, filtered by mod revision, so only the
 * recent records cross the wire) every finished commit written after the last revision the
 * index reached through events or a load, which no progress response can have overtaken.
 *
 * Memory: one string `<repo>/<id>` (at most 63 + 1 + 32 characters) per finished commit, about
 * 100 to 200 bytes with the set's overhead, bounded by `finishedCommitsIndexedMax`. A store with
 * more is an operating error: the load fails LIMIT_EXCEEDED (logged, retried like any failed
 * load) and the index is not `ready`, so nothing acts on a partial view.
 *
 * Invariants: the view only ever reflects a prefix of the store's history (revision order);
 * a commit record that does not decode is counted in `unreadable` (its commit may be finished,
 * so callers that decide safety must treat a non-zero count as "do not know").
 */
import type { Etcd3, IDuplexStream, IKeyValue, IWatchRequest, IWatchResponse } from "etcd3";
import {
  type Clock, LimitError, type Logger, PfsError, type Revision, type Timer, assert, revision,
} from "../../common/index.js";
import { decodeCommitInfo } from "../meta/index.js";
import { MetaKv, prefixEnd, wireRevision } from "../meta/meta-kv.js";
import type { ShardCommit } from "../shard/shard-api.js";
import {
  finishedCommitsIndexedMax, finishedIndexProgressPollMs, finishedIndexReloadPauseMs,
  finishedIndexWaitMs,
} from "./limits.js";

/**
 * A change of the index, as its listeners hear it. Replaying "added" and "removed" from an
 * empty set gives the view at every point: a load reports its difference from the view before
 * it (everything, the first time) as such changes, then "reloaded".
 */
export type FinishedChange =
  | { readonly kind: "added"; readonly commit: ShardCommit }
  | { readonly kind: "removed"; readonly commit: ShardCommit }
  /** The index was read afresh (its difference from the view before came just before). */
  | { readonly kind: "reloaded" };

export interface FinishedCommitsOptions {
  readonly client: Etcd3;
  /** The metadata root (`/pfs`): the index follows `<root>/commits/`. */
  readonly root: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** A caller of `waitForRevision` still waiting. */
interface Waiter {
  readonly target: Revision;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The watch stream of one load, with the revision it starts after. */
interface Follow {
  readonly stream: IDuplexStream<IWatchRequest, IWatchResponse>;
  dropped: boolean;
}

function keyOf(commit: ShardCommit): string {
  return `${commit.repo}/${commit.id}`;
}

function commitOfKey(key: string): ShardCommit {
  const slash = key.indexOf("/");
  assert(slash > 0, () => `index key ${key} has no repo`);
  return { repo: key.slice(0, slash), id: key.slice(slash + 1) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class FinishedCommits {
  readonly #options: FinishedCommitsOptions;
  readonly #kv: MetaKv;
  readonly #prefix: string;
  /** `<repo>/<id>` of every finished commit as of `#revision`. */
  #finished = new Set<string>();
  /** Store keys of commit records that did not decode, as of `#revision`. */
  readonly #unreadable = new Set<string>();
  #revision: Revision = revision(0);
  /** The revision the view is complete up to by a load and events alone (no progress). */
  #eventRevision: Revision = revision(0);
  #ready = false;
  #started = false;
  #closed = false;
  #follow: Follow | undefined;
  #reloadTimer: Timer | undefined;
  #pollTimer: Timer | undefined;
  #loading: Promise<void> | undefined;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<(change: FinishedChange) => void>();

  constructor(options: FinishedCommitsOptions) {
    this.#options = options;
    this.#kv = new MetaKv(options.client);
    this.#prefix = `${options.root}/commits/`;
  }

  /**
   * Loads the index and starts following. Rejects UNAVAILABLE (or LIMIT_EXCEEDED) when the
   * first load fails; the index then keeps retrying by itself until it loads or closes.
   */
  async start(): Promise<void> {
    assert(!this.#started, "finished-commit index started twice");
    this.#started = true;
    try {
      await this.#reload();
    } catch (error: unknown) {
      if (!this.#closed && this.#reloadTimer === undefined) this.#scheduleReload();
      throw error;
    }
  }

  /** True once a load succeeded (the view is complete up to `revision`). */
  get ready(): boolean {
    return this.#ready;
  }

 /**
   * The store revision the view is complete up to through its load and the events applied
   * since, never through a progress response: ≤ `revision`.
   */
  get eventRevision(): Revision {
    return this.#eventRevision;
  }

  /**
   * Every commit finished in the store now whose record was written after `after` (a
   * linearizable range of the prefix filtered by mod revision), or undefined when such a
   * record does not decode (then nobody can tell). Commits deleted since are not reported.
   */
  async finishedSince(after: Revision): Promise<ShardCommit[] | undefined> {
    let kvs: readonly IKeyValue[];
    try {
      kvs = (await this.#options.client.getAll().prefix(this.#prefix)
        .minModRevision(String(after + 1)).exec()).kvs;
    } catch (error: unknown) {
      throw new PfsError("UNAVAILABLE", `metadata store: read recent commits: ${messageOf(error)}`);
    }
    const finished: ShardCommit[] = [];
    for (const kv of kvs) {
      try {
        const info = decodeCommitInfo(kv.key.toString("utf8"), kv.value);
        if (info.state === "finished") finished.push({ repo: info.repo, id: info.id });
      } catch {
        return undefined;
      }
    }
    return finished;
  }

  /** The store revision the view is complete up to (0 before the first load). */
  get revision(): Revision {
    return this.#revision;
  }

  /** Finished commits known. */
  get size(): number {
    return this.#finished.size;
  }

  /** Commit records that did not decode (their commit may or may not be finished). */
  get unreadable(): number {
    return this.#unreadable.size;
  }

  /** True when `commit` is finished as of `revision`. */
  has(commit: ShardCommit): boolean {
    return this.#finished.has(keyOf(commit));
  }

  /** The finished commits of `shard` (every finished commit: see the module comment). */
  *finishedOf(shard: number): Generator<ShardCommit> {
    assert(Number.isSafeInteger(shard) && shard >= 0, () => `shard ${shard} is not an index`);
    for (const key of this.#finished) yield commitOfKey(key);
  }

  /** Calls `listener` after each change of the view; returns the function that removes it. */
  onChange(listener: (change: FinishedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** The store's current revision (a cheap linearizable read); UNAVAILABLE when unreachable. */
  async currentRevision(): Promise<Revision> {
    const key = Buffer.from(`${this.#options.root}/config`);
    try {
      const response = await this.#options.client.kv.range({ key, count_only: true });
      return wireRevision(response.header.revision);
    } catch (error: unknown) {
      throw new PfsError("UNAVAILABLE", `metadata store: read revision: ${messageOf(error)}`);
    }
  }

  /**
   * Resolves once the view is complete up to at least `target`. Rejects UNAVAILABLE after
   * `finishedIndexWaitMs` (the watch cannot keep up or the store is unreachable) or when the
   * index closes, and with the signal's reason when `signal` aborts.
   */
  waitForRevision(target: Revision, signal?: AbortSignal): Promise<void> {
    if (this.#ready && this.#revision >= target) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise<void>((resolve, reject) => {
      const timer = this.#options.clock.setTimer(finishedIndexWaitMs, () => {
        waiter.reject(new PfsError("UNAVAILABLE", `the finished-commit index reached revision ` +
          `${this.#revision}, not ${target}, within ${finishedIndexWaitMs} ms`));
      });
      const finish = (): void => {
        this.#waiters.delete(waiter);
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        target,
        resolve: () => { finish(); resolve(); },
        reject: (error) => { finish(); reject(error); },
      };
      const onAbort = (): void => {
        const reason: unknown = signal?.reason;
        waiter.reject(reason instanceof Error ? reason : new Error("aborted"));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
      this.#requestProgress();
    });
  }

  /** Stops following; pending waits fail UNAVAILABLE. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#reloadTimer?.cancel();
    this.#pollTimer?.cancel();
    this.#drop();
    for (const waiter of [...this.#waiters]) waiter.reject(this.#closedError());
    this.#listeners.clear();
    await this.#loading?.catch(() => undefined);
    this.#drop();
  }

  #closedError(): PfsError {
    return new PfsError("UNAVAILABLE", "the finished-commit index is closed");
  }

  // ---- loading -----------------------------------------------------------------------

  /** Reads the prefix afresh and follows it from there (one load at a time). */
  async #reload(): Promise<void> {
    this.#loading ??= this.#load().finally(() => { this.#loading = undefined; });
    await this.#loading;
  }

  async #load(): Promise<void> {
    this.#drop();
    const { entries, revision: readAt } = await this.#kv.readPrefix(this.#prefix);
    const finished = new Set<string>();
    this.#unreadable.clear();
    for (const entry of entries) {
      const key = this.#decode(entry.key, entry.value);
      if (key !== undefined) finished.add(key);
      if (finished.size > finishedCommitsIndexedMax) {
        throw new LimitError("finishedCommitsIndexedMax", finishedCommitsIndexedMax,
          finished.size);
      }
    }
    if (this.#closed) return;
    const previous = this.#finished;
    this.#finished = finished;
    this.#revision = readAt;
    this.#eventRevision = readAt;
    this.#ready = true;
    for (const key of previous) {
      if (!finished.has(key)) this.#notify({ kind: "removed", commit: commitOfKey(key) });
    }
    for (const key of finished) {
      if (!previous.has(key)) this.#notify({ kind: "added", commit: commitOfKey(key) });
    }
    this.#notify({ kind: "reloaded" });
    await this.#startFollowing(readAt);
    this.#settleWaiters();
  }

  /** The index key of a finished commit's record, or undefined (not finished, unreadable). */
  #decode(storeKey: string, value: Buffer): string | undefined {
    try {
      const info = decodeCommitInfo(storeKey, value);
      this.#unreadable.delete(storeKey);
      return info.state === "finished" ? keyOf({ repo: info.repo, id: info.id })
        : undefined;
    } catch (error: unknown) {
      if (!this.#unreadable.has(storeKey)) {
        this.#options.logger.error("a commit record does not decode; replicas cannot be " +
          "proven up to date while it stays", { key: storeKey, error });
      }
      this.#unreadable.add(storeKey);
      return undefined;
    }
  }

  async #startFollowing(after: Revision): Promise<void> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.#options.client.watchClient.watch();
    } catch (error: unknown) {
      this.#failed(`cannot open a watch stream: ${messageOf(error)}`);
      return;
    }
    const follow: Follow = { stream, dropped: false };
    if (this.#closed) {
      stream.cancel();
      return;
    }
    this.#follow = follow;
    stream.on("data", (response) => { this.#onResponse(follow, response); });
    stream.on("error", (error) => { this.#onStreamEnd(follow, messageOf(error)); });
    stream.on("end", () => { this.#onStreamEnd(follow, "the stream ended"); });
    stream.write({ create_request: {
      key: Buffer.from(this.#prefix), range_end: prefixEnd(this.#prefix),
      start_revision: String(after + 1),
    } });
  }

  /** Cancels the current watch stream, if any. */
  #drop(): void {
    const follow = this.#follow;
    this.#follow = undefined;
    if (follow === undefined || follow.dropped) return;
    follow.dropped = true;
    follow.stream.cancel();
  }

  /** The watch is lost: keep the view, reload after a pause (again until it works). */
  #failed(why: string): void {
    this.#drop();
    if (this.#closed || this.#reloadTimer !== undefined) return;
    this.#options.logger.warn("finished-commit index lost its watch; reloading",
      { prefix: this.#prefix, why });
    this.#scheduleReload();
  }

  #scheduleReload(): void {
    this.#reloadTimer = this.#options.clock.setTimer(finishedIndexReloadPauseMs, () => {
      this.#reloadTimer = undefined;
      if (this.#closed) return;
      this.#reload().catch((error: unknown) => {
        this.#options.logger.warn("finished-commit index cannot reload; retrying",
          { prefix: this.#prefix, error });
        if (!this.#closed && this.#reloadTimer === undefined) this.#scheduleReload();
      });
    });
  }

  #onStreamEnd(follow: Follow, why: string): void {
    if (follow.dropped || follow !== this.#follow) return;
    this.#failed(why);
  }

  // ---- following ---------------------------------------------------------------------

  #onResponse(follow: Follow, response: IWatchResponse): void {
    if (follow.dropped || follow !== this.#follow) return;
    if (response.canceled || response.compact_revision !== "0" && response.compact_revision !== "") {
      this.#failed(`watch canceled (compacted to ${response.compact_revision}: ` +
        `${response.cancel_reason})`);
      return;
    }
    if (response.created) return;
    if (response.events.length === 0) {
      // A progress response: every event at or below its revision came before it.
      this.#advance(wireRevision(response.header.revision));
      return;
    }
    let last = this.#revision;
    for (const event of response.events) {
      this.#apply(event.type, event.kv);
      const at = wireRevision(event.kv.mod_revision);
      if (at > last) last = at;
    }
    if (last > this.#eventRevision) this.#eventRevision = last;
    this.#advance(last);
  }

  #apply(type: string, kv: IKeyValue): void {
    const storeKey = kv.key.toString("utf8");
    if (!storeKey.startsWith(this.#prefix)) return;
    const key = type === "Put" ? this.#decode(storeKey, kv.value) : undefined;
    if (type !== "Put") this.#unreadable.delete(storeKey);
    const known = this.#knownKeyOf(storeKey);
    if (key !== undefined) {
      if (this.#finished.has(key)) return;
      if (this.#finished.size >= finishedCommitsIndexedMax) {
        this.#failed(`${finishedCommitsIndexedMax} finished commits indexed (the limit)`);
        this.#ready = false;
        return;
      }
      this.#finished.add(key);
      this.#notify({ kind: "added", commit: commitOfKey(key) });
    } else if (known !== undefined && this.#finished.delete(known)) {
      this.#notify({ kind: "removed", commit: commitOfKey(known) });
    }
  }

  /** `<repo>/<id>` of a store key `<prefix><repo>/<id>` (the key names its commit). */
  #knownKeyOf(storeKey: string): string | undefined {
    const rest = storeKey.slice(this.#prefix.length);
    return rest.includes("/") ? rest : undefined;
  }

  #advance(to: Revision): void {
    if (to > this.#revision) this.#revision = to;
    this.#settleWaiters();
  }

  #settleWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      if (this.#ready && this.#revision >= waiter.target) waiter.resolve();
    }
    if (this.#waiters.size === 0) {
      this.#pollTimer?.cancel();
      this.#pollTimer = undefined;
    }
  }

  /** Asks for a progress response now and every poll interval while somebody waits. */
  #requestProgress(): void {
    const follow = this.#follow;
    if (follow !== undefined && !follow.dropped) {
      try {
        follow.stream.write({ progress_request: {} });
      } catch (error: unknown) {
        this.#failed(`cannot request progress: ${messageOf(error)}`);
      }
    }
    if (this.#pollTimer !== undefined || this.#closed) return;
    this.#pollTimer = this.#options.clock.setTimer(finishedIndexProgressPollMs, () => {
      this.#pollTimer = undefined;
      if (this.#waiters.size > 0) this.#requestProgress();
    });
  }

  #notify(change: FinishedChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error: unknown) {
        this.#options.logger.error("a finished-commit listener threw", { error });
      }
    }
  }
}
