/**
 * Seeded random register histories for the property test of the checker: an honest execution
 * (each operation takes effect at a random instant inside its interval), some operations made
 * pending (unknown outcome, which did or did not take effect), and sometimes one observed
 * output corrupted, so that both linearizable and non-linearizable histories come out.
 */
import type { Prng } from "../../pkg/common/index.js";
import type { Operation } from "./linearizability.js";
import type { RegisterInput, RegisterOutput } from "./register-model.js";

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

interface Draft {
  readonly clientId: number;
  readonly input: RegisterInput;
  readonly callTime: number;
  readonly returnTime: number;
  /** The instant the operation takes effect, inside [callTime, returnTime]. */
  readonly point: number;
  readonly pending: boolean;
  /** For a pending operation: whether it took effect at all. */
  readonly happened: boolean;
}

function randomInput(prng: Prng): RegisterInput {
  switch (prng.intBelow(3)) {
    case 0: return { kind: "read" };
    case 1: return { kind: "write", value: prng.intBetween(1, 3) };
    default: return { kind: "cas", expected: prng.intBelow(4), value: prng.intBetween(1, 3) };
  }
}

function draft(prng: Prng): Draft {
  const callTime = prng.intBelow(20);
  const returnTime = callTime + prng.intBelow(8);
  const pending = prng.chance(0.2);
  return {
    clientId: prng.intBelow(4), input: randomInput(prng), callTime,
    returnTime: pending ? Infinity : returnTime,
    point: callTime + prng.nextFloat() * (returnTime - callTime),
    pending, happened: !pending || prng.chance(0.5),
  };
}

function execute(state: number, input: RegisterInput): { state: number; output: RegisterOutput } {
  if (input.kind === "read") return { state, output: { kind: "read", value: state } };
  if (input.kind === "write") return { state: input.value, output: { kind: "write" } };
  const succeeded = state === input.expected;
  return { state: succeeded ? input.value : state, output: { kind: "cas", succeeded } };
}

function corrupt(prng: Prng, output: RegisterOutput): RegisterOutput {
  if (output.kind === "read") return { kind: "read", value: (output.value + 1 + prng.intBelow(3)) % 4 };
  if (output.kind === "cas") return { kind: "cas", succeeded: !output.succeeded };
  return output;
}

/** A random history of 1..`operationsMax` register operations. */
export function randomRegisterHistory(prng: Prng, operationsMax: number): RegisterOperation[] {
  const drafts = Array.from({ length: prng.intBetween(1, operationsMax) }, () => draft(prng));
  const order = drafts.map((_, index) => index).sort((a, b) =>
    (drafts[a]?.point ?? 0) - (drafts[b]?.point ?? 0) || a - b);
  const outputs = new Array<RegisterOutput | undefined>(drafts.length);
  let state = 0;
  for (const index of order) {
    const operation = drafts[index] as Draft;
    if (!operation.happened) continue;
    const step = execute(state, operation.input);
    state = step.state;
    outputs[index] = step.output;
  }
  const corrupted = prng.chance(0.5) ? prng.intBelow(drafts.length) : -1;
  return drafts.map((operation, index) => {
    let output = operation.pending ? undefined : outputs[index];
    if (index === corrupted && output !== undefined) output = corrupt(prng, output);
    return {
      clientId: operation.clientId, input: operation.input, output,
      callTime: operation.callTime, returnTime: operation.returnTime,
    };
  });
}
