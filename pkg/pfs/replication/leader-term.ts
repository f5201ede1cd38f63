/**
 * Winning an election through the etcd election API (the `etcd3` client's `Election`, the
 * recipe of etcd's Go concurrency package) and holding the result as a fenced term.
 *
 * A candidate campaigns with a key `<root>/election/<name>/<lease id>` on its own lease; the
 * candidate whose key has the lowest create revision is the leader. That create revision is
 * the term's **fencing token**: the key exists with that revision exactly while the term
 * lasts (a lapsed or revoked lease deletes it; lease ids are never reused, so it is never
 * created again). Every write made on behalf of the term is a transaction that compares the
 * key's create revision with the token (`fencedIf`), so once the term is over — whether or not
 * this process has noticed yet — the store refuses the write.
 *
 * The client must be a root `Etcd3` (not a namespace): fence keys are full keys.
 */
import type { Campaign, ComparatorBuilder, Etcd3 } from "etcd3";
import { type Logger, PfsError, assert } from "../../common/index.js";

/** A held election key: the fencing token of one term. */
export interface Fence {
  /** The full election key (`<root>/election/<name>/<lease id>`). */
  readonly key: string;
  /** The key's create revision: the token. Positive. */
  readonly revision: bigint;
}

/** Starts a transaction that succeeds only while `fence` is held; add compares and ops. */
export function fencedIf(client: Etcd3, fence: Fence): ComparatorBuilder {
  assert(fence.revision > 0n, () => `fence revision ${fence.revision}`);
  return client.if(fence.key, "Create", "==", fence.revision.toString());
}

/** Whether the fence's key still exists with its token (a read; UNAVAILABLE on failure). */
export async function fenceHeld(client: Etcd3, fence: Fence): Promise<boolean> {
  const response = await client.get(fence.key).exec().catch((error: unknown) => {
    throw unavailable(`cannot read ${fence.key}`, error);
  });
  const kv = response.kvs[0];
  return kv !== undefined && BigInt(kv.create_revision) === fence.revision;
}

/** UNAVAILABLE: the coordination store failed while doing `what`. */
export function unavailable(what: string, error: unknown): PfsError {
  const detail = error instanceof Error ? error.message : String(error);
  return new PfsError("UNAVAILABLE", `${what}: ${detail}`);
}

/** What a campaign runs in. */
export interface CampaignOptions {
  readonly client: Etcd3;
  /** Key root (`/pfs`); the election keys live under `<root>/election/<name>/`. */
  readonly root: string;
  /** The election's name, e.g. `placement-controller` or `shard-master/3`. */
  readonly name: string;
  /** The value the leader announces (observers see it): a node name. */
  readonly value: string;
  readonly leaseTtlSeconds: number;
  readonly logger: Logger;
  /** Aborting it while the campaign waits resigns (revokes the lease) and rejects. */
  readonly signal?: AbortSignal;
}

/** One won election: its fence, and a signal that aborts when the term is over. */
export class LeaderTerm {
  readonly fence: Fence;
  readonly #stepDown: () => Promise<void>;
  readonly #over: AbortController;

  /** `stepDown` gives the election key up (revokes its lease, or deletes the key). */
  constructor(fence: Fence, stepDown: () => Promise<void>, over: AbortController) {
    this.fence = fence;
    this.#stepDown = stepDown;
    this.#over = over;
  }

  /** Aborted (with the cause) when the lease is lost or the term resigned. */
  get over(): AbortSignal {
    return this.#over.signal;
  }

  /** Ends the term: gives the key up, so the next candidate is elected at once. */
  async resign(): Promise<void> {
    this.#over.abort(new PfsError("FAILED_PRECONDITION", `resigned ${this.fence.key}`));
    await this.#stepDown().catch((error: unknown) => {
      throw unavailable(`cannot resign ${this.fence.key} (its lease will expire)`, error);
    });
  }
}

function waitElected(campaign: Campaign, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      campaign.resign().catch(() => undefined);
      reject(new PfsError("FAILED_PRECONDITION", "the campaign was abandoned"));
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    campaign.once("elected", () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    campaign.once("error", (error: unknown) => {
      signal?.removeEventListener("abort", onAbort);
      reject(unavailable("the campaign failed", error));
    });
  });
}

/**
 * Ends the term (aborts `over`) when the election key is deleted by anyone, even while the
 * lease lives on (an operator or a stale tool deleting it): the holder then stops at once
 * instead of learning it at its next refused write. The watch ends with the term.
 */
export async function watchKeyDeletion(options: Pick<CampaignOptions, "client" | "logger">,
  fence: Fence, readRevision: bigint, over: AbortController): Promise<void> {
  const watcher = await options.client.watch().key(fence.key)
    .startRevision((readRevision + 1n).toString()).create()
    .catch((error: unknown) => { throw unavailable(`cannot watch ${fence.key}`, error); });
  watcher.on("delete", () => {
    over.abort(new PfsError("FAILED_PRECONDITION", `the election key ${fence.key} was deleted`));
  });
  watcher.on("error", (error: unknown) => {
    options.logger.warn("election key watch error (the client re-establishes it)", { error });
  });
  const cancel = (): void => {
    watcher.cancel().catch(() => undefined);
  };
  if (over.signal.aborted) cancel();
  else over.signal.addEventListener("abort", cancel, { once: true });
}

/**
 * Campaigns and resolves once elected, with the term's fence read back from the store.
 * Rejects UNAVAILABLE when the lease or the store fails first (the lease is then lost; campaign
 * again), FAILED_PRECONDITION when `signal` aborts first.
 */
export async function campaignForTerm(options: CampaignOptions): Promise<LeaderTerm> {
  assert(options.root.startsWith("/") && !options.root.endsWith("/"),
    () => `key root ${options.root}`);
  const election = options.client.namespace(`${options.root}/`)
    .election(options.name, options.leaseTtlSeconds);
  const campaign = election.campaign(options.value);
  const over = new AbortController();
  // Attached first: an EventEmitter with no 'error' listener throws.
  campaign.on("error", (error: unknown) => {
    if (!over.signal.aborted) {
      options.logger.warn("election lease lost", { election: options.name, error });
    }
    over.abort(unavailable(`the ${options.name} lease was lost`, error));
  });
  await waitElected(campaign, options.signal);
  const key = await campaign.getCampaignKey();
  const response = await options.client.get(key).exec().catch((error: unknown) => {
    campaign.resign().catch(() => undefined);
    throw unavailable(`cannot read the election key ${key}`, error);
  });
  const kv = response.kvs[0];
  if (kv === undefined) {
    over.abort();
    throw new PfsError("UNAVAILABLE", `the ${options.name} lease lapsed as it was elected`);
  }
  const fence = { key, revision: BigInt(kv.create_revision) };
  assert(fence.revision > 0n, () => `election key ${key} has create revision ${fence.revision}`);
  try {
    await watchKeyDeletion(options, fence, BigInt(response.header.revision), over);
  } catch (error: unknown) {
    over.abort(error);
    campaign.resign().catch(() => undefined);
    throw error;
  }
  options.logger.info("elected", { election: options.name, key, revision: String(fence.revision) });
  return new LeaderTerm(fence, () => campaign.resign(), over);
}
