/**
 * The clients of a simulation run and the history they record. Each client has at most one
 * operation outstanding: a put of a unique value (proposed at some node; it returns when that
 * same node incarnation applies it) or a ReadIndex get (it returns when the node has applied
 * the read's index). An operation that times out, or whose node crashes, has an unknown
 * outcome: a put stays in the history with `returnTime = Infinity`, a get is dropped (it
 * constrains nothing). Proposals refused synchronously never happened and are not recorded.
 */
import type { NodeId, Prng } from "../../pkg/common/index.js";
import type { KvInput, KvOutput } from "./kv-model.js";
import type { Operation } from "./linearizability.js";
import type { SimNode } from "./sim-node.js";
import { encodeCommand } from "./sim-state-machine.js";

interface Outstanding {
  readonly kind: "put" | "get";
  readonly clientId: number;
  readonly key: string;
  /** The put's value, or the get's ReadIndex context. */
  readonly token: string;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly callStep: number;
  readonly deadlineStep: number;
}

type KvOperation = Operation<KvInput, KvOutput>;

export class Workload {
  readonly #outstanding = new Map<number, Outstanding>();
  /** Puts by value and gets by context, waiting for their result. */
  readonly #byToken = new Map<string, Outstanding>();
  readonly #history: KvOperation[] = [];
  readonly #acked: string[] = [];
  #nextToken = 0;
  readonly stats = { puts: 0, gets: 0, acked: 0, served: 0, refused: 0, timedOut: 0 };

  constructor(
    private readonly prng: Prng,
    private readonly clientCount: number,
    private readonly keyCount: number,
    private readonly trace: (line: string) => void,
    /** Sabotage for the simulator's self-test: serve gets locally, without ReadIndex. */
    private readonly readLocal = false,
  ) {}

  get history(): readonly KvOperation[] {
    return this.#history;
  }

  get acked(): readonly string[] {
    return this.#acked;
  }

  /** Once per tick: idle clients may start an operation on one of `nodes`. */
  tick(step: number, nodes: readonly SimNode[], probability: number, readFraction: number,
    timeoutSteps: number): void {
    for (const [clientId, op] of this.#outstanding) {
      if (step < op.deadlineStep) continue;
      this.#finish(op);
      this.stats.timedOut += 1;
      this.trace(`client ${clientId} ${op.kind} ${op.token} timed out`);
    }
    if (nodes.length === 0) return;
    for (let clientId = 0; clientId < this.clientCount; clientId += 1) {
      if (this.#outstanding.has(clientId) || !this.prng.chance(probability)) continue;
      const node = this.prng.pick(nodes);
      const key = `k${this.prng.intBelow(this.keyCount)}`;
      const kind = this.prng.chance(readFraction) ? "get" : "put";
      this.start(step, clientId, node, key, kind, timeoutSteps);
    }
  }

  /** Starts one operation; also used for the liveness probe. */
  start(step: number, clientId: number, node: SimNode, key: string, kind: "put" | "get",
    timeoutSteps: number): string {
    const token = kind === "put" ? `v${this.#nextToken}` : `r${this.#nextToken}`;
    this.#nextToken += 1;
    const op: Outstanding = {
      kind, clientId, key, token, node: node.id, incarnation: node.incarnation,
      callStep: step, deadlineStep: step + timeoutSteps,
    };
    this.#outstanding.set(clientId, op);
    this.#byToken.set(token, op);
    if (kind === "get" && this.readLocal) {
      this.readServed(step, node, token);
      return token;
    }
    node.whenAccepting(() => {
      const result = kind === "put"
        ? node.raft.propose(encodeCommand({ key, value: token }))
        : node.raft.readIndex(new TextEncoder().encode(token));
      if (result.ok) return;
      this.trace(`client ${clientId} ${kind} ${token} at n${node.id} refused: ${result.error}`);
      // A deferred refusal may come after a timeout: only this operation is withdrawn, and
      // one already recorded as unknown stays so (it was never applied, so it is dropped).
      this.#forget(op);
      this.stats.refused += 1;
    });
    return token;
  }

  /** Whether the client's operation is still outstanding. */
  isOutstanding(clientId: number): boolean {
    return this.#outstanding.has(clientId);
  }

  /**
   * A node applied a put of `value`, which made the key's version `version`: acknowledge it
   * if this node incarnation proposed it.
   */
  putApplied(step: number, node: SimNode, value: string, version: number): void {
    const op = this.#byToken.get(value);
    if (op === undefined || op.node !== node.id || op.incarnation !== node.incarnation) return;
    this.#forget(op);
    this.#history.push({
      clientId: op.clientId, input: { kind: "put", key: op.key, value },
      output: { kind: "put", version }, callTime: op.callStep, returnTime: step,
    });
    this.#acked.push(value);
    this.stats.puts += 1;
    this.stats.acked += 1;
  }

  /** A node served the read `context`: record what its state machine holds now. */
  readServed(step: number, node: SimNode, context: string): void {
    const op = this.#byToken.get(context);
    if (op === undefined || op.node !== node.id || op.incarnation !== node.incarnation) return;
    this.#forget(op);
    const cell = node.machine.get(op.key);
    this.#history.push({
      clientId: op.clientId, input: { kind: "get", key: op.key },
      output: { kind: "get", value: cell.value, version: cell.version },
      callTime: op.callStep, returnTime: step,
    });
    this.stats.gets += 1;
    this.stats.served += 1;
  }

  /**
   * Ends every outstanding operation (end of run), then settles the puts of unknown outcome
   * from what the cluster really did, as etcd's robustness tests patch them from the WAL: a
   * put that no node ever applied cannot be observed by any read, so it is dropped; one that
   * was applied took effect by the step `firstApplied` gives, which becomes its return time,
   * and created the version recorded there. Without this every unknown put doubles the search
   * space of the checker.
   */
  finishAll(firstApplied: ReadonlyMap<string, { step: number; version: number }>): void {
    for (const op of [...this.#outstanding.values()]) this.#finish(op);
    const settled: KvOperation[] = [];
    for (const op of this.#history) {
      if (op.input.kind !== "put" || op.returnTime !== Infinity) {
        settled.push(op);
        continue;
      }
      const applied = firstApplied.get(op.input.value);
      if (applied === undefined) continue;
      settled.push({
        ...op, output: { kind: "put", version: applied.version },
        returnTime: Math.max(applied.step, op.callTime),
      });
    }
    this.#history.splice(0, this.#history.length, ...settled);
  }

  /** Removes `op` (and only it) from the outstanding operations. */
  #forget(op: Outstanding): void {
    if (this.#outstanding.get(op.clientId) === op) this.#outstanding.delete(op.clientId);
    this.#byToken.delete(op.token);
  }

  #finish(op: Outstanding): void {
    this.#forget(op);
    if (op.kind === "get") return;
    this.stats.puts += 1;
    this.#history.push({
      clientId: op.clientId, input: { kind: "put", key: op.key, value: op.token },
      output: undefined, callTime: op.callStep, returnTime: Infinity,
    });
  }
}
