/**
 * Waiting on commits through etcd watches (no polling). Both functions first read, then watch
 * from the revision just after that read, so a change that lands between the read and the
 * watch is still seen, once.
 *
 * - `waitFinalCommit`: resolves with the commit once it is finished or failed.
 * - `subscribeFinishedCommits`: yields a branch's finished history (oldest first), then every
 *   commit started on the branch as it becomes finished. A commit becomes finished once
 *   (finished is final), so each one is yielded exactly once: history holds those finished at
 *   or before revision R, the watch those finished after R.
 */
import type { IKeyValue, Watcher } from "etcd3";
import { LimitError, PfsError, type Revision } from "../../common/index.js";
import type { CommitInfo } from "../model.js";
import type { MetaKeys } from "./keys.js";
import { metaSubscribeQueueMax } from "./limits.js";
import type { MetaKv } from "./meta-kv.js";
import { decodeCommitInfo } from "./records.js";

function isFinal(commit: CommitInfo): boolean {
  return commit.state === "finished" || commit.state === "failed";
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("aborted");
}

function watchFailure(error: unknown): PfsError {
  if (error instanceof PfsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PfsError("UNAVAILABLE", `metadata store: watch: ${message}`);
}

async function openWatch(kv: MetaKv, from: Revision, what: { key: string } | { prefix: string }):
  Promise<Watcher> {
  const builder = kv.client.watch();
  if ("key" in what) builder.key(what.key);
  else builder.prefix(what.prefix);
  try {
    return await builder.startRevision(String(from + 1)).create();
  } catch (error: unknown) {
    throw watchFailure(error);
  }
}

/**
 * Resolves with the commit at `key` once it is finished or failed. NOT_FOUND if it does not
 * exist or is deleted meanwhile; rejects with the signal's reason when `signal` aborts.
 */
export async function waitFinalCommit(kv: MetaKv, key: string, signal?: AbortSignal):
  Promise<CommitInfo> {
  const snapshot = await kv.read([key]);
  const state = snapshot.get(key);
  const notFound = (): PfsError => new PfsError("NOT_FOUND", `commit ${key} not found`, { key });
  if (state.value === undefined) throw notFound();
  const commit = decodeCommitInfo(key, state.value);
  if (isFinal(commit)) return commit;
  if (signal?.aborted === true) throw abortError(signal);
  const watcher = await openWatch(kv, snapshot.revision, { key });
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<CommitInfo>((resolve, reject) => {
      watcher.on("put", (changed: IKeyValue) => {
        try {
          const next = decodeCommitInfo(key, changed.value);
          if (isFinal(next)) resolve(next);
        } catch (error: unknown) {
          reject(watchFailure(error));
        }
      });
      watcher.on("delete", () => { reject(notFound()); });
      watcher.on("error", (error: unknown) => { reject(watchFailure(error)); });
      if (signal !== undefined) {
        onAbort = (): void => { reject(abortError(signal)); };
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    await watcher.cancel();
  }
}

/** What `subscribeFinishedCommits` needs. */
export interface SubscribeArgs {
  readonly kv: MetaKv;
  readonly keys: MetaKeys;
  readonly repo: string;
  readonly branch: string;
  readonly signal?: AbortSignal;
  /** The branch's finished history, oldest first, and the revision it was read at. */
  readonly history: () => Promise<{ commits: readonly CommitInfo[]; revision: Revision }>;
}

/** The watch's side of a subscription: finished commits not yet yielded, or why it stopped. */
class FinishedQueue {
  readonly items: CommitInfo[] = [];
  failure: PfsError | undefined;
  #wake: (() => void) | undefined;

  constructor(readonly branch: string) {}

  onPut(key: string, kv: IKeyValue): void {
    try {
      const commit = decodeCommitInfo(key, kv.value);
      if (commit.state !== "finished" || commit.branch !== this.branch) return;
      if (this.items.length >= metaSubscribeQueueMax) {
        this.failure ??= new LimitError("metaSubscribeQueueMax", metaSubscribeQueueMax,
          this.items.length + 1);
      } else {
        this.items.push(commit);
      }
    } catch (error: unknown) {
      this.failure ??= watchFailure(error);
    }
    this.wake();
  }

  fail(error: unknown): void {
    this.failure ??= watchFailure(error);
    this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves at the next wake(). */
  changed(): Promise<void> {
    return new Promise((resolve) => { this.#wake = resolve; });
  }
}

/**
 * Yields the finished history of `repo@branch`, then each commit started on it as it
 * finishes. Ends when `signal` aborts or the consumer stops; throws LIMIT_EXCEEDED when
 * metaSubscribeQueueMax commits wait unread, UNAVAILABLE when the watch fails.
 */
export async function* subscribeFinishedCommits(args: SubscribeArgs): AsyncGenerator<CommitInfo> {
  const { signal } = args;
  const history = await args.history();
  const prefix = args.keys.commitsPrefix(args.repo);
  const watcher = await openWatch(args.kv, history.revision, { prefix });
  const queue = new FinishedQueue(args.branch);
  const onAbort = (): void => { queue.wake(); };
  watcher.on("put", (kv: IKeyValue) => { queue.onPut(kv.key.toString("utf8"), kv); });
  watcher.on("error", (error: unknown) => { queue.fail(error); });
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (const commit of history.commits) {
      if (signal?.aborted === true) return;
      yield commit;
    }
    for (;;) {
      if (signal?.aborted === true) return;
      if (queue.failure !== undefined) throw queue.failure;
      const next = queue.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      await queue.changed();
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await watcher.cancel();
  }
}
