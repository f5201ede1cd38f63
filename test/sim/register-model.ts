/**
 * A single read/write/compare-and-set register: the sequential specification Knossos and
 * Jepsen check etcd against. Values are numbers; the register starts at `initial`.
 */
import { assertNever } from "../../pkg/common/index.js";
import type { Model, StepResult } from "./linearizability.js";

export type RegisterInput =
  | { readonly kind: "read" }
  | { readonly kind: "write"; readonly value: number }
  | { readonly kind: "cas"; readonly expected: number; readonly value: number };

export type RegisterOutput =
  | { readonly kind: "read"; readonly value: number }
  | { readonly kind: "write" }
  | { readonly kind: "cas"; readonly succeeded: boolean };

function stepRegister(
  state: number,
  input: RegisterInput,
  output: RegisterOutput | undefined,
): StepResult<number> {
  switch (input.kind) {
    case "read":
      if (output === undefined) return { ok: true, newState: state };
      return { ok: output.kind === "read" && output.value === state, newState: state };
    case "write":
      return { ok: output === undefined || output.kind === "write", newState: input.value };
    case "cas": {
      const swapped = state === input.expected;
      const newState = swapped ? input.value : state;
      if (output === undefined) return { ok: true, newState };
      return { ok: output.kind === "cas" && output.succeeded === swapped, newState };
    }
    default:
      return assertNever(input, "register input");
  }
}

function describeRegister(input: RegisterInput, output: RegisterOutput | undefined): string {
  const result = output === undefined ? "?" : JSON.stringify(output);
  switch (input.kind) {
    case "read": return `read -> ${result}`;
    case "write": return `write(${input.value}) -> ${result}`;
    case "cas": return `cas(${input.expected}, ${input.value}) -> ${result}`;
    default: return assertNever(input, "register input");
  }
}

/** The register model, starting at `initial`. */
export function registerModel(initial = 0): Model<number, RegisterInput, RegisterOutput> {
  return {
    init: () => initial,
    step: stepRegister,
    hash: (state) => String(state),
    equal: (a, b) => a === b,
    describe: describeRegister,
    readOnly: (input) => input.kind === "read",
  };
}
