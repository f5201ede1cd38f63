/**
 * A pool of the large buffers chunks are assembled in on their way to disk.
 *
 * Why: every chunk of a big file is about a megabyte, and a fresh buffer that size costs the
 * process page faults on first touch and unmapping when freed, which on some machines
 * (virtual ones especially) is slower than hashing and writing the bytes. A chunk store keeps
 * one pool; its chunkers assemble chunks in pooled buffers and its write sessions give each
 * back once the chunk's temp file is written and fsynced, so a long stream cycles through
 * the same few buffers.
 *
 * Ownership: `take` hands a buffer to one owner, which passes it along (chunker → file writer
 * → write session) and whose last holder calls `give` once, after its last read. Invariants:
 * a buffer is either free here or held by exactly one owner; `give` of a buffer this pool did
 * not hand out (or of one already given) keeps nothing; at most `chunkBufferPoolBytesMax`
 * bytes are kept free, the rest are left to the garbage collector; and free buffers are kept
 * only while someone uses the pool (`use`): when the last user is done they are all dropped,
 * so an idle store holds none.
 */
import { assert } from "../../common/index.js";
import { chunkBufferPoolBytesMax, chunkBytesMaxLimit } from "./limits.js";

export class BufferPool {
  /** Free buffers per capacity (bytes). Their total capacity is `#freeBytes`. */
  readonly #free = new Map<number, ArrayBuffer[]>();
  #freeBytes = 0;
  /** The memory of buffers handed out and not given back yet. */
  readonly #lent = new WeakSet<ArrayBuffer>();
  readonly #freeBytesMax: number;
  /** Users (write sessions) between `use` and its release. */
  #users = 0;

  /** `freeBytesMax`: how much free memory the pool keeps (tests pass small values). */
  constructor(freeBytesMax: number = chunkBufferPoolBytesMax) {
    assert(Number.isSafeInteger(freeBytesMax) && freeBytesMax >= 0,
      () => `pool bound ${freeBytesMax} is not a size`);
    this.#freeBytesMax = freeBytesMax;
  }

  /**
   * Marks a user of the pool (a write session) until the returned function is called (once);
   * free buffers are dropped when the last user is done.
   */
  use(): () => void {
    this.#users += 1;
    let released = false;
    return () => {
      assert(!released, "a pool use released twice");
      released = true;
      this.#users -= 1;
      if (this.#users === 0) {
        this.#free.clear();
        this.#freeBytes = 0;
      }
    };
  }

  /** Bytes of free buffers kept. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /**
   * A buffer of exactly `capacity` bytes (its own memory, contents undefined), free from the
   * pool when one is, else newly allocated. The caller owns it until it calls `give`.
   */
  take(capacity: number): Buffer {
    assert(Number.isSafeInteger(capacity) && capacity > 0 && capacity <= chunkBytesMaxLimit,
      () => `buffer capacity ${capacity} outside [1, ${chunkBytesMaxLimit}]`);
    const reused = this.#free.get(capacity)?.pop();
    if (reused !== undefined) this.#freeBytes -= capacity;
    const memory = reused ?? new ArrayBuffer(capacity);
    assert(memory.byteLength === capacity,
      () => `pooled buffer of ${memory.byteLength} bytes, wanted ${capacity}`);
    assert(!this.#lent.has(memory), "a lent buffer was in the free list");
    this.#lent.add(memory);
    return Buffer.from(memory);
  }

  /**
   * Gives back the buffer `view` lies in, when this pool lent it: the caller must not read or
   * write any view of it afterwards. A view of other memory (input bytes, a plain copy) is
   * ignored, so a consumer may give back every chunk it is done with.
   */
  give(view: Uint8Array): void {
    const memory = view.buffer;
    if (!(memory instanceof ArrayBuffer) || !this.#lent.delete(memory)) return;
    const capacity = memory.byteLength;
    if (this.#freeBytes + capacity > this.#freeBytesMax) return;
    const list = this.#free.get(capacity) ?? [];
    list.push(memory);
    this.#free.set(capacity, list);
    this.#freeBytes += capacity;
  }
}
