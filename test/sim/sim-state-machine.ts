/**
 * The replicated state machine of the simulation: an append-only list of the values clients
 * proposed (so "applied everywhere exactly once and in the same order" is a comparison of
 * lists) and, derived from it, a map from key to the last value put and its version, which
 * ReadIndex reads observe. A command is `put <key> <value>`; values are unique per run.
 */
import { assert } from "../../pkg/common/index.js";
import type { KvCell } from "./kv-model.js";

/** A client write. `value` is unique in a run, so it identifies the proposal. */
export interface PutCommand {
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: PutCommand): Uint8Array {
  assert(!command.key.includes(" ") && !command.value.includes(" "), () =>
    `command fields must not contain spaces: ${JSON.stringify(command)}`);
  return encoder.encode(`put ${command.key} ${command.value}`);
}

/** Decodes a normal entry's data: undefined for the empty no-op a new leader appends. */
export function decodeCommand(data: Uint8Array): PutCommand | undefined {
  if (data.length === 0) return undefined;
  const parts = decoder.decode(data).split(" ");
  assert(parts.length === 3 && parts[0] === "put", () =>
    `undecodable command ${JSON.stringify(decoder.decode(data))}`);
  return { key: parts[1] ?? "", value: parts[2] ?? "" };
}

export class KvStateMachine {
  /** The commands applied, in order. Invariant: no value twice (checked by the caller). */
  readonly #commands: PutCommand[] = [];
  readonly #cells = new Map<string, KvCell>();
  readonly #applied = new Set<string>();

  /** The values put, in apply order. */
  get values(): readonly string[] {
    return this.#commands.map((command) => command.value);
  }

  get size(): number {
    return this.#commands.length;
  }

  has(value: string): boolean {
    return this.#applied.has(value);
  }

  apply(command: PutCommand): void {
    const cell = this.#cells.get(command.key);
    this.#cells.set(command.key, { value: command.value, version: (cell?.version ?? 0) + 1 });
    this.#commands.push(command);
    this.#applied.add(command.value);
  }

  get(key: string): KvCell {
    return this.#cells.get(key) ?? { value: null, version: 0 };
  }

  /** The state as snapshot data: the command list, replayed on restore. */
  encode(): Uint8Array {
    return encoder.encode(JSON.stringify(this.#commands.map((c) => [c.key, c.value])));
  }

  /** Rebuilds a state machine from `encode()` output (empty data: the empty machine). */
  static decode(data: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine();
    if (data.length === 0) return machine;
    const parsed: unknown = JSON.parse(decoder.decode(data));
    assert(Array.isArray(parsed), "snapshot data is not a list");
    for (const item of parsed as unknown[]) {
      assert(Array.isArray(item) && item.length === 2, "snapshot item is not a pair");
      const [key, value] = item as unknown[];
      assert(typeof key === "string" && typeof value === "string", "snapshot pair not strings");
      machine.apply({ key, value });
    }
    return machine;
  }
}
