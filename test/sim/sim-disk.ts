/**
 * The simulated disk of one node. Writes land in an ordered queue of unsynced writes; `sync`
 * makes them all durable. A crash keeps a random prefix of the unsynced writes (the disk writes
 * in order but any suffix may not have reached the platter) and may tear the first lost write
 * of entries, keeping part of it: the LazyFS "lose un-fsynced data" fault plus torn appends.
 * Restart rebuilds everything from the durable image only.
 */
import { type Prng, assert } from "../../pkg/common/index.js";
import type { Entry, HardState, Snapshot } from "../../pkg/raft/index.js";

/** What survives a crash. `entries` all have index > `snapshot.metadata.index`, contiguous. */
export interface DurableImage {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly entries: readonly Entry[];
}

/**
 * One write. A snapshot from the leader replaces the log (`replacesLog`); one the driver took
 * for compaction keeps the entries after `compactIndex`.
 */
export type DiskWrite =
  | { readonly kind: "snapshot"; readonly snapshot: Snapshot; readonly replacesLog: true }
  | {
    readonly kind: "snapshot"; readonly snapshot: Snapshot; readonly replacesLog: false;
    readonly compactIndex: number;
  }
  | { readonly kind: "entries"; readonly entries: readonly Entry[] }
  | { readonly kind: "hardState"; readonly hardState: HardState };

/** What a crash did to the unsynced writes, for the trace. */
export interface CrashEffect {
  readonly pending: number;
  readonly kept: number;
  readonly tornEntriesKept: number | undefined;
}

function applyWrite(image: DurableImage, write: DiskWrite): DurableImage {
  switch (write.kind) {
    case "hardState":
      return { ...image, hardState: write.hardState };
    case "snapshot": {
      const index = write.snapshot.metadata.index;
      if (index < image.snapshot.metadata.index) return image; // Older: refused, as storage does.
      const keepAfter = write.replacesLog ? Infinity : Math.max(write.compactIndex, index);
      const entries = image.entries.filter((entry) => entry.index > keepAfter);
      return { ...image, snapshot: write.snapshot, entries };
    }
    case "entries": {
      const tail = write.entries.filter((entry) => entry.index > image.snapshot.metadata.index);
      const first = tail[0];
      if (first === undefined) return image;
      const kept = image.entries.filter((entry) => entry.index < first.index);
      const lastKept = kept[kept.length - 1]?.index ?? image.snapshot.metadata.index;
      assert(first.index === lastKept + 1, () =>
        `disk append at ${first.index} leaves a gap after ${lastKept}`);
      return { ...image, entries: [...kept, ...tail] };
    }
  }
}

export class SimDisk {
  #durable: DurableImage;
  #pending: DiskWrite[] = [];
  syncs = 0;

  constructor(initial: DurableImage) {
    this.#durable = initial;
  }

  get durable(): DurableImage {
    return this.#durable;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  write(write: DiskWrite): void {
    this.#pending.push(write);
  }

  /** Makes every pending write durable, in order. */
  sync(): void {
    for (const write of this.#pending) this.#durable = applyWrite(this.#durable, write);
    this.#pending = [];
    this.syncs += 1;
  }

  /** Loses unsynced writes: keeps a random prefix, maybe a torn part of the next append. */
  crash(prng: Prng, tearProbability: number): CrashEffect {
    const pending = this.#pending.length;
    const kept = prng.intBetween(0, pending);
    for (const write of this.#pending.slice(0, kept)) {
      this.#durable = applyWrite(this.#durable, write);
    }
    let tornEntriesKept: number | undefined;
    const next = this.#pending[kept];
    if (next?.kind === "entries" && next.entries.length > 1 && prng.chance(tearProbability)) {
      tornEntriesKept = prng.intBetween(1, next.entries.length - 1);
      const entries = next.entries.slice(0, tornEntriesKept);
      this.#durable = applyWrite(this.#durable, { kind: "entries", entries });
    }
    this.#pending = [];
    return { pending, kept, tornEntriesKept };
  }
}
