/**
 * The safety checkers of a simulation run, fed by every node as it applies entries:
 *
 * - election safety: at most one leader per term, across all nodes and incarnations;
 * - leader completeness: a new leader's log holds every entry already applied anywhere;
 * - state machine safety: the entry applied at index i is the same on every node that applies
 *   i (a canonical committed log, set by the first node to apply each index), and a snapshot
 *   installed at index s holds exactly the canonical commands up to s;
 * - no acknowledged write lost: checked at the end against every live member's state machine
 *   (`checkConverged`), together with identical apply sequences.
 */
import type { NodeId, Term } from "../../pkg/common/index.js";
import { type Entry, EntryType, type Snapshot } from "../../pkg/raft/index.js";
import { KvStateMachine, decodeCommand } from "./sim-state-machine.js";

const decoder = new TextDecoder();

/** The identity of an entry: term, type and data. */
function entryKey(entry: Entry): string {
  return `${entry.term}/${entry.type}/${decoder.decode(entry.data)}`;
}

export class SafetyChecker {
  readonly failures: string[] = [];
  readonly #leaders = new Map<number, NodeId>();
  /** Index → entry key; index 0 unused. */
  readonly #canonical: (string | undefined)[] = [];
  /** Index → the value put by the canonical entry at that index, if it is a put. */
  readonly #canonicalValues: (string | undefined)[] = [];
  readonly #canonicalTerms: (number | undefined)[] = [];

  fail(message: string): void {
    if (this.failures.length < 20) this.failures.push(message);
  }

  get committedIndexMax(): number {
    return this.#canonical.length - 1;
  }

  leaderElected(node: NodeId, term: Term): void {
    const known = this.#leaders.get(term);
    if (known === undefined) this.#leaders.set(term, node);
    else if (known !== node) this.fail(`two leaders in term ${term}: ${known} and ${node}`);
  }

  /**
   * A node just became leader: its log must reach the highest applied index, and hold there
   * the entry that was applied (`termAt` gives its term, undefined when compacted away).
   */
  leaderCompleteness(node: NodeId, lastIndex: number,
    termAt: (index: number) => number | undefined): void {
    const committed = this.committedIndexMax;
    if (committed <= 0) return;
    if (lastIndex < committed) {
      this.fail(`leader ${node} has log up to ${lastIndex}, missing committed entries up to ` +
        `${committed}`);
      return;
    }
    const term = termAt(committed);
    const expected = this.#canonicalTerms[committed];
    if (term !== undefined && term !== expected) {
      this.fail(`leader ${node} has term ${term} at committed index ${committed}, ` +
        `which was applied with term ${expected}`);
    }
  }

  entryApplied(node: NodeId, entry: Entry): void {
    const key = entryKey(entry);
    const known = this.#canonical[entry.index];
    if (known === undefined) {
      this.#canonical[entry.index] = key;
      this.#canonicalTerms[entry.index] = entry.term;
      if (entry.type === EntryType.Normal) {
        this.#canonicalValues[entry.index] = decodeCommand(entry.data)?.value;
      }
      return;
    }
    if (known !== key) {
      this.fail(`node ${node} applied ${JSON.stringify(key)} at ${entry.index}, ` +
        `others applied ${JSON.stringify(known)}`);
    }
  }

  /** A node installed `snapshot`: its state must be the canonical commands up to its index. */
  snapshotRestored(node: NodeId, snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    const expected: string[] = [];
    for (let i = 1; i <= index; i += 1) {
      if (this.#canonical[i] === undefined) {
        this.fail(`node ${node} installed a snapshot at ${index} but no node applied ${i}`);
        return;
      }
      const value = this.#canonicalValues[i];
      if (value !== undefined) expected.push(value);
    }
    const actual = KvStateMachine.decode(snapshot.data).values;
    if (actual.join(",") !== expected.join(",")) {
      this.fail(`node ${node} installed a snapshot at ${index} whose ${actual.length} values ` +
        `differ from the ${expected.length} committed up to there`);
    }
  }

  /**
   * At the end: the live members' state machines are identical and contain every
   * acknowledged value exactly once.
   */
  checkConverged(machines: ReadonlyMap<NodeId, KvStateMachine>, acked: readonly string[]): void {
    let reference: { node: NodeId; values: string } | undefined;
    for (const [node, machine] of machines) {
      const values = machine.values.join(",");
      if (reference === undefined) reference = { node, values };
      else if (reference.values !== values) {
        this.fail(`nodes ${reference.node} and ${node} end with different apply sequences ` +
          `(${reference.values.split(",").length} vs ${machine.size} values)`);
      }
      const missing = acked.filter((value) => !machine.has(value));
      if (missing.length > 0) {
        this.fail(`node ${node} lost ${missing.length} acknowledged writes: ` +
          missing.slice(0, 5).join(" "));
      }
    }
  }
}
