/**
 * The one source of randomness (STYLE rule 2). `Math.random` is banned everywhere else by
 * lint. A `Prng` is a small, fast, seeded generator (sfc32 over a splitmix32-expanded seed):
 * the same seed always yields the same sequence on every platform, which is what lets the
 * simulator replay a failing run from its seed. Not cryptographic: use `node:crypto` for
 * secrets and tokens.
 */
import { randomInt } from "node:crypto";
import { assert, assertSafeInteger } from "./assert.js";

/** Largest seed accepted: seeds are printed, typed and replayed, so keep them small. */
export const prngSeedMax = 2 ** 53 - 1;

const uint32Range = 2 ** 32;

/** Expands a 32-bit state into well-mixed 32-bit words (splitmix32). */
function splitmix32(state: number): { next: number; word: number } {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return { next, word: (z ^ (z >>> 15)) >>> 0 };
}

/** A seeded pseudo-random number generator. Not shared: each owner forks its own stream. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** The seed this generator was made from, for printing and replay. */
  readonly seed: number;

  constructor(seed: number) {
    assertSafeInteger(seed, "prng seed", 0, prngSeedMax);
    this.seed = seed;
    // Fold the high bits in so that seeds above 2^32 give distinct streams.
    let state = (seed >>> 0) ^ Math.imul(Math.floor(seed / uint32Range) >>> 0, 0x85ebca6b);
    const words: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const step = splitmix32(state);
      state = step.next;
      words.push(step.word);
    }
    this.#a = words[0] ?? 0;
    this.#b = words[1] ?? 0;
    this.#c = words[2] ?? 0;
    this.#d = words[3] ?? 1;
    for (let i = 0; i < 12; i += 1) this.nextUint32(); // Warm up away from the seed.
  }

  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A uniformly distributed float in [0, 1) with 53 bits of precision. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniformly distributed unsigned 64-bit integer. */
  nextUint64(): bigint {
    return (BigInt(this.nextUint32()) << 32n) | BigInt(this.nextUint32());
  }

  /** An unbiased integer in [0, bound); `bound` is a positive safe integer. */
  intBelow(bound: number): number {
    assertSafeInteger(bound, "prng bound", 1);
    if (bound <= uint32Range) {
      // Rejection sampling: drop the top partial range so every residue is equally likely.
      const limit = uint32Range - (uint32Range % bound);
      for (;;) {
        const value = this.nextUint32();
        if (value < limit) return value % bound;
      }
    }
    return Math.floor(this.nextFloat() * bound);
  }

  /** An unbiased integer in [low, high], both inclusive. */
  intBetween(low: number, high: number): number {
    assert(low <= high, () => `prng range [${low}, ${high}] is empty`);
    return low + this.intBelow(high - low + 1);
  }

  /** True with probability `probability` in [0, 1]. */
  chance(probability: number): boolean {
    assert(probability >= 0 && probability <= 1, () => `probability ${probability} not in [0, 1]`);
    return this.nextFloat() < probability;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "prng pick from an empty array");
    const item = items[this.intBelow(items.length)];
    assert(item !== undefined, "prng pick landed on a hole");
    return item;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.intBelow(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  /**
   * A new generator whose stream depends on this one's next output, so that components of a
   * simulation get independent streams and adding draws in one does not shift the others.
   */
  fork(): Prng {
    return new Prng(this.intBelow(prngSeedMax));
  }
}

/** A fresh seed from the operating system, for processes that are not being replayed. */
export function systemSeed(): number {
  return randomInt(0, 2 ** 47);
}
