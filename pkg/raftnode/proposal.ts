/**
 * Proposal tracking. Every application entry starts with a 16-byte header naming the member
 * that proposed it and a per-member sequence number, so the proposer recognises its own
 * entry when it applies, on whichever leader it was committed (etcd puts a request id in the
 * entry for the same reason).
 *
 * A pending proposal ends in exactly one way:
 * - its entry applies: resolved with the state machine's result;
 * - this member was leader when it proposed, knows the entry's index, and another entry
 *   applies at that index: rejected with ETCD_LEADER_CHANGED (the entry was overwritten);
 * - a later proposal of this member applies first: rejected with ETCD_LEADER_CHANGED. One
 *   member's proposals reach the log in sequence order (one ordered stream to the leader,
 *   leaders append in arrival order, and log terms never decrease), so an earlier one that
 *   did not apply before a later one was dropped or overwritten with a leader change;
 * - its deadline passes: ETCD_TIMEOUT, or ETCD_TIMEOUT_DUE_TO_LEADER_FAIL after a leader
 *   change (the outcome is unknown, as etcd's);
 * - the node closes: ETCD_STOPPED.
 */
import {
  EtcdError, assert, type EtcdErrorCode, type LogIndex, type NodeId,
} from "../common/index.js";

/** Bytes of the header before the payload: proposer (u64) and sequence (u64), big-endian. */
export const proposalHeaderBytes = 16;

/** The proposer and sequence of an application entry. */
export interface ProposalHeader {
  readonly proposer: NodeId;
  readonly sequence: bigint;
}

/** `payload` with its header, as written to the log. */
export function encodeProposal(header: ProposalHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(proposalHeaderBytes + payload.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, header.proposer);
  view.setBigUint64(8, header.sequence);
  out.set(payload, proposalHeaderBytes);
  return out;
}

/** The header and payload of an entry's data; undefined for a no-op or foreign entry. */
export function decodeProposal(
  data: Uint8Array,
): { header: ProposalHeader; payload: Uint8Array } | undefined {
  if (data.length <= proposalHeaderBytes) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header = { proposer: view.getBigUint64(0) as NodeId, sequence: view.getBigUint64(8) };
  return { header, payload: data.subarray(proposalHeaderBytes) };
}

interface Pending<Result> {
  readonly deadlineMs: number;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: Error) => void;
}

/** This member's proposals that have not ended, in sequence order. */
export class PendingProposals<Result> {
  /** Insertion order is sequence order (sequences only grow). */
  readonly #pending = new Map<bigint, Pending<Result>>();
  /** Sequence expected at a log index, for proposals made while leader. */
  readonly #byIndex = new Map<LogIndex, bigint>();
  #lastSequence = -1n;
  /** True once a leader change was seen while proposals were pending (for the timeout code). */
  #leaderChanged = false;

  get size(): number {
    return this.#pending.size;
  }

  /** Starts tracking `sequence`; the promise ends as the module comment says. */
  add(sequence: bigint, deadlineMs: number): Promise<Result> {
    assert(sequence > this.#lastSequence, () =>
      `proposal sequence ${sequence} not above ${this.#lastSequence}`);
    this.#lastSequence = sequence;
    return new Promise<Result>((resolve, reject) => {
      this.#pending.set(sequence, { deadlineMs, resolve, reject });
    });
  }

  /** Records that `sequence` was appended by this member, as leader, at `index`. */
  placedAt(sequence: bigint, index: LogIndex): void {
    if (this.#pending.has(sequence)) this.#byIndex.set(index, sequence);
  }

  /** Ends `sequence` without an entry (the core refused it). */
  refuse(sequence: bigint, error: Error): void {
    const pending = this.#pending.get(sequence);
    if (pending === undefined) return;
    this.#pending.delete(sequence);
    pending.reject(error);
  }

  /**
   * An entry applied at `index`; `own` is its sequence and result when this member proposed
   * it. Resolves that proposal and rejects the ones the entry proves lost.
   */
  applied(index: LogIndex, own?: { sequence: bigint; result: Result }): void {
    const expected = this.#byIndex.get(index);
    this.#byIndex.delete(index);
    if (expected !== undefined && expected !== own?.sequence) {
      this.#end(expected, new EtcdError("ETCD_LEADER_CHANGED"));
    }
    if (own === undefined) return;
    for (const [sequence] of this.#pending) {
      if (sequence >= own.sequence) break;
      this.#end(sequence, new EtcdError("ETCD_LEADER_CHANGED"));
    }
    const pending = this.#pending.get(own.sequence);
    if (pending === undefined) return;
    this.#pending.delete(own.sequence);
    pending.resolve(own.result);
  }

  /** Notes a leader change: later timeouts say so. */
  leaderChanged(): void {
    if (this.#pending.size > 0) this.#leaderChanged = true;
  }

  /** Rejects every proposal whose deadline is at or before `nowMs`. */
  expire(nowMs: number): void {
    const code: EtcdErrorCode = this.#leaderChanged
      ? "ETCD_TIMEOUT_DUE_TO_LEADER_FAIL" : "ETCD_TIMEOUT";
    for (const [sequence, pending] of this.#pending) {
      if (pending.deadlineMs <= nowMs) this.#end(sequence, new EtcdError(code));
    }
    if (this.#pending.size === 0) this.#leaderChanged = false;
  }

  /** Rejects everything with `error` (close). */
  rejectAll(error: Error): void {
    for (const sequence of [...this.#pending.keys()]) this.#end(sequence, error);
    this.#byIndex.clear();
  }

  #end(sequence: bigint, error: Error): void {
    const pending = this.#pending.get(sequence);
    if (pending === undefined) return;
    this.#pending.delete(sequence);
    pending.reject(error);
  }
}
