/**
 * Concurrent clients for a fault run. Each client owns one channel to a member chosen at
 * random, issues one call at a time (get, put, delete, CAS on value or mod_revision, multi-key
 * put txn) on a small key set with unique values, and records each call with its invoke and
 * return times. A failed or timed-out write is recorded as indeterminate; a failed read is
 * dropped. After any failure the client moves to another random member.
 */
import { performance } from "node:perf_hooks";
import type { ChannelCredentials } from "@grpc/grpc-js";
import type { Prng } from "../../../pkg/common/index.js";
import { KvClient } from "./kv-client.js";
import type { CasCompare, KvCall, KvRecord, KvSnapshot } from "./kv-history.js";

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Per-call deadline. */
  readonly deadlineMs: number;
  /** Each client pauses a random [0, thinkMsMax] between calls. */
  readonly thinkMsMax: number;
  /** Client addresses (host:port) of the members. */
  readonly addresses: readonly string[];
  readonly credentials: ChannelCredentials;
}

/** The share of each kind of call, out of 100. */
const callMix = { get: 35, put: 22, casValue: 13, casRevision: 13, multiPut: 10, delete: 7 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One client: its own PRNG stream, channel and memory of what it last saw per key. */
class WorkloadClient {
  #counter = 0;
  #kv: KvClient;
  readonly #seen = new Map<string, KvSnapshot | null>();

  constructor(
    readonly id: number,
    private readonly prng: Prng,
    private readonly options: WorkloadOptions,
  ) {
    this.#kv = new KvClient(prng.pick(options.addresses), options.credentials);
  }

  #value(): string {
    this.#counter += 1;
    return `c${this.id}-${this.#counter}`;
  }

  #compare(key: string, byRevision: boolean): CasCompare {
    const seen = this.#seen.get(key) ?? null;
    if (byRevision) return { by: "modRevision", revision: seen?.modRevision ?? 0 };
    return { by: "value", value: seen?.value ?? null };
  }

  nextCall(): KvCall {
    const keys = this.options.keys;
    const key = this.prng.pick(keys);
    let roll = this.prng.intBelow(100);
    const take = (share: number): boolean => {
      roll -= share;
      return roll < 0;
    };
    if (take(callMix.get)) return { kind: "get", key };
    if (take(callMix.put)) return { kind: "put", key, value: this.#value() };
    if (take(callMix.casValue)) {
      return { kind: "cas", key, compare: this.#compare(key, false), value: this.#value() };
    }
    if (take(callMix.casRevision)) {
      return { kind: "cas", key, compare: this.#compare(key, true), value: this.#value() };
    }
    if (take(callMix.multiPut)) {
      const chosen = this.prng.shuffle([...keys]).slice(0, this.prng.intBetween(2, 3));
      return { kind: "multiPut", puts: chosen.map((k) => ({ key: k, value: this.#value() })) };
    }
    return { kind: "delete", key };
  }

  #remember(call: KvCall, record: KvRecord): void {
    const result = record.result;
    if (result === undefined) return;
    if (call.kind === "get" || (call.kind === "cas" && result.succeeded === false)) {
      this.#seen.set(call.key, result.before[0] ?? null);
    } else if (call.kind === "put" || call.kind === "cas") {
      const before = result.before[0] ?? null;
      this.#seen.set(call.key, {
        value: call.value, version: (before?.version ?? 0) + 1, modRevision: result.revision,
        createRevision: before?.createRevision ?? result.revision,
      });
    } else if (call.kind === "delete") {
      this.#seen.set(call.key, null);
    }
  }

  /** Runs one call and records it. */
  async step(history: KvRecord[]): Promise<void> {
    const call = this.nextCall();
    const invokeMs = performance.now();
    try {
      const result = await this.#kv.run(call, this.options.deadlineMs);
      const record: KvRecord = {
        client: this.id, call, result, invokeMs, returnMs: performance.now(),
      };
      history.push(record);
      this.#remember(call, record);
    } catch (error: unknown) {
      if (call.kind !== "get") {
        const message = error instanceof Error ? error.message : String(error);
        history.push({
          client: this.id, call, result: undefined, invokeMs, returnMs: Infinity,
          error: message.slice(0, 120),
        });
      }
      this.#kv.close();
      this.#kv = new KvClient(this.prng.pick(this.options.addresses), this.options.credentials);
      await sleep(50);
    }
  }

  close(): void {
    this.#kv.close();
  }
}

/** The clients of one run; `history` grows as calls return. */
export class KvWorkload {
  readonly history: KvRecord[] = [];
  #stopped = false;
  readonly #loops: Promise<void>[];

  constructor(prng: Prng, readonly options: WorkloadOptions) {
    const clients = Array.from({ length: options.clients },
      (_, id) => new WorkloadClient(id, prng.fork(), options));
    const think = prng.fork();
    this.#loops = clients.map(async (client) => {
      try {
        while (!this.#stopped) {
          await client.step(this.history);
          await sleep(think.intBetween(0, options.thinkMsMax));
        }
      } finally {
        client.close();
      }
    });
  }

  /** Stops issuing calls and waits for the calls in flight (bounded by the deadline). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }
}
