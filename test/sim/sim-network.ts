/**
 * The simulated network: every message gets a random delay (which reorders), may be lost or
 * duplicated, and is dropped when a partition separates sender and receiver, either when it is
 * sent or when it would be delivered. Partitions are a reachability relation that the fault
 * schedule replaces over time: symmetric splits, one-way (asymmetric) cuts, and bridges (two
 * sides that only one node can talk to).
 */
import { type NodeId, type Prng, assert } from "../../pkg/common/index.js";
import type { Message } from "../../pkg/raft/index.js";

/** The network's fault knobs; probabilities in [0, 1], delays in simulation steps. */
export interface NetworkKnobs {
  readonly delayStepsMin: number;
  readonly delayStepsMax: number;
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  /** Per call of `replayStale`: chance of re-delivering a long-gone message. */
  readonly staleReplayProbability: number;
}

/** Recently sent messages kept for stale replays: old enough to be far behind, bounded. */
const replayBufferMessages = 512;

/** A message in flight. `sequence` breaks ties so delivery order is deterministic. */
export interface Envelope {
  readonly deliverAt: number;
  readonly sequence: number;
  readonly message: Message;
}

/** Which directed links are cut: `cut(from, to)` true means from cannot reach to. */
export interface Partition {
  readonly name: string;
  cut(from: NodeId, to: NodeId): boolean;
}

/** No cut links. */
export const fullyConnected: Partition = { name: "none", cut: () => false };

/** Why a message was not delivered, for the trace and for `reportSnapshot`. */
export type DropReason = "loss" | "partition" | "down";

/** A binary min-heap of envelopes ordered by (deliverAt, sequence). */
class EnvelopeHeap {
  readonly #items: Envelope[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: Envelope): void {
    const items = this.#items;
    items.push(item);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!before(items[child] as Envelope, items[parent] as Envelope)) break;
      [items[child], items[parent]] = [items[parent] as Envelope, items[child] as Envelope];
      child = parent;
    }
  }

  peek(): Envelope | undefined {
    return this.#items[0];
  }

  pop(): Envelope | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < items.length && before(items[left] as Envelope, items[smallest] as Envelope)) {
        smallest = left;
      }
      if (right < items.length && before(items[right] as Envelope, items[smallest] as Envelope)) {
        smallest = right;
      }
      if (smallest === parent) break;
      [items[smallest], items[parent]] = [items[parent] as Envelope, items[smallest] as Envelope];
      parent = smallest;
    }
    return top;
  }
}

function before(a: Envelope, b: Envelope): boolean {
  return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.sequence < b.sequence);
}

/** Counters for the run summary. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  partitioned: number;
  replayed: number;
}

export class SimNetwork {
  readonly #heap = new EnvelopeHeap();
  #sequence = 0;
  #partition: Partition = fullyConnected;
  #faulty = true;
  #delayStepsMax: number;
  readonly #sentRecently: Message[] = [];
  #sentRecentlyNext = 0;
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, lost: 0, duplicated: 0, partitioned: 0, replayed: 0,
  };

  constructor(private readonly prng: Prng, private readonly knobs: NetworkKnobs) {
    assert(knobs.delayStepsMin >= 1 && knobs.delayStepsMin <= knobs.delayStepsMax, () =>
      `delay range [${knobs.delayStepsMin}, ${knobs.delayStepsMax}] invalid`);
    this.#delayStepsMax = knobs.delayStepsMax;
  }

  get partition(): Partition {
    return this.#partition;
  }

  setPartition(partition: Partition): void {
    this.#partition = partition;
  }

  /**
   * Stops loss and duplication and caps delays at `delayStepsMax` (the liveness phase: a
   * network slower than the election timeout may legitimately never elect); reordering remains.
   */
  stopFaults(delayStepsMax: number): void {
    this.#faulty = false;
    this.#delayStepsMax = Math.max(this.knobs.delayStepsMin, Math.min(delayStepsMax,
      this.#delayStepsMax));
  }

  /**
   * Queues `message` at time `now`; returns the drop reason when it is dropped at once.
   * `duplicable` false: never duplicated (a forwarded proposal travels on a stream, and a
   * duplicate would be a client retry, which Raft does not deduplicate).
   */
  send(now: number, message: Message, duplicable = true): DropReason | undefined {
    this.stats.sent += 1;
    if (duplicable) this.#remember(message);
    if (this.#partition.cut(message.from, message.to)) {
      this.stats.partitioned += 1;
      return "partition";
    }
    if (this.#faulty && this.prng.chance(this.knobs.lossProbability)) {
      this.stats.lost += 1;
      return "loss";
    }
    const copies = duplicable && this.#faulty && this.prng.chance(this.knobs.duplicateProbability) ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;
    for (let copy = 0; copy < copies; copy += 1) {
      const delay = this.prng.intBetween(this.knobs.delayStepsMin, this.#delayStepsMax);
      this.#heap.push({ deliverAt: now + delay, sequence: this.#sequence, message });
      this.#sequence += 1;
    }
    return undefined;
  }

  #remember(message: Message): void {
    if (this.#sentRecently.length < replayBufferMessages) this.#sentRecently.push(message);
    else this.#sentRecently[this.#sentRecentlyNext] = message;
    this.#sentRecentlyNext = (this.#sentRecentlyNext + 1) % replayBufferMessages;
  }

  /**
   * Maybe re-delivers a message sent long ago (a duplicate delayed far beyond the others, as
   * a retransmission after a reconnect can be): stale terms, stale appends, old votes.
   */
  replayStale(now: number): Message | undefined {
    if (!this.#faulty || this.#sentRecently.length === 0) return undefined;
    if (!this.prng.chance(this.knobs.staleReplayProbability)) return undefined;
    const message = this.prng.pick(this.#sentRecently);
    this.stats.replayed += 1;
    this.#heap.push({ deliverAt: now + 1, sequence: this.#sequence, message });
    this.#sequence += 1;
    return message;
  }

  /**
   * The next message due at or before `now`, or undefined. A message whose link was cut
   * while it was in flight is returned with `dropped` set, so the caller can report it.
   */
  nextDue(now: number): { envelope: Envelope; dropped: boolean } | undefined {
    const top = this.#heap.peek();
    if (top === undefined || top.deliverAt > now) return undefined;
    this.#heap.pop();
    const dropped = this.#partition.cut(top.message.from, top.message.to);
    if (dropped) this.stats.partitioned += 1;
    else this.stats.delivered += 1;
    return { envelope: top, dropped };
  }

  get inFlight(): number {
    return this.#heap.size;
  }
}

/** Cuts one node off in one direction: it hears nobody (`inbound`) or reaches nobody. */
export function isolate(node: NodeId, inbound: boolean): Partition {
  return {
    name: `${node} ${inbound ? "hears nobody" : "reaches nobody"}`,
    cut: (from, to) => (inbound ? to === node : from === node),
  };
}

/**
 * A random partition of `nodes`: a symmetric split into two sides, a one-way cut of some
 * links, or a bridge (two sides that cannot talk, and one node both sides reach).
 */
export function randomPartition(prng: Prng, nodes: readonly NodeId[]): Partition {
  const shuffled = prng.shuffle([...nodes]);
  const kind = prng.intBelow(4);
  if (kind === 0 || nodes.length < 3) {
    const side = new Set(shuffled.slice(0, prng.intBetween(1, Math.max(1, nodes.length - 1))));
    return {
      name: `split {${[...side].join(",")}} | rest`,
      cut: (from, to) => side.has(from) !== side.has(to),
    };
  }
  if (kind === 1) {
    const links = new Set<string>();
    for (const from of nodes) {
      for (const to of nodes) if (from !== to && prng.chance(0.3)) links.add(`${from}>${to}`);
    }
    return {
      name: `one-way cuts ${[...links].join(" ")}`,
      cut: (from, to) => links.has(`${from}>${to}`),
    };
  }
  if (kind === 2) return isolate(shuffled[0] as NodeId, prng.chance(0.5));
  const bridge = shuffled[0] as NodeId;
  const rest = shuffled.slice(1);
  const left = new Set(rest.slice(0, Math.ceil(rest.length / 2)));
  return {
    name: `bridge ${bridge} between {${[...left].join(",")}} and the rest`,
    cut: (from, to) => from !== bridge && to !== bridge && left.has(from) !== left.has(to),
  };
}
