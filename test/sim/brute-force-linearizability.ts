/**
 * A naive linearizability checker for tiny histories: tries every order of the operations that
 * respects real time, with every subset of the operations of unknown outcome. Exponential; it
 * exists only as an oracle for the property test of `checkLinearizable`.
 */
import { assert } from "../../pkg/common/index.js";
import type { Model, Operation } from "./linearizability.js";

/** Histories longer than this take too long to enumerate. */
export const bruteForceOperationsMax = 9;

/** True iff `history` is linearizable with respect to `model` (no partitioning, no memo). */
export function bruteForceLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): boolean {
  assert(history.length <= bruteForceOperationsMax, () =>
    `brute force over ${history.length} > ${bruteForceOperationsMax} operations`);
  const chosen = new Array<boolean>(history.length).fill(false);
  // An explicit stack of (state, next candidate) frames; depth ≤ history.length.
  const frames: { state: S; candidate: number; picked: number }[] = [
    { state: model.init(), candidate: 0, picked: -1 },
  ];
  for (;;) {
    const frame = frames[frames.length - 1];
    if (frame === undefined) return false;
    if (allKnownChosen(history, chosen)) return true;
    if (frame.candidate >= history.length) {
      frames.pop();
      if (frame.picked >= 0) chosen[frame.picked] = false;
      continue;
    }
    const candidate = frame.candidate;
    frame.candidate += 1;
    if (chosen[candidate] === true || !minimal(history, chosen, candidate)) continue;
    const operation = history[candidate] as Operation<I, O>;
    const result = model.step(frame.state, operation.input, operation.output);
    if (!result.ok) continue;
    chosen[candidate] = true;
    frames.push({ state: result.newState, candidate: 0, picked: candidate });
  }
}

function allKnownChosen<I, O>(history: readonly Operation<I, O>[], chosen: boolean[]): boolean {
  return history.every((operation, index) =>
    chosen[index] === true || operation.returnTime === Infinity);
}

/** True iff no unchosen operation precedes `candidate` in real time. */
function minimal<I, O>(
  history: readonly Operation<I, O>[],
  chosen: boolean[],
  candidate: number,
): boolean {
  const callTime = (history[candidate] as Operation<I, O>).callTime;
  return history.every((operation, index) =>
    chosen[index] === true || index === candidate || !(operation.returnTime < callTime));
}
