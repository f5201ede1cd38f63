/**
 * A live copy of every key under one etcd prefix: read once, then kept current by a watch
 * that starts at the revision right after that read, so no change is missed or applied
 * twice. Values are kept as UTF-8 strings keyed by the suffix after the prefix.
 *
 * Invariant: after `start()` resolves, `entries` reflects every change up to at least the
 * read's revision, and later changes arrive in revision order. `close()` cancels the watch.
 */
import type { Etcd3, Watcher } from "etcd3";
import { PfsError, type Logger, assert } from "../../common/index.js";

export class PrefixCache {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #entries = new Map<string, string>();
  readonly #listeners = new Set<() => void>();
  #watcher: Watcher | undefined;

  constructor(client: Etcd3, prefix: string, logger: Logger) {
    assert(prefix.endsWith("/"), () => `prefix ${prefix} must end with "/"`);
    this.#client = client;
    this.#prefix = prefix;
    this.#logger = logger;
  }

  /** Reads the prefix and starts the watch; UNAVAILABLE when the store cannot be reached. */
  async start(): Promise<void> {
    assert(this.#watcher === undefined, "prefix cache started twice");
    let revision: string;
    try {
      const response = await this.#client.getAll().prefix(this.#prefix).exec();
      for (const kv of response.kvs) this.#set(kv.key.toString("utf8"), kv.value.toString("utf8"));
      revision = (BigInt(response.header.revision) + 1n).toString();
      this.#watcher = await this.#client.watch().prefix(this.#prefix).startRevision(revision)
        .create();
    } catch (error: unknown) {
      throw new PfsError("UNAVAILABLE", `cannot read ${this.#prefix} from the coordination ` +
        `store: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#watcher.on("put", (kv) => {
      this.#set(kv.key.toString("utf8"), kv.value.toString("utf8"));
      this.#notify();
    });
    this.#watcher.on("delete", (kv) => {
      this.#entries.delete(kv.key.toString("utf8").slice(this.#prefix.length));
      this.#notify();
    });
    this.#watcher.on("error", (error: unknown) => {
      this.#logger.warn("watch error (the client re-establishes it)", { prefix: this.#prefix, error });
    });
  }

  #set(key: string, value: string): void {
    assert(key.startsWith(this.#prefix), () => `${key} outside ${this.#prefix}`);
    this.#entries.set(key.slice(this.#prefix.length), value);
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** The current entries: key suffix → value. */
  get entries(): ReadonlyMap<string, string> {
    return this.#entries;
  }

  /** Records a value this process has just written (the watch will confirm it). */
  learn(suffix: string, value: string): void {
    this.#entries.set(suffix, value);
  }

  /** Calls `listener` after each change; returns the function that removes it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  async close(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    this.#listeners.clear();
    if (watcher !== undefined) await watcher.cancel();
  }
}
