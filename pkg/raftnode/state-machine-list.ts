/**
 * A tiny state machine for tests: an append-only list of payloads and a running checksum
 * over them. Replicas that applied the same sequence have equal `checksum` and `length`, so a
 * test compares two numbers instead of whole histories, and `items` when it needs to.
 */
import { createHash } from "node:crypto";
import { assert } from "../common/index.js";
import type { AppliedEntry, StateMachine } from "./state-machine.js";

/** What `apply` returns: the list's length and checksum after the entry. */
export interface ListApplyResult {
  readonly length: number;
  readonly checksum: string;
}

const checksumStart = "0".repeat(64);

/** An append-only list of byte strings with a hash chain over them. */
export class ChecksumListStateMachine implements StateMachine<ListApplyResult> {
  #items: Uint8Array[] = [];
  /** sha256(previous checksum || item), hex; `checksumStart` for the empty list. */
  #checksum = checksumStart;

  get length(): number {
    return this.#items.length;
  }

  get checksum(): string {
    return this.#checksum;
  }

  /** The applied payloads, in order (copies are not made: do not mutate). */
  get items(): readonly Uint8Array[] {
    return this.#items;
  }

  apply(entry: AppliedEntry): ListApplyResult {
    assert(entry.data.length > 0, () => `empty payload at index ${entry.index}`);
    this.#items.push(entry.data);
    this.#checksum = createHash("sha256").update(this.#checksum).update(entry.data).digest("hex");
    return { length: this.#items.length, checksum: this.#checksum };
  }

  /** Layout: u32 count, then per item u32 length and bytes, then the 64 hex digits. */
  snapshot(): Uint8Array {
    const size = 4 + this.#items.reduce((sum, item) => sum + 4 + item.length, 0) + 64;
    const out = Buffer.alloc(size);
    let at = out.writeUInt32BE(this.#items.length, 0);
    for (const item of this.#items) {
      at = out.writeUInt32BE(item.length, at);
      out.set(item, at);
      at += item.length;
    }
    at += out.write(this.#checksum, at, "latin1");
    assert(at === size, () => `list snapshot wrote ${at} of ${size} bytes`);
    return out;
  }

  restore(data: Uint8Array): void {
    const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const count = input.readUInt32BE(0);
    const items: Uint8Array[] = [];
    let at = 4;
    for (let i = 0; i < count; i += 1) {
      const length = input.readUInt32BE(at);
      at += 4;
      items.push(Uint8Array.prototype.slice.call(input, at, at + length));
      at += length;
    }
    const checksum = input.toString("latin1", at, at + 64);
    assert(at + 64 === input.length, () => `list snapshot has ${input.length - at - 64} extra bytes`);
    let check = checksumStart;
    for (const item of items) check = createHash("sha256").update(check).update(item).digest("hex");
    assert(check === checksum, () => `list snapshot checksum ${checksum} != recomputed ${check}`);
    this.#items = items;
    this.#checksum = checksum;
  }
}
