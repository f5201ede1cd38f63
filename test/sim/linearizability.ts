/**
 * A linearizability checker: the Wing & Gong search with Lowe's memoization of
 * (linearized set, model state), as porcupine (anishathalye/porcupine) does it.
 *
 * A history is a list of completed or pending operations. An operation whose outcome is unknown
 * (timed out, connection lost) has `returnTime = Infinity` and `output = undefined`: it may have
 * taken effect at any point after its call, or never. The search treats it accordingly: it may be
 * linearized anywhere after its call, and once every operation with a known outcome is
 * linearized the remaining unknown ones are taken not to have happened.
 *
 * Operation A precedes operation B in real time iff `A.returnTime < B.callTime`; equal times
 * count as concurrent. The search is bounded by a step budget and answers "unknown" instead of
 * hanging when the budget runs out.
 */
import { assert } from "../../pkg/common/index.js";

/** One client operation of a history. */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  /** The observed output; undefined iff the outcome is unknown (`returnTime` is Infinity). */
  readonly output: O | undefined;
  /** When the client issued the call. Finite. */
  readonly callTime: number;
  /** When the client saw the result; Infinity when it never did. `returnTime >= callTime`. */
  readonly returnTime: number;
}

/** The result of applying one operation to a model state. */
export interface StepResult<S> {
  /** False when the operation, with its observed output, is impossible in `state`. */
  readonly ok: boolean;
  /** The state after the operation (meaningful only when `ok`). */
  readonly newState: S;
}

/**
 * A sequential specification. `step` is pure and deterministic; states are never mutated.
 * `hash` must give equal strings for equal states; `equal` decides equality among states that
 * share a hash (it may simply compare hashes when the hash is canonical).
 */
export interface Model<S, I, O> {
  init(): S;
  /** `output` is undefined for an operation whose outcome is unknown: accept any result. */
  step(state: S, input: I, output: O | undefined): StepResult<S>;
  /**
   * Splits a history into independent sub-histories (P-compositionality: e.g. one per key of a
   * map). Each element lists indexes into `history`. Absent: the history is one partition.
   */
  partition?(history: readonly Operation<I, O>[]): number[][];
  hash(state: S): string;
  equal(a: S, b: S): boolean;
  /**
   * True when `input` never changes the state (a read), whatever the state: the search then
   * linearizes it eagerly. Absent: no operation is treated as read-only.
   */
  readOnly?(input: I): boolean;
  /** A human-readable rendering of an operation, for failure reports. */
  describe?(input: I, output: O | undefined): string;
}

/** "ok": linearizable; "illegal": not; "unknown": the step budget ran out first. */
export type CheckOutcome = "ok" | "illegal" | "unknown";

/** The verdict on one partition of a history. */
export interface PartitionResult {
  readonly outcome: CheckOutcome;
  /** Indexes into the checked history of the operations of this partition. */
  readonly operations: readonly number[];
  /** The longest linearized prefix found (indexes into the history), for diagnosis. */
  readonly longestPrefix: readonly number[];
  readonly steps: number;
}

/** The verdict on a whole history: illegal if any partition is, else unknown if any is. */
export interface CheckResult {
  readonly outcome: CheckOutcome;
  readonly partitions: readonly PartitionResult[];
}

export interface CheckOptions {
  /** Search steps allowed per partition before answering "unknown". */
  readonly stepBudgetPerPartition?: number;
}

/** Default search budget: a few seconds of search on a partition of a few hundred operations. */
export const checkStepBudgetDefault = 2_000_000;

/** Checks that `history` is linearizable with respect to `model`. */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult {
  for (const [index, operation] of history.entries()) validateOperation(operation, index);
  const budget = options.stepBudgetPerPartition ?? checkStepBudgetDefault;
  assert(budget > 0, () => `step budget ${budget} must be positive`);
  const partitions = model.partition?.(history) ?? [history.map((_, index) => index)];
  const covered = partitions.reduce((sum, part) => sum + part.length, 0);
  assert(covered === history.length, () =>
    `partitions cover ${covered} operations of ${history.length}`);
  const results = partitions.map((part) => checkPartition(model, history, part, budget));
  let outcome: CheckOutcome = "ok";
  if (results.some((result) => result.outcome === "unknown")) outcome = "unknown";
  if (results.some((result) => result.outcome === "illegal")) outcome = "illegal";
  return { outcome, partitions: results };
}

function validateOperation<I, O>(operation: Operation<I, O>, index: number): void {
  assert(Number.isFinite(operation.callTime), () =>
    `operation ${index}: call time ${operation.callTime} is not finite`);
  assert(operation.returnTime >= operation.callTime, () =>
    `operation ${index}: return ${operation.returnTime} < call ${operation.callTime}`);
  const unknown = operation.returnTime === Infinity;
  assert(unknown === (operation.output === undefined), () =>
    `operation ${index}: output must be undefined exactly when the return time is Infinity`);
}

/**
 * The events of a partition as a doubly linked list over arrays: node 0 is the head sentinel,
 * nodes 1..2n are the call and return events in time order. -1 is "none".
 */
interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** For a call node, its return node; for a return node, its call node. */
  readonly match: Int32Array;
  /** The position in the partition of the node's operation. */
  readonly operationOf: Int32Array;
  readonly isCall: Uint8Array;
  /** 1 for the return node of an operation with unknown outcome. */
  readonly isPendingReturn: Uint8Array;
}

function buildEventList<I, O>(operations: readonly Operation<I, O>[]): EventList {
  const events: { time: number; call: boolean; operation: number }[] = [];
  operations.forEach((operation, position) => {
    events.push({ time: operation.callTime, call: true, operation: position });
    events.push({ time: operation.returnTime, call: false, operation: position });
  });
  // Calls sort before returns at equal times, so equal times mean "concurrent".
  events.sort((a, b) => a.time - b.time || Number(b.call) - Number(a.call) ||
    a.operation - b.operation);
  const size = events.length + 1;
  const list: EventList = {
    next: new Int32Array(size), prev: new Int32Array(size), match: new Int32Array(size),
    operationOf: new Int32Array(size), isCall: new Uint8Array(size),
    isPendingReturn: new Uint8Array(size),
  };
  const callNode = new Int32Array(operations.length);
  const returnNode = new Int32Array(operations.length);
  events.forEach((event, position) => {
    const node = position + 1;
    list.operationOf[node] = event.operation;
    list.isCall[node] = event.call ? 1 : 0;
    list.isPendingReturn[node] = !event.call && event.time === Infinity ? 1 : 0;
    (event.call ? callNode : returnNode)[event.operation] = node;
  });
  for (let node = 0; node < size; node += 1) {
    list.next[node] = node + 1 < size ? node + 1 : -1;
    list.prev[node] = node - 1;
  }
  for (let operation = 0; operation < operations.length; operation += 1) {
    const call = callNode[operation] ?? 0;
    const ret = returnNode[operation] ?? 0;
    list.match[call] = ret;
    list.match[ret] = call;
  }
  return list;
}

function unlink(list: EventList, node: number): void {
  const before = list.prev[node] ?? -1;
  const after = list.next[node] ?? -1;
  list.next[before] = after;
  if (after !== -1) list.prev[after] = before;
}

function relink(list: EventList, node: number): void {
  const before = list.prev[node] ?? -1;
  const after = list.next[node] ?? -1;
  list.next[before] = node;
  if (after !== -1) list.prev[after] = node;
}

/** Removes a call and its return from the list (the operation is linearized). */
function lift(list: EventList, call: number): void {
  unlink(list, call);
  unlink(list, list.match[call] ?? 0);
}

/** Undoes `lift`, in reverse order. */
function unlift(list: EventList, call: number): void {
  relink(list, list.match[call] ?? 0);
  relink(list, call);
}

/** Memo of (linearized set, state) pairs already explored (Lowe's optimization). */
class VisitedCache<S> {
  readonly #buckets = new Map<string, S[]>();

  constructor(private readonly model: Model<S, unknown, unknown>) {}

  /** Adds the pair; false when it was already present. */
  add(bits: Uint32Array, state: S): boolean {
    const key = `${bits.join(",")}|${this.model.hash(state)}`;
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#buckets.set(key, [state]);
      return true;
    }
    if (bucket.some((seen) => this.model.equal(seen, state))) return false;
    bucket.push(state);
    return true;
  }
}

interface Frame<S> {
  readonly call: number;
  readonly state: S;
  /** A read-only operation lifted eagerly: not a branch point when backtracking. */
  readonly forced: boolean;
}

/**
 * The search state of one partition. Read-only operations (`Model.readOnly`) that are legal
 * in the current state are linearized eagerly and never branched on: a read that is a
 * candidate now may move to the front of any valid completion (it changes no state and
 * nothing still pending had returned before it was called), which removes the exponential
 * re-ordering of concurrent writes around a read that saw the old value.
 */
class Search<S, I, O> {
  state: S;
  steps = 0;
  longest: number[] = [];
  readonly #bits: Uint32Array;
  readonly #cache: VisitedCache<S>;
  readonly #stack: Frame<S>[] = [];

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly operations: readonly Operation<I, O>[],
    private readonly list: EventList,
  ) {
    this.state = model.init();
    this.#bits = new Uint32Array(Math.ceil(operations.length / 32) + 1);
    this.#cache = new VisitedCache<S>(model);
  }

  /** Linearizes the call at `node` if legal and unexplored; "seen" if explored before. */
  tryLift(node: number, forced: boolean): "lifted" | "illegal" | "seen" {
    const position = this.list.operationOf[node] ?? 0;
    const operation = this.operations[position] as Operation<I, O>;
    const result = this.model.step(this.state, operation.input, operation.output);
    if (!result.ok) return "illegal";
    toggleBit(this.#bits, position);
    if (!this.#cache.add(this.#bits, result.newState)) {
      toggleBit(this.#bits, position);
      return "seen";
    }
    this.#stack.push({ call: node, state: this.state, forced });
    this.state = result.newState;
    lift(this.list, node);
    if (this.#stack.length > this.longest.length) {
      this.longest = this.#stack.map((frame) => this.list.operationOf[frame.call] ?? 0);
    }
    return "lifted";
  }

  /** Lifts a legal read-only candidate, if any: "dead" when its successor state failed. */
  liftRead(): "lifted" | "dead" | "none" {
    const model = this.model;
    if (model.readOnly === undefined) return "none";
    for (let node = this.list.next[0] ?? -1; node !== -1; node = this.list.next[node] ?? -1) {
      this.steps += 1;
      if (this.list.isCall[node] !== 1) return "none";
      const operation = this.operations[this.list.operationOf[node] ?? 0] as Operation<I, O>;
      if (!model.readOnly(operation.input)) continue;
      const outcome = this.tryLift(node, true);
      if (outcome === "lifted") return "lifted";
      if (outcome === "seen") return "dead";
    }
    return "none";
  }

  /** Undoes lifts up to the last branch point; the node to scan next, or -1 when none. */
  backtrack(): number | undefined {
    for (;;) {
      const frame = this.#stack.pop();
      if (frame === undefined) return undefined;
      this.state = frame.state;
      toggleBit(this.#bits, this.list.operationOf[frame.call] ?? 0);
      unlift(this.list, frame.call);
      if (!frame.forced) return this.list.next[frame.call] ?? -1;
    }
  }
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  indexes: readonly number[],
  budget: number,
): PartitionResult {
  const operations = indexes.map((index) => history[index] as Operation<I, O>);
  const list = buildEventList(operations);
  const search = new Search(model, operations, list);
  const finish = (outcome: CheckOutcome): PartitionResult => ({
    outcome, operations: indexes, steps: search.steps,
    longestPrefix: search.longest.map((p) => indexes[p] ?? -1),
  });
  let node = list.next[0] ?? -1;
  let fresh = true;
  while (node !== -1) {
    search.steps += 1;
    if (search.steps > budget) return finish("unknown");
    if (fresh) {
      fresh = false;
      const read = search.liftRead();
      if (read === "lifted") {
        node = list.next[0] ?? -1;
        fresh = true;
        continue;
      }
      if (read === "dead") {
        const next = search.backtrack();
        if (next === undefined) return finish("illegal");
        node = next;
        continue;
      }
    }
    if (list.isCall[node] === 1) {
      if (search.tryLift(node, false) === "lifted") {
        node = list.next[0] ?? -1;
        fresh = true;
      } else {
        node = list.next[node] ?? -1;
      }
      continue;
    }
    // Every operation with a known outcome is linearized; the rest need not have happened.
    if (list.isPendingReturn[node] === 1) return finish("ok");
    const next = search.backtrack();
    if (next === undefined) return finish("illegal");
    node = next;
  }
  return finish("ok");
}

function toggleBit(bits: Uint32Array, position: number): void {
  const word = position >>> 5;
  bits[word] = ((bits[word] ?? 0) ^ (1 << (position & 31))) >>> 0;
}

/** A multi-line description of a failed partition, for test and simulator reports. */
export function describeFailure<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  partition: PartitionResult,
  maxLines = 60,
): string {
  const render = (index: number): string => {
    const operation = history[index] as Operation<I, O>;
    const text = model.describe?.(operation.input, operation.output) ??
      `${JSON.stringify(operation.input)} -> ${JSON.stringify(operation.output)}`;
    return `  #${index} client ${operation.clientId} [${operation.callTime}, ` +
      `${operation.returnTime}] ${text}`;
  };
  const lines = [`partition of ${partition.operations.length} operations is ${partition.outcome}`];
  lines.push(`longest linearized prefix (${partition.longestPrefix.length}):`);
  lines.push(...partition.longestPrefix.slice(-maxLines / 2).map(render));
  const done = new Set(partition.longestPrefix);
  lines.push("not linearized:");
  const rest = partition.operations.filter((index) => !done.has(index));
  lines.push(...rest.slice(0, maxLines / 2).map(render));
  return lines.join("\n");
}
