/**
 * A key-value map with etcd-like versions (0 when absent, +1 per put, reset by delete), checked
 * one key at a time: operations on different keys commute, so the history is partitioned by
 * key (P-compositionality) and each partition searched alone.
 */
import { assertNever } from "../../pkg/common/index.js";
import type { Model, Operation, StepResult } from "./linearizability.js";

/** What a compare-and-set compares: the key's version, or its value (null = absent). */
export type KvCompare =
  | { readonly by: "version"; readonly version: number }
  | { readonly by: "value"; readonly value: string | null };

export type KvInput =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "delete"; readonly key: string }
  | {
    readonly kind: "cas"; readonly key: string; readonly compare: KvCompare;
    readonly value: string;
  };

export type KvOutput =
  | { readonly kind: "get"; readonly value: string | null; readonly version: number }
  /** `version`, when known, is the key's version the put created (etcd returns a revision). */
  | { readonly kind: "put"; readonly version?: number }
  | { readonly kind: "delete"; readonly deleted: boolean }
  | { readonly kind: "cas"; readonly succeeded: boolean };

/** One key's value and version. An absent key is `{ value: null, version: 0 }`. */
export interface KvCell {
  readonly value: string | null;
  readonly version: number;
}

/** The map: immutable, replaced on every write. */
export type KvState = ReadonlyMap<string, KvCell>;

const absent: KvCell = { value: null, version: 0 };

function withCell(state: KvState, key: string, cell: KvCell): KvState {
  const next = new Map(state);
  if (cell.value === null) next.delete(key);
  else next.set(key, cell);
  return next;
}

function compareHolds(cell: KvCell, compare: KvCompare): boolean {
  return compare.by === "version" ? cell.version === compare.version : cell.value === compare.value;
}

function stepKv(
  state: KvState,
  input: KvInput,
  output: KvOutput | undefined,
): StepResult<KvState> {
  const cell = state.get(input.key) ?? absent;
  const put = (value: string): KvState =>
    withCell(state, input.key, { value, version: cell.version + 1 });
  switch (input.kind) {
    case "get":
      if (output === undefined) return { ok: true, newState: state };
      return {
        ok: output.kind === "get" && output.value === cell.value && output.version === cell.version,
        newState: state,
      };
    case "put": {
      const version = cell.version + 1;
      const ok = output === undefined ||
        (output.kind === "put" && (output.version === undefined || output.version === version));
      return { ok, newState: put(input.value) };
    }
    case "delete": {
      const newState = withCell(state, input.key, absent);
      if (output === undefined) return { ok: true, newState };
      return { ok: output.kind === "delete" && output.deleted === (cell.value !== null), newState };
    }
    case "cas": {
      const holds = compareHolds(cell, input.compare);
      const newState = holds ? put(input.value) : state;
      if (output === undefined) return { ok: true, newState };
      return { ok: output.kind === "cas" && output.succeeded === holds, newState };
    }
    default:
      return assertNever(input, "kv input");
  }
}

function hashKv(state: KvState): string {
  const keys = [...state.keys()].sort();
  return JSON.stringify(keys.map((key) => [key, state.get(key)?.value, state.get(key)?.version]));
}

function partitionByKey(history: readonly Operation<KvInput, KvOutput>[]): number[][] {
  const byKey = new Map<string, number[]>();
  history.forEach((operation, index) => {
    const indexes = byKey.get(operation.input.key) ?? [];
    indexes.push(index);
    byKey.set(operation.input.key, indexes);
  });
  return [...byKey.keys()].sort().map((key) => byKey.get(key) ?? []);
}

function describeKv(input: KvInput, output: KvOutput | undefined): string {
  const result = output === undefined ? "?" : JSON.stringify(output);
  switch (input.kind) {
    case "get": return `get(${input.key}) -> ${result}`;
    case "put": return `put(${input.key}, ${input.value}) -> ${result}`;
    case "delete": return `delete(${input.key}) -> ${result}`;
    case "cas": return `cas(${input.key}, ${JSON.stringify(input.compare)}, ${input.value}) -> ${result}`;
    default: return assertNever(input, "kv input");
  }
}

/** The key-value model, partitioned by key. */
export function kvModel(): Model<KvState, KvInput, KvOutput> {
  return {
    init: () => new Map<string, KvCell>(),
    step: stepKv,
    partition: partitionByKey,
    hash: hashKv,
    equal: (a, b) => hashKv(a) === hashKv(b),
    describe: describeKv,
    readOnly: (input) => input.kind === "get",
  };
}
