/**
 * The cluster's membership as the checker knows it (the configuration of the last committed
 * conf change, in log order) and the driver's policy for changing it at a safe rate: one
 * change at a time; promote a learner once added; add a learner (a brand-new id, never reused)
 * while below the voter ceiling; remove a voter (the leader included) while above three.
 */
import { type NodeId, type Prng, assertNever, nodeId } from "../../pkg/common/index.js";
import { type ConfChange, ConfChangeType } from "../../pkg/raft/index.js";

export class Membership {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  /** Ids removed from the cluster: never restarted, never reused. */
  readonly removed = new Set<NodeId>();
  /** Index of the last conf change folded in; later applies of earlier indexes are ignored. */
  #index = 0;
  #nextId: bigint;

  constructor(initialVoters: readonly NodeId[], private readonly votersMax: number) {
    for (const id of initialVoters) this.voters.add(id);
    this.#nextId = BigInt(initialVoters.length + 1);
  }

  has(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  get members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  /** Folds in a committed conf change at `index`; returns false when already folded in. */
  fold(index: number, change: ConfChange): boolean {
    if (index <= this.#index) return false;
    this.#index = index;
    switch (change.type) {
      case ConfChangeType.AddNode:
        this.learners.delete(change.nodeId);
        this.voters.add(change.nodeId);
        break;
      case ConfChangeType.AddLearner:
        this.voters.delete(change.nodeId);
        this.learners.add(change.nodeId);
        break;
      case ConfChangeType.RemoveNode:
        this.voters.delete(change.nodeId);
        this.learners.delete(change.nodeId);
        this.removed.add(change.nodeId);
        break;
      default:
        assertNever(change.type, "conf change type");
    }
    return true;
  }

  /** The next change to propose, or undefined to leave the membership alone. */
  plan(prng: Prng): ConfChange | undefined {
    const context = new Uint8Array(0);
    const learner = [...this.learners][0];
    if (learner !== undefined) return { type: ConfChangeType.AddNode, nodeId: learner, context };
    const canAdd = this.voters.size < this.votersMax;
    const canRemove = this.voters.size > 3;
    if (canAdd && (!canRemove || prng.chance(0.5))) {
      const id = nodeId(this.#nextId);
      this.#nextId += 1n;
      const type = prng.chance(0.25) ? ConfChangeType.AddNode : ConfChangeType.AddLearner;
      return { type, nodeId: id, context };
    }
    if (!canRemove) return undefined;
    const victim = prng.pick([...this.voters].sort((a, b) => Number(a - b)));
    return { type: ConfChangeType.RemoveNode, nodeId: victim, context };
  }
}
