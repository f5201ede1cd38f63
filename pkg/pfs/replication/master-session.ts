/**
 * `MasterSession`: one lease per node for all of its shard-master campaigns, like a session of
 * etcd's Go concurrency package shared by many elections (the `etcd3` client's own `Election`
 * grants one lease per campaign: 16 shards meant 16 keep-alive streams of a 3 s TTL per node,
 * and one slow keep-alive reset the client's channel under every one of them at once).
 *
 * The election recipe is etcd's: a candidate puts `<root>/election/<name>/<lease id in hex>` =
 * its value on the session lease if absent; the key with the lowest create revision under the
 * prefix leads; a candidate waits for the deletion of the key created just before its own, and
 * so on, until none is older. Observers (shard-master.ts `MasterObserver`, `etcdctl elect -l`)
 * see the same keys. The create revision of the key is the term's fencing token
 * (leader-term.ts). A term ends when its key is deleted (resign, or anyone) or the session's
 * lease is lost; a lost lease makes every term of the session end at once, and the next
 * campaign grants a new lease.
 *
 * `confirmedMs()` is when the store last renewed the lease (monotonic ms): what a master checks
 * before it acknowledges a write (hosted-shard.ts).
 */
import type { Etcd3, Lease } from "etcd3";
import { type Clock, type Logger, PfsError, assert } from "../../common/index.js";
import { type Fence, LeaderTerm, unavailable, watchKeyDeletion } from "./leader-term.js";
import { renewalsPerLease } from "./limits.js";

export interface MasterSessionOptions {
  /** A root client (keys are full keys). */
  readonly client: Etcd3;
  /** Key root (`/pfs`). */
  readonly root: string;
  readonly ttlSeconds: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The lease in use and the signal that aborts when it is lost. */
interface SessionLease {
  readonly lease: Lease;
  readonly lost: AbortController;
}

function abortedError(): PfsError {
  return new PfsError("FAILED_PRECONDITION", "the campaign was abandoned");
}

export class MasterSession {
  readonly #options: MasterSessionOptions;
  #current: SessionLease | undefined;
  #confirmedMs = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: MasterSessionOptions) {
    assert(options.root.startsWith("/") && !options.root.endsWith("/"),
      () => `key root ${options.root}`);
    this.#options = options;
  }

  /** Monotonic ms of the last renewal the store confirmed (−∞ before the first). */
  confirmedMs(): number {
    return this.#confirmedMs;
  }

  #lease(): SessionLease {
    if (this.#closed) throw new PfsError("UNAVAILABLE", "the master session is closed");
    const current = this.#current;
    if (current !== undefined && !current.lost.signal.aborted) return current;
    const { client, ttlSeconds, logger } = this.#options;
    // Renewed by `#renew`, not by the client's own loop: that one declares a lease lost after
    // 2 × TTL without an answer, even while the store still holds it (a node busy for a few
    // seconds would drop every mastership and leave its keys leading for one more TTL).
    const lease = client.lease(ttlSeconds, { autoKeepAlive: false });
    const next: SessionLease = { lease, lost: new AbortController() };
    lease.on("lost", (error: unknown) => {
      if (!this.#closed) logger.warn("master session lease lost; its terms end", { error });
      next.lost.abort(unavailable("the master session lease was lost", error));
      if (this.#current === next) this.#current = undefined;
    });
    this.#current = next;
    this.#renew(next);
    return next;
  }

  /**
   * Renews `session`'s lease every third of its TTL until it is lost or the session closes;
   * a renewal the store answers moves `confirmedMs` to when it was sent. The lease is lost only
   * when the store says it expired (the client then emits "lost").
   */
  #renew(session: SessionLease): void {
    const { clock, ttlSeconds, logger } = this.#options;
    const intervalMs = (ttlSeconds * 1_000) / renewalsPerLease;
    const beat = async (): Promise<void> => {
      const sent = clock.nowMs();
      let timer: ReturnType<Clock["setTimer"]> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = clock.setTimer(ttlSeconds * 1_000, () => { resolve("timeout"); });
      });
      try {
        const outcome = await Promise.race([session.lease.keepaliveOnce(), timeout]);
        if (outcome !== "timeout" && this.#current === session && this.#confirmedMs < sent) {
          this.#confirmedMs = sent;
        }
      } catch (error: unknown) {
        if (!session.lost.signal.aborted) {
          logger.debug("a master session renewal failed; trying again", { error });
        }
      } finally {
        timer?.cancel();
      }
    };
    const loop = (): void => {
      if (this.#closed || session.lost.signal.aborted) return;
      beat().finally(() => {
        if (this.#closed || session.lost.signal.aborted) return;
        clock.setTimer(intervalMs, loop);
      }).catch(() => undefined);
    };
    loop();
  }

  /**
   * Campaigns in election `name` (e.g. `shard-master/3`) with `value` and resolves with the
   * term once elected. Rejects UNAVAILABLE when the store or the lease fails (campaign again),
   * FAILED_PRECONDITION when `signal` aborts first (the key is deleted again).
   */
  async campaign(name: string, value: string, signal?: AbortSignal): Promise<LeaderTerm> {
    const { client, root, clock } = this.#options;
    const session = this.#lease();
    const sent = clock.nowMs();
    const leaseId = await session.lease.grant().catch((error: unknown) => {
      throw unavailable("cannot grant the master session lease", error);
    });
    if (this.#current === session && this.#confirmedMs < sent) this.#confirmedMs = sent;
    const prefix = `${root}/election/${name}/`;
    const key = `${prefix}${BigInt(leaseId).toString(16)}`;
    const put = await client.if(key, "Create", "==", 0)
      .then(client.put(key).value(value).lease(leaseId))
      .else(client.get(key))
      .commit()
      .catch((error: unknown) => { throw unavailable(`cannot campaign with ${key}`, error); });
    const createRevision = put.succeeded ? BigInt(put.header.revision)
      : BigInt(put.responses[0]?.response_range.kvs[0]?.create_revision ?? "0");
    assert(createRevision > 0n, () => `campaign key ${key} has no create revision`);
    const fence: Fence = { key, revision: createRevision };
    const stepDown = (): Promise<void> => this.#deleteKey(fence);
    const stop = AbortSignal.any([session.lost.signal, ...(signal === undefined ? [] : [signal])]);
    try {
      await this.#waitElected(prefix, createRevision, stop);
    } catch (error: unknown) {
      await stepDown().catch(() => undefined);
      throw signal?.aborted === true ? abortedError() : error;
    }
    const over = new AbortController();
    const endWithLease = (): void => { over.abort(session.lost.signal.reason); };
    if (session.lost.signal.aborted) endWithLease();
    else session.lost.signal.addEventListener("abort", endWithLease, { once: true });
    const held = await client.get(key).exec().catch((error: unknown) => {
      throw unavailable(`cannot read the election key ${key}`, error);
    });
    const kv = held.kvs[0];
    if (kv === undefined || BigInt(kv.create_revision) !== createRevision || over.signal.aborted) {
      over.abort();
      throw new PfsError("UNAVAILABLE", `the ${name} key ${key} went as it was elected`);
    }
    try {
      await watchKeyDeletion(this.#options, fence, BigInt(held.header.revision), over);
    } catch (error: unknown) {
      over.abort(error);
      await stepDown().catch(() => undefined);
      throw error;
    }
    this.#options.logger.info("elected", { election: name, key, revision: String(createRevision) });
    return new LeaderTerm(fence, stepDown, over);
  }

  /** Waits until no key under `prefix` was created before `revision`. */
  async #waitElected(prefix: string, revision: bigint, stop: AbortSignal): Promise<void> {
    const { client } = this.#options;
    for (;;) {
      if (stop.aborted) throw stop.reason;
      const older = await client.getAll().prefix(prefix)
        .maxCreateRevision((revision - 1n).toString())
        .sort("Create", "Descend").limit(1).exec()
        .catch((error: unknown) => { throw unavailable(`cannot read ${prefix}`, error); });
      const previous = older.kvs[0];
      if (previous === undefined) return;
      await this.#waitDeleted(previous.key.toString("utf8"), BigInt(older.header.revision), stop);
    }
  }

  /** Resolves once `key` is deleted after `revision`; rejects when `stop` aborts. */
  async #waitDeleted(key: string, revision: bigint, stop: AbortSignal): Promise<void> {
    const watcher = await this.#options.client.watch().key(key)
      .startRevision((revision + 1n).toString()).create()
      .catch((error: unknown) => { throw unavailable(`cannot watch ${key}`, error); });
    try {
      await new Promise<void>((resolve, reject) => {
        const onStop = (): void => {
          reject(stop.reason instanceof Error ? stop.reason : abortedError());
        };
        if (stop.aborted) {
          onStop();
          return;
        }
        stop.addEventListener("abort", onStop, { once: true });
        watcher.on("delete", () => {
          stop.removeEventListener("abort", onStop);
          resolve();
        });
        watcher.on("error", (error: unknown) => {
          this.#options.logger.debug("election watch error (the client re-establishes it)",
            { key, error });
        });
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  /** Deletes the term's key if it is still the term's (its create revision). */
  async #deleteKey(fence: Fence): Promise<void> {
    const { client } = this.#options;
    await client.if(fence.key, "Create", "==", fence.revision.toString())
      .then(client.delete().key(fence.key))
      .commit()
      .catch((error: unknown) => { throw unavailable(`cannot delete ${fence.key}`, error); });
  }

  /** Revokes the lease: every term of the session ends and its keys go. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    current.lost.abort(new PfsError("UNAVAILABLE", "the master session closed"));
    await current.lease.revoke().catch(() => undefined);
  }
}
