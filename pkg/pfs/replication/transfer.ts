/**
 * Moving a sealed commit's part of a shard from one replica to another (DESIGN.md §4,
 * issue 6): the master pushing a commit it just sealed to the other replicas of the shard,
 * and a lagging or new replica catching up from any replica that holds the commit.
 *
 * A copy asks the target which of the manifest's chunks it lacks, streams exactly those from
 * the source (a few reads in flight, batches of bounded bytes, a few batches pushed at once:
 * memory stays at a few batches whatever the commit's size), pushes them, then installs the
 * manifest, which the target accepts only once it holds every chunk the manifest names. The
 * target's missingChunks holds the chunks it has from collection and putChunks holds the pushed
 * ones, so the install finds them (and most are there already when the master pushed them
 * while the commit was open: eager-push.ts); should a collection still free some in between,
 * the copy pushes again (a few rounds).
 *
 * Invariants: the target's manifest appears only after all its chunks are durable there (the
 * target checks it); an interrupted copy leaves only chunks, and a retry asks again what is
 * missing, so it resumes where it stopped. Both replicas may be local or remote (ShardReplica).
 */
import {
  type Clock, type Logger, PfsError, SystemClock, assert, silentLogger,
} from "../../common/index.js";
import type { ChunkRef, Sha256Hex } from "../model.js";
import type { ShardCommit, ShardReplica } from "../shard/index.js";
import { manifestChunkIds } from "../storage/index.js";
import {
  transferBatchBytesMax, transferBatchChunksMax, transferIdsPerCallMax, transferInstallRoundsMax,
  transferPutsInFlightMax, transferReadsInFlightMax, transferRetriesMax, transferRetryPauseMsMax,
  transferRetryPauseMsMin,
} from "./transfer-limits.js";

export * as transferLimits from "./transfer-limits.js";

/** Options of `copyCommit`. */
export interface CopyCommitOptions {
  /** Stops the copy between steps; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

interface ChunkToPush {
  readonly ref: ChunkRef;
  readonly bytes: Uint8Array;
}

function describe(source: ShardReplica, commit: ShardCommit): string {
  return `${commit.repo}@${commit.id} of shard ${source.shard}`;
}

/**
 * Copies `source`'s sealed `commit` to `target` (replicas of the same shard): a no-op when
 * the target has it already; otherwise pushes the chunks of its manifest the target lacks,
 * then installs the manifest there. Resumable: a retry after any failure asks again what is
 * missing. Errors: the source's (NOT_FOUND `{ missing: "commit" }` when it lacks the commit,
 * DATA_CORRUPTED for a damaged manifest or chunk there), the target's (DATA_CORRUPTED when it
 * holds different bytes for the commit), UNAVAILABLE from an unreachable node, the signal's
 * reason when aborted.
 */
export async function copyCommit(source: ShardReplica, target: ShardReplica,
  commit: ShardCommit, options: CopyCommitOptions = {}): Promise<void> {
  assert(source.shard === target.shard,
    () => `copy between shards ${source.shard} and ${target.shard}`);
  const { signal } = options;
  const logger = options.logger ?? silentLogger;
  signal?.throwIfAborted();
  if (await target.hasCommit(commit)) return;
  signal?.throwIfAborted();
  const manifest = await source.readManifest(commit);
  const ids = manifestChunkIds(manifest);
  for (let round = 1; ; round += 1) {
    const pushed = await pushMissing(source, target, ids, signal);
    signal?.throwIfAborted();
    try {
      await target.installManifest(commit, manifest);
      logger.debug("copied a sealed commit", { commit: describe(source, commit),
        chunks: ids.length, chunksPushed: pushed.chunks, bytesPushed: pushed.bytes });
      return;
    } catch (error) {
      if (!isMissingChunks(error) || round >= transferInstallRoundsMax) throw error;
      logger.info("chunks went missing before the manifest was installed; pushing again",
        { commit: describe(source, commit), round, error });
    }
  }
}

/** True for installManifest's "chunks are missing" refusal. */
function isMissingChunks(error: unknown): boolean {
  return error instanceof PfsError && error.code === "NOT_FOUND" &&
    error.details["missing"] === "chunks";
}

/** Pushes to `target` the chunks of `ids` it lacks, read from `source`; what it pushed. */
async function pushMissing(source: ShardReplica, target: ShardReplica,
  ids: readonly Sha256Hex[], signal: AbortSignal | undefined):
  Promise<{ chunks: number; bytes: number }> {
  const pushed = { chunks: 0, bytes: 0 };
  for (let at = 0; at < ids.length; at += transferIdsPerCallMax) {
    signal?.throwIfAborted();
    const missing = await target.missingChunks(ids.slice(at, at + transferIdsPerCallMax));
    const copied = await copyChunks(source, target, missing, signal);
    pushed.chunks += missing.length;
    pushed.bytes += copied;
  }
  return pushed;
}

/**
 * Reads `ids` from `source` (at most transferReadsInFlightMax at once, in order) and pushes
 * them to `target` in batches of at most transferBatchBytesMax bytes and
 * transferBatchChunksMax chunks, with up to transferPutsInFlightMax batches being pushed while
 * the next one fills (a push's round trip and the target's fsyncs overlap the reads); resolves
 * with the bytes pushed once every batch is acknowledged, or rejects with the first failure.
 */
export async function copyChunks(source: ShardReplica, target: ShardReplica,
  ids: readonly Sha256Hex[], signal: AbortSignal | undefined): Promise<number> {
  const reads: Promise<ChunkToPush>[] = [];
  let next = 0;
  const startRead = (): void => {
    const id = ids[next];
    assert(id !== undefined, () => `no chunk id at ${next} of ${ids.length}`);
    next += 1;
    const read = source.readChunk(id).then((bytes) => ({ ref: { id, size: bytes.length }, bytes }));
    read.catch(() => undefined); // Awaited in turn below; an early failure must not go unhandled.
    reads.push(read);
  };
  const puts: Promise<number>[] = [];
  let batch: ChunkToPush[] = [];
  let batchBytes = 0;
  let total = 0;
  const flush = async (): Promise<void> => {
    signal?.throwIfAborted();
    const [chunks, bytes] = [batch, batchBytes];
    batch = [];
    batchBytes = 0;
    const put = target.putChunks(chunks).then(() => bytes);
    put.catch(() => undefined); // Awaited in turn below, like the reads.
    puts.push(put);
    while (puts.length > transferPutsInFlightMax) total += await (puts.shift() ?? 0);
  };
  while (next < ids.length && reads.length < transferReadsInFlightMax) startRead();
  for (let read = reads.shift(); read !== undefined; read = reads.shift()) {
    const chunk = await read;
    if (next < ids.length) startRead();
    if (batch.length > 0 && (batchBytes + chunk.bytes.length > transferBatchBytesMax ||
      batch.length >= transferBatchChunksMax)) await flush();
    batch.push(chunk);
    batchBytes += chunk.bytes.length;
  }
  if (batch.length > 0) await flush();
  // On a failure above, the batches still in flight settle on their own (errors caught).
  for (let put = puts.shift(); put !== undefined; put = puts.shift()) total += await put;
  assert(puts.length === 0, () => `${puts.length} pushes of a copy left unawaited`);
  return total;
}

/** A replica of the shard on another node, as `replicateCommit` pushes to it. */
export interface ReplicationPeer {
  /** The node's name (what the replica map and the acknowledgements name). */
  readonly node: string;
  readonly replica: ShardReplica;
}

/** Options of `replicateCommit`. */
export interface ReplicateCommitOptions {
  /** Times the pauses between retries (tests pass a fast one); the system clock by default. */
  readonly clock?: Clock;
}

/**
 * Replicates the sealed `commit` from the master's replica `source` to `peers`, all at once.
 * Resolves with the names of the peers that acknowledged (their copy is durable) as soon as
 * `acksNeeded` did; 0 resolves at once, still starting the copies. The other copies go on in
 * the background (their errors are logged, never thrown). Rejects with UNAVAILABLE ("only k
 * of n replicas of shard s acknowledged commit c; need m") as soon as too many copies have
 * failed for `acksNeeded` to be reached (at once when there are fewer peers than that). Each
 * copy retries UNAVAILABLE errors up to transferRetriesMax times, pausing in between.
 */
export async function replicateCommit(source: ShardReplica,
  peers: readonly ReplicationPeer[], commit: ShardCommit, acksNeeded: number, logger: Logger,
  options: ReplicateCommitOptions = {}): Promise<string[]> {
  assert(Number.isSafeInteger(acksNeeded) && acksNeeded >= 0,
    () => `acksNeeded ${acksNeeded} is not a count`);
  const clock = options.clock ?? new SystemClock();
  const acked: string[] = [];
  let failed = 0;
  return await new Promise<string[]>((resolve, reject) => {
    let settled = false;
    const decide = (): void => {
      if (settled) return;
      if (acked.length >= acksNeeded) {
        settled = true;
        resolve([...acked]);
      } else if (peers.length - failed < acksNeeded) {
        settled = true;
        reject(new PfsError("UNAVAILABLE", `only ${acked.length} of ${peers.length} replicas ` +
          `of shard ${source.shard} acknowledged commit ${commit.repo}@${commit.id}; need ` +
          `${acksNeeded}`, { acknowledged: acked.length, replicas: peers.length,
          needed: acksNeeded }));
      }
    };
    decide();
    for (const peer of peers) {
      copyWithRetries(source, peer, commit, logger, clock).then(() => {
        acked.push(peer.node);
        decide();
      }, (error: unknown) => {
        failed += 1;
        logger.warn("a replica did not take a sealed commit", { node: peer.node,
          commit: describe(source, commit), error });
        decide();
      });
    }
  });
}

/** `copyCommit` to one peer, retrying transient (UNAVAILABLE) errors with growing pauses. */
async function copyWithRetries(source: ShardReplica, peer: ReplicationPeer,
  commit: ShardCommit, logger: Logger, clock: Clock): Promise<void> {
  let pauseMs = transferRetryPauseMsMin;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await copyCommit(source, peer.replica, commit, { logger });
      return;
    } catch (error) {
      const transient = error instanceof PfsError && error.code === "UNAVAILABLE";
      if (!transient || attempt >= transferRetriesMax) throw error;
      logger.info("retrying a replica's copy of a sealed commit", { node: peer.node,
        commit: describe(source, commit), attempt: attempt + 1, pauseMs, error });
    }
    await clock.sleep(pauseMs);
    pauseMs = Math.min(pauseMs * 2, transferRetryPauseMsMax);
  }
}
