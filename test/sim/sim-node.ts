/**
 * One simulated Raft node: a `RawNode` over a `MemoryStorage`, its simulated disk and its
 * state machine, driven by the Ready contract exactly (pkg/raft/ready.ts): persist (snapshot,
 * hard state, entries; the disk decides when an fsync completes), then send, then apply, then
 * advance. `earlyMessages` go out as soon as the Ready is taken. A crash discards this object;
 * `SimNode.start` rebuilds a node from the disk's durable image alone.
 */
import { type LogIndex, type NodeId, type Prng, type Term, assert } from "../../pkg/common/index.js";
import {
  type ConfChange, type ConfState, type Entry, EntryType, type HardState, MemoryStorage,
  type Message, RawNode, type Ready, type Role, type Snapshot, decodeConfChange,
} from "../../pkg/raft/index.js";
import type { SimDisk } from "./sim-disk.js";
import type { SimKnobs } from "./sim-knobs.js";
import { KvStateMachine, decodeCommand } from "./sim-state-machine.js";

/** What a node tells the cluster: network, checkers and clients. */
export interface NodeHooks {
  send(node: SimNode, message: Message): void;
  applied(node: SimNode, entry: Entry): void;
  snapshotRestored(node: SimNode, snapshot: Snapshot): void;
  confChangeApplied(node: SimNode, entry: Entry, change: ConfChange): void;
  readServed(node: SimNode, context: string, index: LogIndex): void;
  roleChanged(node: SimNode, role: Role, term: Term): void;
  violation(node: SimNode, message: string): void;
}

interface InProgress {
  readonly ready: Ready;
  readonly doneAt: number;
  readonly sync: boolean;
}

const decoder = new TextDecoder();

export class SimNode {
  machine: KvStateMachine;
  confState: ConfState;
  applied: number;
  role: Role = "follower";
  #lastSnapshotIndex: number;
  #persistedHardState: HardState;
  #inProgress: InProgress | undefined;
  /** ReadIndex results waiting for `applied` to reach their index. */
  readonly #reads = new Map<string, LogIndex>();
  /** Messages and ticks held while a Ready is in progress (when the knobs say so). */
  readonly #held: Message[] = [];
  #heldTicks = 0;
  /** True from `ready()` to `advance()`. */
  #inReady = false;
  #paused = false;
  #deferred: (() => void)[] = [];

  private constructor(
    readonly id: NodeId,
    readonly incarnation: number,
    readonly raft: RawNode,
    readonly storage: MemoryStorage,
    private readonly disk: SimDisk,
    private readonly knobs: SimKnobs,
    private readonly hooks: NodeHooks,
    snapshot: Snapshot,
    hardState: HardState,
    /** Sabotage for the simulator's self-test: never fsync. */
    private readonly skipFsync: boolean,
  ) {
    this.machine = KvStateMachine.decode(snapshot.data);
    this.confState = snapshot.metadata.confState;
    this.applied = snapshot.metadata.index;
    this.#lastSnapshotIndex = snapshot.metadata.index;
    this.#persistedHardState = hardState;
  }

  /** Builds a node from the durable image of `disk` (restart) or an empty one (new node). */
  static start(id: NodeId, incarnation: number, disk: SimDisk, seed: number, knobs: SimKnobs,
    hooks: NodeHooks, skipFsync = false): SimNode {
    const image = disk.durable;
    const storage = new MemoryStorage();
    const installed = storage.applySnapshot(image.snapshot);
    assert(installed.ok, () => `node ${id}: durable snapshot refused`);
    const snapshotIndex = image.snapshot.metadata.index;
    // A durable snapshot is committed state: its index bounds the commit from below even if
    // the hard state written after it was lost.
    const commit = Math.max(image.hardState.commit, snapshotIndex) as LogIndex;
    const hardState = { ...image.hardState, commit };
    storage.setHardState(hardState);
    storage.append(image.entries);
    assert(commit <= storage.lastIndex(), () =>
      `node ${id}: durable commit ${commit} beyond durable log ${storage.lastIndex()}`);
    const raft = new RawNode({
      id, electionTicks: knobs.electionTicks, heartbeatTicks: knobs.heartbeatTicks, storage,
      applied: snapshotIndex, seed, preVote: true, checkQuorum: true,
    });
    return new SimNode(id, incarnation, raft, storage, disk, knobs, hooks, image.snapshot,
      hardState, skipFsync);
  }

  get busy(): boolean {
    return this.#inProgress !== undefined;
  }

  /** Whether messages, ticks and local requests may reach the core right now. */
  get accepting(): boolean {
    return !this.#paused && (!this.#inReady || this.knobs.stepWhileSyncing);
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Freezes the process (a GC or VM pause): no ticks, no Ready work; messages queue up. */
  pause(): void {
    this.#paused = true;
  }

  /** Thaws the process: queued messages and requests reach the core at once. */
  resume(): void {
    this.#paused = false;
    if (this.accepting) this.#releaseHeld();
  }

  tick(): void {
    if (this.#paused) return; // A paused process misses its ticks.
    if (this.accepting) this.raft.tick();
    else this.#heldTicks += 1;
  }

  deliver(message: Message): void {
    if (!this.accepting) {
      this.#held.push(message);
      return;
    }
    this.raft.step(message);
  }

  /** Runs `action` on the core now if allowed, else after the Ready in progress. */
  whenAccepting(action: () => void): void {
    if (this.accepting) action();
    else this.#deferred.push(action);
  }

  /**
   * Makes progress on the Ready cycle at time `now`: completes the one in progress when its
   * fsync is due, or takes a new one. Returns true when something happened.
   */
  poll(now: number, prng: Prng): boolean {
    if (this.#paused) return false;
    const inProgress = this.#inProgress;
    if (inProgress !== undefined) {
      if (now < inProgress.doneAt) return false;
      this.#complete(inProgress);
      return true;
    }
    if (!this.raft.hasReady()) return false;
    const ready = this.raft.ready();
    this.#inReady = true;
    this.#checkReady(ready);
    this.#persist(ready);
    this.#noteRole(ready);
    for (const message of ready.earlyMessages) this.hooks.send(this, message);
    const sync = ready.mustSync || ready.snapshot !== undefined;
    const latency = sync ? prng.intBetween(0, this.knobs.fsyncStepsMax) : 0;
    const started = { ready, doneAt: now + latency, sync };
    if (latency > 0) {
      this.#inProgress = started;
      return true;
    }
    this.#complete(started);
    return true;
  }

  #checkReady(ready: Ready): void {
    const previous = this.#persistedHardState;
    const next = ready.hardState;
    const changesVote = next !== undefined &&
      (next.term !== previous.term || next.vote !== previous.vote);
    if ((ready.entries.length > 0 || changesVote) && !ready.mustSync) {
      this.hooks.violation(this, `Ready changes entries or term/vote but mustSync is false`);
    }
    if (next !== undefined && next.term < previous.term) {
      this.hooks.violation(this, `hard state term went back from ${previous.term} to ${next.term}`);
    }
  }

  /** Reports a role change once the Ready that carries it is persisted (storage = core's log). */
  #noteRole(ready: Ready): void {
    if (ready.softState === undefined || ready.softState.role === this.role) return;
    this.role = ready.softState.role;
    this.hooks.roleChanged(this, this.role, this.#persistedHardState.term);
  }

  /** Step 1: memory storage in the contract's order; the disk log in WAL order. */
  #persist(ready: Ready): void {
    if (ready.snapshot !== undefined) {
      this.storage.applySnapshot(ready.snapshot);
      this.disk.write({ kind: "snapshot", snapshot: ready.snapshot, replacesLog: true });
    }
    if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
    if (ready.entries.length > 0) {
      this.storage.append(ready.entries);
      this.disk.write({ kind: "entries", entries: ready.entries });
    }
    if (ready.hardState !== undefined) {
      this.disk.write({ kind: "hardState", hardState: ready.hardState });
      this.#persistedHardState = ready.hardState;
    }
  }

  /** Steps 2-4 and the driver's own work after advance. */
  #complete(inProgress: InProgress): void {
    const { ready, sync } = inProgress;
    if (sync && !this.skipFsync) this.disk.sync();
    for (const message of ready.messages) this.hooks.send(this, message);
    if (ready.snapshot !== undefined) this.#restore(ready.snapshot);
    for (const entry of ready.committedEntries) this.#apply(entry);
    for (const read of ready.readStates) this.#reads.set(decoder.decode(read.context), read.index);
    this.raft.advance();
    this.#inReady = false;
    this.#inProgress = undefined;
    this.#serveReads();
    this.#maybeCompact();
    this.#releaseHeld();
  }

  #restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.applied) {
      this.hooks.violation(this, `snapshot at ${index} not beyond applied ${this.applied}`);
      return;
    }
    const restored = KvStateMachine.decode(snapshot.data);
    this.machine = restored;
    this.#lastSnapshotIndex = index;
    this.applied = index;
    this.confState = snapshot.metadata.confState;
    this.hooks.snapshotRestored(this, snapshot);
  }

  #apply(entry: Entry): void {
    if (entry.index !== this.applied + 1) {
      this.hooks.violation(this, `committed entry ${entry.index} after applied ${this.applied}`);
      if (entry.index <= this.applied) return;
    }
    this.applied = entry.index;
    this.hooks.applied(this, entry);
    if (entry.type === EntryType.ConfChange) {
      const decoded = decodeConfChange(entry.data);
      assert(decoded.ok, () => `node ${this.id}: undecodable conf change at ${entry.index}`);
      this.confState = this.raft.applyConfChange(decoded.value);
      this.hooks.confChangeApplied(this, entry, decoded.value);
      return;
    }
    const command = decodeCommand(entry.data);
    if (command === undefined) return;
    if (this.machine.has(command.value)) {
      this.hooks.violation(this, `value ${command.value} applied twice (again at ${entry.index})`);
      return;
    }
    this.machine.apply(command);
  }

  #serveReads(): void {
    for (const [context, index] of this.#reads) {
      if (index > this.applied) continue;
      this.#reads.delete(context);
      this.hooks.readServed(this, context, index);
    }
  }

  /** The driver's snapshot + compaction, every `snapshotEntries` applied entries. */
  #maybeCompact(): void {
    if (this.applied - this.#lastSnapshotIndex < this.knobs.snapshotEntries) return;
    const index = this.applied as LogIndex;
    if (index > this.storage.lastIndex()) return; // Applied from a snapshot not yet in the log.
    const created = this.storage.createSnapshot(index, this.confState, this.machine.encode());
    if (!created.ok) return;
    this.#lastSnapshotIndex = index;
    const compactIndex = Math.max(0, index - this.knobs.compactionKeepEntries);
    if (compactIndex >= this.storage.firstIndex()) {
      const compacted = this.storage.compact(compactIndex as LogIndex);
      assert(compacted.ok, () => `node ${this.id}: compact to ${compactIndex} failed`);
    }
    this.disk.write({ kind: "snapshot", snapshot: created.value, replacesLog: false, compactIndex });
  }

  #releaseHeld(): void {
    const held = this.#held.splice(0);
    for (const message of held) this.raft.step(message);
    for (; this.#heldTicks > 0; this.#heldTicks -= 1) this.raft.tick();
    const deferred = this.#deferred.splice(0);
    for (const action of deferred) action();
  }
}
