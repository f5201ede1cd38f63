/**
 * The sequential specification of one etcd key, for the linearizability checker of test/sim
 * (Wing & Gong with Lowe's memo). A recorded KV history is split into single-key operations
 * (a multi-key Txn becomes one put per key, all with the txn's times: the projection of a
 * linearizable history onto one key is linearizable, so this is sound, if weaker than a
 * whole-store check; the revision checks of revision-checker.ts cover the cross-key order).
 *
 * The state of a key is its value, version, mod_revision and create_revision. Every answer a
 * server gives about the key's state before an operation (a get's kvs, a put's or delete's
 * prev_kv, a CAS's prev_kv or failure-branch read) must equal the model's state, and a write
 * must get a revision above the key's current mod_revision. The revision a write lands at is
 * known from its own answer or, for an indeterminate write, from any read that saw its unique
 * value; a write nobody saw has revision -1 (unknown), which compares equal to any revision.
 * A CAS on mod_revision compares against a revision some client observed, so against an
 * unknown revision it fails, which is right: that revision belongs to another write.
 */
import type { Model, Operation, StepResult } from "../../sim/linearizability.js";
import type { CasCompare, KvRecord, KvSnapshot } from "./kv-history.js";
import { describeSnapshot } from "./kv-history.js";

/** The revision of a write that nobody observed. */
export const unknownRevision = -1;

export type KeyInput =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "delete"; readonly key: string }
  | {
    readonly kind: "put"; readonly key: string; readonly value: string;
    /** Where the write landed, from any observation; unknownRevision when never seen. */
    readonly landedRevision: number;
  }
  | {
    readonly kind: "cas"; readonly key: string; readonly compare: CasCompare;
    readonly value: string; readonly landedRevision: number;
  };

export interface KeyOutput {
  readonly revision: number;
  readonly before: KvSnapshot | null;
  readonly succeeded?: boolean;
}

/** A key's state; absent is value null with all numbers 0. */
export interface KeyState {
  readonly value: string | null;
  readonly version: number;
  readonly modRevision: number;
  readonly createRevision: number;
}

const absent: KeyState = { value: null, version: 0, modRevision: 0, createRevision: 0 };

/** A single-key operation and the record it came from. */
export interface KeyOperation extends Operation<KeyInput, KeyOutput> {
  readonly record: number;
}

function revisionsAgree(model: number, observed: number): boolean {
  return model === unknownRevision || model === observed;
}

/** Does the server's report of the key's state match the model's? */
function snapshotMatches(state: KeyState, seen: KvSnapshot | null): boolean {
  if (seen === null) return state.value === null;
  return state.value === seen.value && state.version === seen.version &&
    revisionsAgree(state.modRevision, seen.modRevision) &&
    revisionsAgree(state.createRevision, seen.createRevision);
}

function compareHolds(state: KeyState, compare: CasCompare): boolean {
  if (compare.by === "value") return state.value === compare.value;
  // An unknown revision is never one a client observed (see the file comment).
  return state.modRevision === compare.revision;
}

function afterPut(state: KeyState, value: string, revision: number): KeyState {
  const created = state.value === null;
  return {
    value, version: state.version + 1, modRevision: revision,
    createRevision: created ? revision : state.createRevision,
  };
}

/** A write's revision must exceed the key's mod_revision (when both are known). */
function revisionAdvances(state: KeyState, revision: number): boolean {
  return state.modRevision === unknownRevision || revision > state.modRevision;
}

function stepWrite(
  state: KeyState, input: KeyInput & { kind: "put" | "cas" }, output: KeyOutput | undefined,
): StepResult<KeyState> {
  const holds = input.kind === "put" || compareHolds(state, input.compare);
  const revision = output?.revision ?? input.landedRevision;
  const newState = holds ? afterPut(state, input.value, revision) : state;
  if (output === undefined) return { ok: true, newState };
  const ok = snapshotMatches(state, output.before) &&
    (input.kind === "put" || output.succeeded === holds) &&
    (!holds || revisionAdvances(state, output.revision));
  return { ok, newState };
}

function stepKey(
  state: KeyState, input: KeyInput, output: KeyOutput | undefined,
): StepResult<KeyState> {
  switch (input.kind) {
    case "get": {
      if (output === undefined) return { ok: true, newState: state };
      const ok = snapshotMatches(state, output.before) &&
        (state.modRevision === unknownRevision || output.revision >= state.modRevision);
      return { ok, newState: state };
    }
    case "delete": {
      if (output === undefined) return { ok: true, newState: absent };
      const ok = snapshotMatches(state, output.before) &&
        (state.value === null || revisionAdvances(state, output.revision));
      return { ok, newState: absent };
    }
    case "put": case "cas":
      return stepWrite(state, input, output);
  }
}

function hashKey(state: KeyState): string {
  return `${state.value ?? "∅"}|${state.version}|${state.modRevision}|${state.createRevision}`;
}

function describeKey(input: KeyInput, output: KeyOutput | undefined): string {
  const result = output === undefined ? "?"
    : `rev ${output.revision}${output.succeeded === undefined ? "" : ` ok=${output.succeeded}`}` +
      ` before ${describeSnapshot(output.before)}`;
  switch (input.kind) {
    case "get": case "delete": return `${input.kind}(${input.key}) -> ${result}`;
    case "put": return `put(${input.key}, ${input.value}) -> ${result}`;
    case "cas":
      return `cas(${input.key}, ${JSON.stringify(input.compare)}, ${input.value}) -> ${result}`;
  }
}

function partitionByKey(history: readonly Operation<KeyInput, KeyOutput>[]): number[][] {
  const byKey = new Map<string, number[]>();
  history.forEach((operation, index) => {
    const list = byKey.get(operation.input.key) ?? [];
    list.push(index);
    byKey.set(operation.input.key, list);
  });
  return [...byKey.keys()].sort().map((key) => byKey.get(key) ?? []);
}

/** The one-key model, partitioned by key. */
export function etcdKeyModel(): Model<KeyState, KeyInput, KeyOutput> {
  return {
    init: () => absent,
    step: stepKey,
    partition: partitionByKey,
    hash: hashKey,
    equal: (a, b) => hashKey(a) === hashKey(b),
    readOnly: (input) => input.kind === "get",
    describe: describeKey,
  };
}

/**
 * Where each written value landed, from every observation of it: a write's own answer and any
 * snapshot (read, prev_kv) showing it. Values are unique, so one value has one revision.
 */
export function landedRevisions(history: readonly KvRecord[]): Map<string, number> {
  const landed = new Map<string, number>();
  for (const record of history) {
    const result = record.result;
    if (result === undefined) continue;
    for (const seen of result.before) if (seen !== null) landed.set(seen.value, seen.modRevision);
    const call = record.call;
    if (call.kind === "put" || (call.kind === "cas" && result.succeeded === true)) {
      landed.set(call.value, result.revision);
    }
    if (call.kind === "multiPut") for (const put of call.puts) landed.set(put.value, result.revision);
  }
  return landed;
}

/** Splits a history into single-key operations for etcdKeyModel. */
export function toKeyOperations(history: readonly KvRecord[]): KeyOperation[] {
  const landed = landedRevisions(history);
  const landedOf = (value: string): number => landed.get(value) ?? unknownRevision;
  const operations: KeyOperation[] = [];
  history.forEach((record, index) => {
    const base = {
      clientId: record.client, callTime: record.invokeMs, returnTime: record.returnMs,
      record: index,
    };
    const result = record.result;
    const output = (position: number): KeyOutput | undefined => {
      if (result === undefined) return undefined;
      const before = result.before[position] ?? null;
      return result.succeeded === undefined
        ? { revision: result.revision, before }
        : { revision: result.revision, before, succeeded: result.succeeded };
    };
    const call = record.call;
    if (call.kind === "multiPut") {
      call.puts.forEach((put, position) => operations.push({
        ...base, output: output(position),
        input: { kind: "put", key: put.key, value: put.value, landedRevision: landedOf(put.value) },
      }));
      return;
    }
    const input: KeyInput = call.kind === "put" || call.kind === "cas"
      ? { ...call, landedRevision: landedOf(call.value) }
      : call;
    operations.push({ ...base, input, output: output(0) });
  });
  return operations;
}

