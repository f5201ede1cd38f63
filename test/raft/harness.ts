/**
 * A small deterministic in-memory network of RawNodes for the Raft tests. Each node has a
 * MemoryStorage and follows the Ready contract exactly: persist snapshot, hard state and
 * entries, then queue messages, then apply committed entries (calling applyConfChange for
 * conf changes), then advance. Messages wait in one FIFO queue until a test delivers them,
 * optionally dropping or filtering; links can be cut in either direction.
 */
import { type LogIndex, type NodeId, type Term } from "../../pkg/common/index.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  type RaftConfig,
  RawNode,
  type Ready,
  type ReadState,
  decodeConfChange,
} from "../../pkg/raft/index.js";

export const id = (n: number | bigint): NodeId => BigInt(n) as NodeId;
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const textOf = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface NodeOptions {
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly seed?: number;
  readonly maxMessageBytes?: number;
  readonly maxInflightMessages?: number;
  readonly maxUncommittedBytes?: number;
  readonly maxEntriesPerMessage?: number;
  readonly maxInflightBytes?: number;
  /** Finish a leader's Ready only after its early messages were delivered (see processReady). */
  readonly asyncLeaderAppend?: boolean;
}

/** One node of the harness and what its driver has seen. */
export interface HarnessNode {
  readonly id: NodeId;
  node: RawNode;
  readonly storage: MemoryStorage;
  /** Every Ready this node produced, in order. */
  readonly readies: Ready[];
  /** Entries applied to the "state machine", in order. */
  readonly applied: Entry[];
  readonly readStates: ReadState[];
  confState: ConfState;
  /** The state machine: the non-empty Normal entries' data applied so far (or restored). */
  state: string[];
}

export class Cluster {
  readonly nodes = new Map<NodeId, HarnessNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Directed links that drop everything: "from->to". */
  readonly cut = new Set<string>();
  /** Readies whose early messages went out but whose persist and advance are still due. */
  readonly pending = new Map<NodeId, Ready>();
  readonly options: NodeOptions;

  /** Builds voters `voters` (and `learners`) sharing the initial configuration. */
  constructor(voters: readonly number[], options: NodeOptions = {}, learners: number[] = []) {
    this.options = options;
    const confState: ConfState = { voters: voters.map(id), learners: learners.map(id) };
    for (const n of [...voters, ...learners]) this.add(n, confState);
  }

  /** Adds a node starting from `confState` (an empty one for a node joining later). */
  add(n: number, confState: ConfState): HarnessNode {
    const storage = new MemoryStorage(confState);
    const harnessNode: HarnessNode = {
      id: id(n), node: new RawNode(this.config(n, storage)), storage, readies: [], applied: [],
      readStates: [], confState, state: [],
    };
    this.nodes.set(id(n), harnessNode);
    return harnessNode;
  }

  config(n: number, storage: MemoryStorage, applied = 0): RaftConfig {
    const o = this.options;
    return {
      id: id(n), storage, applied: applied as LogIndex,
      electionTicks: o.electionTicks ?? 10, heartbeatTicks: o.heartbeatTicks ?? 1,
      seed: (o.seed ?? 1) * 100 + n, preVote: o.preVote ?? true, checkQuorum: o.checkQuorum ?? true,
      ...(o.maxMessageBytes === undefined ? {} : { maxMessageBytes: o.maxMessageBytes }),
      ...(o.maxInflightMessages === undefined ? {} : { maxInflightMessages: o.maxInflightMessages }),
      ...(o.maxUncommittedBytes === undefined ? {} : { maxUncommittedBytes: o.maxUncommittedBytes }),
      ...(o.maxEntriesPerMessage === undefined ? {} : { maxEntriesPerMessage: o.maxEntriesPerMessage }),
      ...(o.maxInflightBytes === undefined ? {} : { maxInflightBytes: o.maxInflightBytes }),
    };
  }

  get(n: number | bigint): HarnessNode {
    const node = this.nodes.get(id(n));
    if (node === undefined) throw new Error(`no node ${n}`);
    return node;
  }

  raw(n: number | bigint): RawNode {
    return this.get(n).node;
  }

  /** Restarts node `n` from its storage (everything it persisted), keeping its applied index. */
  restart(n: number): void {
    const h = this.get(n);
    this.pending.delete(h.id); // A crash loses the unpersisted part of an outstanding Ready.
    // Restart from the snapshot: entries after it are re-delivered, so conf changes are
    // re-applied to the core, and the state machine skips what it already has (etcd's
    // consistent index).
    const held = h.storage.snapshot();
    const snapshotIndex = held.ok ? held.value.metadata.index : 0;
    h.node = new RawNode(this.config(n, h.storage, snapshotIndex));
  }

  /**
   * Handles one Ready of node `n` by the contract; returns it (or undefined if none). With
   * `asyncLeaderAppend`, a Ready with early messages sends them at once and is finished
   * (persist, send, apply, advance) only at the next `processAll`, after a delivery: the
   * leader's disk write runs in parallel with replication, and steps arrive in between.
   */
  processReady(n: number | bigint): Ready | undefined {
    const h = this.get(n);
    if (!h.node.hasReady()) return undefined;
    const rd = h.node.ready();
    h.readies.push(rd);
    if (this.options.asyncLeaderAppend === true && rd.earlyMessages.length > 0) {
      this.queue.push(...rd.earlyMessages);
      this.pending.set(h.id, rd);
      return rd;
    }
    this.queue.push(...rd.earlyMessages);
    this.finishReady(h, rd);
    return rd;
  }

  /** Steps 1-4 of the Ready contract for `rd` (early messages already sent). */
  finishReady(h: HarnessNode, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      const applied = h.storage.applySnapshot(rd.snapshot);
      if (!applied.ok) throw new Error(`node ${h.id}: snapshot refused: ${applied.error}`);
    }
    if (rd.hardState !== undefined) h.storage.setHardState(rd.hardState);
    h.storage.append(rd.entries);
    this.queue.push(...rd.messages);
    if (rd.snapshot !== undefined) {
      h.confState = rd.snapshot.metadata.confState;
      h.state = JSON.parse(textOf(rd.snapshot.data)) as string[];
    }
    for (const entry of rd.committedEntries) {
      const appliedBefore = h.applied[h.applied.length - 1]?.index ?? 0;
      if (entry.index <= appliedBefore && entry.type !== EntryType.ConfChange) continue;
      if (entry.type === EntryType.ConfChange) {
        const cc = decodeConfChange(entry.data);
        if (!cc.ok) throw new Error(`node ${h.id}: bad conf change ${cc.error}`);
        h.confState = h.node.applyConfChange(cc.value);
        if (entry.index <= appliedBefore) continue;
      } else if (entry.data.length > 0) {
        h.state.push(textOf(entry.data));
      }
      h.applied.push(entry);
    }
    h.readStates.push(...rd.readStates);
    h.node.advance();
  }

  /** Processes Readies of every node until none has one. */
  processAll(): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const [nodeId, rd] of pending) this.finishReady(this.get(nodeId), rd);
    for (let round = 0; round < 100; round += 1) {
      let any = false;
      for (const n of this.nodes.keys()) if (this.processReady(n) !== undefined) any = true;
      if (!any) return;
    }
    throw new Error("readies did not settle in 100 rounds");
  }

  /**
   * Delivers the queued messages (those sent before this call) that `keep` accepts and
   * whose link is not cut; the others are dropped. Returns the delivered ones.
   */
  deliver(keep: (m: Message) => boolean = () => true): Message[] {
    const batch = this.queue;
    this.queue = [];
    const delivered: Message[] = [];
    for (const m of batch) {
      const target = this.nodes.get(m.to);
      const dropped = !keep(m) || this.cut.has(`${m.from}->${m.to}`) || target === undefined;
      // The transport reports every snapshot it sends, or fails to (Ready contract).
      if (m.type === "installSnapshot") this.nodes.get(m.from)?.node.reportSnapshot(m.to, !dropped);
      if (dropped) continue;
      const result = target.node.step(m);
      if (!result.ok) throw new Error(`step refused: ${result.error}`);
      delivered.push(m);
    }
    return delivered;
  }

  /** Processes readies and delivers messages until the network is quiet. */
  stabilize(keep?: (m: Message) => boolean): void {
    for (let round = 0; round < 1000; round += 1) {
      this.processAll();
      if (this.queue.length === 0 && this.pending.size === 0) return;
      this.deliver(keep);
    }
    throw new Error("cluster did not stabilize in 1000 rounds");
  }

  /** Ticks every node (or the listed ones) `times` times, stabilizing after each tick. */
  tick(times: number, only?: readonly number[]): void {
    for (let i = 0; i < times; i += 1) {
      for (const [nodeId, h] of this.nodes) {
        if (only === undefined || only.includes(Number(nodeId))) h.node.tick();
      }
      this.stabilize();
    }
  }

  /** Cuts both directions between `a` and every node in `others`. */
  isolate(a: number, others: readonly number[] = [...this.nodes.keys()].map(Number)): void {
    for (const b of others) {
      if (b === a) continue;
      this.cut.add(`${a}->${b}`);
      this.cut.add(`${b}->${a}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Campaigns node `n` and stabilizes: with a connected majority, it becomes leader. */
  elect(n: number): void {
    this.raw(n).campaign();
    this.stabilize();
  }

  /** The nodes that believe they are leader. */
  leaders(): number[] {
    return [...this.nodes.values()]
      .filter((h) => h.node.status().role === "leader")
      .map((h) => Number(h.id));
  }

  /** Node `n`'s state machine: the data of the non-empty Normal entries applied, as text. */
  appliedText(n: number): string[] {
    return this.get(n).state;
  }

  /**
   * Snapshots node `n`'s state machine at its applied index and compacts its log up to
   * there, keeping `keep` entries behind it (the driver's log compaction).
   */
  compact(n: number, keep = 0): void {
    const h = this.get(n);
    const index = h.node.applied();
    const held = h.storage.snapshot();
    if (held.ok && index <= held.value.metadata.index) return; // Already snapshotted there.
    const snapshot = h.storage.createSnapshot(index, h.confState, text(JSON.stringify(h.state)));
    if (!snapshot.ok) throw new Error(`snapshot of ${n}: ${snapshot.error}`);
    const compactIndex = index - keep;
    if (compactIndex < h.storage.firstIndex()) return; // Nothing new to drop.
    const compacted = h.storage.compact(compactIndex as LogIndex);
    if (!compacted.ok) throw new Error(`compact of ${n}: ${compacted.error}`);
  }

  /** Rebuilds node `n` as if it had persisted `entries` and `term` before starting. */
  preload(n: number, entries: readonly Entry[], term: number): void {
    const h = this.get(n);
    h.storage.append(entries);
    h.storage.setHardState({ term: term as Term, vote: 0n as NodeId, commit: 0 as LogIndex });
    this.restart(n);
  }

  /** Node `n`'s stable log as [index, term] pairs (from its storage). */
  logOf(n: number): [number, number][] {
    const s = this.get(n).storage;
    const entries = s.entries(s.firstIndex(), (s.lastIndex() + 1) as LogIndex, Infinity);
    if (!entries.ok) throw new Error(`log of ${n}: ${entries.error}`);
    return entries.value.map((e) => [e.index, e.term]);
  }
}

/** An entry for hand-built logs. */
export function entry(index: number, term: number, data = ""): Entry {
  return { index: index as LogIndex, term: term as Term, type: EntryType.Normal, data: text(data) };
}
