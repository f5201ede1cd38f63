/**
 * `EagerPusher`: the master of a shard pushing the chunks of its open commits to the other
 * replicas in the background, while the client is still writing (issue 6, throughput), so that
 * the finish (transfer.ts `copyCommit`) finds most chunks there already and sends only the rest
 * and the manifest. Two ways in: `tee` wraps a put's stream and cuts it into chunks as the
 * source does (same chunking options, so the same ids), offering each chunk with its bytes
 * while the put is still running (a big file's chunks move during its put, read from memory);
 * `offer` takes the chunk refs of a recorded entry (a tar put's `putEntry`, chunks `tee`
 * dropped), which the push reads back from the source.
 *
 * Safety rests on content addressing: a chunk on a replica is just bytes under their hash;
 * only a manifest, installed at finish after the replica holds every chunk it names, makes a
 * commit visible. So a push may be late, lost, duplicated or for a commit that is then
 * abandoned (its chunks are garbage for the replica's collector); none of it changes what any
 * reader sees. A pushed chunk is held from collection for chunkHoldMs (chunk-guard.ts); one
 * collected before its manifest arrives is pushed again by the finish, which asks what is
 * missing.
 *
 * Invariants: `offer` and `tee` never block, throw or fail the write that offers; each peer has
 * its own bounded queue of chunks (eagerQueueChunksMax, eagerQueueBytesMax, and
 * eagerHeldBytesMax of bytes in memory; offers past them are dropped: the finish pushes them)
 * and one worker pushing at most one batch (eagerBatchBytesMax) at a time, so a slow peer
 * holds back only itself and memory stays bounded per peer; a peer whose push failed is left
 * alone for a pause that doubles on each failure (eagerBackoffMsMin to eagerBackoffMsMax) and
 * its queue is dropped. Workers run only while there is work; `close` waits for them and
 * accepts no more.
 */
import { type Clock, type Logger, assert } from "../../common/index.js";
import { type Chunk, Chunker, type ChunkingOptions } from "../chunk/index.js";
import type { ChunkRef, Sha256Hex } from "../model.js";
import type { ShardReplica } from "../shard/index.js";
import { type ReplicationPeer, copyChunks } from "./transfer.js";
import {
  eagerBackoffMsMax, eagerBackoffMsMin, eagerBatchBytesMax, eagerBatchChunksMax,
  eagerHeldBytesMax, eagerQueueBytesMax, eagerQueueChunksMax, eagerRecentIdsMax,
} from "./transfer-limits.js";

export interface EagerPusherOptions {
  /** The master's own replica: where pushed chunks offered without their bytes are read. */
  readonly source: ShardReplica;
  /** How the source cuts files into chunks (`tee` cuts alike, so the ids match). */
  readonly chunking: ChunkingOptions;
  /** The other replicas of the shard that are live now (asked at every offer). */
  readonly peers: () => readonly ReplicationPeer[];
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What the pusher did so far (for tests, logs and the benchmark). */
export interface EagerPushStats {
  /** Chunk refs queued for some peer. */
  readonly queued: number;
  /** Chunks and bytes a peer acknowledged (it lacked them and now holds them durably). */
  readonly pushedChunks: number;
  readonly pushedBytes: number;
  /** Chunk refs not pushed: queue full, peer backing off, dropped on failure or `clear`. */
  readonly dropped: number;
  /** Failed pushes (each starts a backoff of its peer). */
  readonly failures: number;
}

/** A queued chunk: its ref, and its bytes when `tee` cut it (else it is read from the source). */
interface QueuedChunk {
  readonly ref: ChunkRef;
  readonly bytes: Uint8Array | undefined;
}

/** One peer's queue, worker and backoff. */
interface PeerState {
  node: string;
  /** The peer's replica as last offered (the map may hand a new client). */
  replica: ShardReplica;
  readonly queue: QueuedChunk[];
  queueBytes: number;
  /** Bytes of the queued chunks held in memory (those `tee` cut), at most eagerHeldBytesMax. */
  heldBytes: number;
  /** Ids queued or pushed recently, oldest first (skips the same chunk offered twice). */
  readonly recent: Set<Sha256Hex>;
  /** The running worker, if any. */
  worker: Promise<void> | undefined;
  /** Monotonic ms before which offers to this peer are dropped (0: not backing off). */
  retryAtMs: number;
  backoffMs: number;
}

export class EagerPusher {
  readonly #options: EagerPusherOptions;
  readonly #peers = new Map<string, PeerState>();
  #closed = false;
  #stats = { queued: 0, pushedChunks: 0, pushedBytes: 0, dropped: 0, failures: 0 };

  constructor(options: EagerPusherOptions) {
    this.#options = options;
  }

  get stats(): EagerPushStats {
    return { ...this.#stats };
  }

  /**
   * Queues `chunks` (just made durable on the source) for every live peer. Never throws,
   * never waits: what does not fit, or goes to a peer that is backing off, is dropped.
   */
  offer(chunks: readonly ChunkRef[]): void {
    this.#offer(chunks.map((ref) => ({ ref, bytes: undefined })));
  }

  /**
   * The pieces of `data`, unchanged and as fast as they come, while they are also cut into
   * chunks as the source cuts them and each chunk is offered with its bytes: the peers get a
   * big file's chunks while the source is still writing it. No cutting when no peer could
   * take a chunk (none is live, or all are backing off: R=1 pays nothing), and none for the
   * rest of the stream once that becomes so. It never fails the stream: a failure to cut only
   * ends the cutting. Each chunk's bytes are copied (a chunk may alias a piece, which must
   * not be kept alive whole, nor depended on once yielded).
   */
  async* tee(data: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let chunker = this.#hasTaker() ? new Chunker(this.#options.chunking) : undefined;
    const cut = (chunks: readonly Chunk[]): void => {
      if (chunks.length > 0 && !this.#offer(chunks.map((chunk) => ({
        ref: { id: chunk.id, size: chunk.bytes.length }, bytes: new Uint8Array(chunk.bytes) })))) {
        chunker = undefined;
      }
    };
    for await (const piece of data) {
      try {
        if (chunker !== undefined) cut(chunker.push(piece));
      } catch (error: unknown) {
        chunker = undefined;
        this.#options.logger.debug("eager push: cannot cut a put's data", { error });
      }
      yield piece;
    }
    try {
      if (chunker !== undefined) cut(chunker.finish().chunks);
    } catch (error: unknown) {
      this.#options.logger.debug("eager push: cannot cut a put's data", { error });
    }
  }

  /** True when some live peer is not backing off (cutting a stream is then worth it). */
  #hasTaker(): boolean {
    if (this.#closed) return false;
    try {
      const now = this.#options.clock.nowMs();
      return this.#options.peers().some((peer) =>
        (this.#peers.get(peer.node)?.retryAtMs ?? 0) <= now);
    } catch (error: unknown) {
      this.#options.logger.debug("eager push: cannot list the peers", { error });
      return false;
    }
  }

  /** Queues `chunks` for every live peer not backing off; false when there was none. */
  #offer(chunks: readonly QueuedChunk[]): boolean {
    if (this.#closed || chunks.length === 0) return false;
    let peers: readonly ReplicationPeer[];
    try {
      peers = this.#options.peers();
    } catch (error: unknown) {
      this.#options.logger.debug("eager push: cannot list the peers", { error });
      return false;
    }
    const now = this.#options.clock.nowMs();
    let taken = false;
    for (const peer of peers) {
      const state = this.#stateOf(peer);
      if (state.retryAtMs > now) {
        this.#stats.dropped += chunks.length;
        continue;
      }
      taken = true;
      this.#enqueue(state, chunks);
      if (state.worker === undefined && state.queue.length > 0) this.#startWorker(state);
    }
    return taken;
  }

  /**
   * Drops every queued (not yet started) push: the finish of a commit copies what its
   * replicas lack itself, and pushing the same chunks from two places wastes the link.
   */
  clear(): void {
    for (const state of this.#peers.values()) {
      this.#stats.dropped += state.queue.length;
      dropQueue(state);
    }
  }

  /** Resolves once no worker runs (every queue drained, failed or cleared). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.#peers.values()].flatMap((state) =>
        state.worker === undefined ? [] : [state.worker]);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Accepts no more offers, drops the queues and waits for the pushes under way. */
  async close(): Promise<void> {
    this.#closed = true;
    this.clear();
    await this.idle();
  }

  #stateOf(peer: ReplicationPeer): PeerState {
    let state = this.#peers.get(peer.node);
    if (state === undefined) {
      state = { node: peer.node, replica: peer.replica, queue: [], queueBytes: 0, heldBytes: 0,
        recent: new Set(), worker: undefined, retryAtMs: 0, backoffMs: eagerBackoffMsMin };
      this.#peers.set(peer.node, state);
    }
    state.replica = peer.replica;
    return state;
  }

  /** Adds the chunks `state` has not seen recently, within the queue's bounds. */
  #enqueue(state: PeerState, chunks: readonly QueuedChunk[]): void {
    for (const chunk of chunks) {
      const { ref, bytes } = chunk;
      if (state.recent.has(ref.id)) continue;
      const held = bytes === undefined ? 0 : bytes.length;
      if (state.queue.length >= eagerQueueChunksMax ||
        state.queueBytes + ref.size > eagerQueueBytesMax ||
        state.heldBytes + held > eagerHeldBytesMax) {
        this.#stats.dropped += 1;
        continue;
      }
      state.queue.push(chunk);
      state.queueBytes += ref.size;
      state.heldBytes += held;
      state.recent.add(ref.id);
      this.#stats.queued += 1;
      for (const oldest of state.recent) {
        if (state.recent.size <= eagerRecentIdsMax) break;
        state.recent.delete(oldest);
      }
    }
  }

  #startWorker(state: PeerState): void {
    const worker = this.#drain(state).catch((error: unknown) => {
      // #drain handles push failures itself; this is a bug, but must not crash the node.
      this.#options.logger.error("eager push worker failed", { node: state.node, error });
    }).finally(() => {
      state.worker = undefined;
      if (state.queue.length > 0 && !this.#closed) this.#startWorker(state);
    });
    state.worker = worker;
  }

  /** Pushes `state`'s queue batch by batch until it is empty or a push fails. */
  async #drain(state: PeerState): Promise<void> {
    const { clock, logger, source } = this.#options;
    while (state.queue.length > 0) {
      const batch = takeBatch(state);
      try {
        const pushed = await pushBatch(source, state.replica, batch);
        this.#stats.pushedChunks += pushed.chunks;
        this.#stats.pushedBytes += pushed.bytes;
        state.backoffMs = eagerBackoffMsMin;
      } catch (error: unknown) {
        this.#stats.failures += 1;
        this.#stats.dropped += batch.length + state.queue.length;
        for (const chunk of batch) state.recent.delete(chunk.ref.id);
        dropQueue(state);
        state.retryAtMs = clock.nowMs() + state.backoffMs;
        logger.debug("eager push to a replica failed; leaving it to the finish", {
          shard: source.shard, node: state.node, pauseMs: state.backoffMs, error });
        state.backoffMs = Math.min(state.backoffMs * 2, eagerBackoffMsMax);
        return;
      }
    }
  }
}

/** Empties `state`'s queue, forgetting its ids (they may be offered again). */
function dropQueue(state: PeerState): void {
  for (const chunk of state.queue) state.recent.delete(chunk.ref.id);
  state.queue.length = 0;
  state.queueBytes = 0;
  state.heldBytes = 0;
}

/**
 * Pushes to `target` the chunks of `batch` it lacks: those with bytes in one putChunks, the
 * others read from `source` (transfer.ts copyChunks). What it pushed.
 */
async function pushBatch(source: ShardReplica, target: ShardReplica,
  batch: readonly QueuedChunk[]): Promise<{ chunks: number; bytes: number }> {
  const missing = new Set(await target.missingChunks(batch.map((chunk) => chunk.ref.id)));
  const inMemory: { ref: ChunkRef; bytes: Uint8Array }[] = [];
  const onDisk: Sha256Hex[] = [];
  for (const { ref, bytes } of batch) {
    if (!missing.has(ref.id)) continue;
    if (bytes === undefined) onDisk.push(ref.id);
    else inMemory.push({ ref, bytes });
  }
  let bytes = 0;
  if (inMemory.length > 0) {
    await target.putChunks(inMemory);
    bytes += inMemory.reduce((sum, chunk) => sum + chunk.bytes.length, 0);
  }
  if (onDisk.length > 0) bytes += await copyChunks(source, target, onDisk, undefined);
  return { chunks: inMemory.length + onDisk.length, bytes };
}

/** Takes from the head of `state`'s queue up to one batch's chunks and bytes (at least one). */
function takeBatch(state: PeerState): QueuedChunk[] {
  let count = 0;
  let bytes = 0;
  let held = 0;
  for (const { ref, bytes: inMemory } of state.queue) {
    if (count >= eagerBatchChunksMax || (count > 0 && bytes + ref.size > eagerBatchBytesMax)) break;
    count += 1;
    bytes += ref.size;
    held += inMemory === undefined ? 0 : inMemory.length;
  }
  const taken = state.queue.splice(0, count);
  state.queueBytes -= bytes;
  state.heldBytes -= held;
  assert(taken.length > 0 && state.queueBytes >= 0 && state.heldBytes >= 0,
    () => `eager batch of ${taken.length} chunks, ${state.queueBytes} bytes left queued`);
  return taken;
}
