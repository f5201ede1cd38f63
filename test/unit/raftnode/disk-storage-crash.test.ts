// Goal: whatever a driver does (appends with conflict overwrites, hard states, local
// snapshots with compaction and WAL purge, snapshots received from a leader) and wherever
// the power fails, reopening yields exactly the last durable state: the same log after the
// snapshot, the same hard state and snapshot, or, for a save that was not fsynced, either
// the state before it or after it; a snapshot file made durable just before the crash, with
// no WAL marker yet, wins over the log it supersedes. Method: seeded random driver runs over MemoryFileIo with
// small segments; every mutation is mirrored on a reference DiskStorage that is never
// persisted; crashes keep a random prefix of unsynced bytes (torn writes). Prints the seed.
import test from "ava";
import { type Entry, EntryType, type HardState, type Snapshot } from "../../../pkg/raft/index.js";
import {
  type LogIndex, Prng, logIndex, nodeId, silentLogger, systemSeed, term,
} from "../../../pkg/common/index.js";
import {
  DiskStorage, MemoryFileIo, type OpenedDiskStorage, openDiskStorage,
} from "../../../pkg/raftnode/index.js";

const confState = { voters: [nodeId(1n), nodeId(2n), nodeId(3n)], learners: [] };
const i = (value: number): LogIndex => logIndex(value);

interface Capture {
  readonly log: string;
  readonly hard: string;
}

function capture(storage: DiskStorage): Capture {
  const snap = storage.snapshot();
  if (!snap.ok) throw new Error("no snapshot");
  const { index, term: snapTerm } = snap.value.metadata;
  const list = storage.entries(i(index + 1), i(storage.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
  if (!list.ok) throw new Error(`entries after ${index}: ${list.error}`);
  const log = `snap ${index}@${snapTerm} [${snap.value.data.join(",")}] ` +
    list.value.map((e) => `${e.index}@${e.term}`).join(" ");
  const hard = storage.initialState().hardState;
  return { log, hard: `${hard.term}/${hard.vote}/${hard.commit}` };
}

class Run {
  readonly io = new MemoryFileIo();
  readonly prng: Prng;
  node!: OpenedDiskStorage;
  reference!: DiskStorage;
  durable!: Capture;
  pending: Capture | undefined;
  currentTerm = 1;
  /** The operations since the last crash, for the failure message. */
  trace: string[] = [];

  constructor(prng: Prng) {
    this.prng = prng;
  }

  async open(): Promise<void> {
    this.node = await openDiskStorage({
      walDir: "/n/wal", snapshotDir: "/n/snap", io: this.io, logger: silentLogger, segmentBytes: 256,
    });
    const snap = this.node.storage.snapshot();
    if (!snap.ok) throw new Error("no snapshot");
    const after = this.node.storage.entries(this.node.storage.firstIndex(),
      i(this.node.storage.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
    if (!after.ok) throw new Error("no entries");
    this.reference = new DiskStorage({
      hardState: this.node.storage.initialState().hardState, snapshot: snap.value, entries: after.value,
    });
    this.durable = capture(this.reference);
    this.pending = undefined;
    this.currentTerm = Math.max(this.currentTerm, this.reference.initialState().hardState.term);
  }

  hard(commit: number): HardState {
    return { term: term(this.currentTerm), vote: nodeId(2n), commit: i(commit) };
  }

  async append(mustSync: boolean): Promise<void> {
    const storage = this.reference;
    const commit = storage.initialState().hardState.commit;
    if (this.prng.chance(0.2)) this.currentTerm += 1;
    const from = this.prng.intBetween(Math.max(commit + 1, storage.firstIndex()), storage.lastIndex() + 1);
    const list: Entry[] = [];
    for (let index = from; index < from + this.prng.intBetween(1, 4); index += 1) {
      list.push({ index: i(index), term: term(this.currentTerm), type: EntryType.Normal, data: new Uint8Array([index % 256]) });
    }
    const last = list.at(-1)?.index ?? from;
    const hard = this.hard(this.prng.intBetween(commit, last));
    this.trace.push(`append ${from}..${last}@${this.currentTerm} commit ${hard.commit} sync ${mustSync}`);
    await this.node.wal.save({ hardState: hard, entries: list }, mustSync);
    for (const storageCopy of [this.node.storage, this.reference]) {
      storageCopy.append(list);
      storageCopy.setHardState(hard);
    }
  }

  /** With `partial`, crashes (returns) after the snapshot file is durable, before the WAL. */
  async localSnapshot(partial = false): Promise<void> {
    const snapIndex = this.reference.firstIndex() - 1;
    const commit = this.reference.initialState().hardState.commit;
    const current = this.reference.snapshot();
    if (!current.ok || commit <= current.value.metadata.index) return;
    const index = i(this.prng.intBetween(current.value.metadata.index + 1, commit));
    const data = new Uint8Array([index % 256, 1]);
    this.trace.push(`local snapshot ${index}${partial ? " (crash before marker)" : ""}`);
    const made = this.node.storage.createSnapshot(index, confState, data);
    if (!made.ok || !this.reference.createSnapshot(index, confState, data).ok) throw new Error("snapshot");
    await this.node.snapshots.save(made.value);
    if (partial) {
      this.pending = capture(this.reference);
      return;
    }
    await this.node.wal.save({ entries: [], snapshotMarker: { index, term: made.value.metadata.term } }, true);
    const compactTo = i(this.prng.intBetween(Math.max(snapIndex, index - 3), index));
    if (compactTo > snapIndex) {
      this.node.storage.compact(compactTo);
      this.reference.compact(compactTo);
    }
    await this.node.wal.releaseTo(compactTo);
    await this.node.snapshots.purge(2);
  }

  /** With `partial`, crashes (returns) after the snapshot file is durable, before the WAL. */
  async receivedSnapshot(partial = false): Promise<void> {
    const commit = this.reference.initialState().hardState.commit;
    const current = this.reference.snapshot();
    if (!current.ok) throw new Error("snapshot");
    this.currentTerm += 1;
    const floor = Math.max(commit, current.value.metadata.index) + 1;
    const index = i(this.prng.intBetween(floor, Math.max(floor, this.reference.lastIndex() + 3)));
    const snapshot: Snapshot = {
      metadata: { index, term: term(this.currentTerm), confState }, data: new Uint8Array([index % 256, 2]),
    };
    const hard = this.hard(index);
    this.trace.push(`received snapshot ${index}@${this.currentTerm}${partial ? " (crash before marker)" : ""}`);
    await this.node.snapshots.save(snapshot);
    if (partial) {
      // Reopen must prefer the durable snapshot over the stale log, and raise the commit.
      if (!this.reference.applySnapshot(snapshot).ok) throw new Error("apply");
      const old = this.reference.initialState().hardState;
      this.pending = {
        log: capture(this.reference).log, hard: `${old.term}/${old.vote}/${index}`,
      };
      return;
    }
    await this.node.wal.save({ hardState: hard, entries: [], snapshotMarker: { index, term: snapshot.metadata.term } }, true);
    for (const storageCopy of [this.node.storage, this.reference]) {
      if (!storageCopy.applySnapshot(snapshot).ok) throw new Error("apply");
      storageCopy.setHardState(hard);
    }
  }

  async step(): Promise<void> {
    const roll = this.prng.nextFloat();
    if (roll < 0.7) await this.append(true);
    else if (roll < 0.85) await this.localSnapshot();
    else await this.receivedSnapshot();
    this.durable = capture(this.reference);
  }
}

test("seeded crashes anywhere between saves reopen to the last durable state", async (t) => {
  const seedText = process.env["PFS_SEED"];
  const seed = seedText === undefined ? systemSeed() : Number(seedText);
  t.log(`seed ${seed} (rerun with PFS_SEED=${seed})`);
  const run = new Run(new Prng(seed));
  await run.open();
  for (let crash = 0; crash < 60; crash += 1) {
    const steps = run.prng.intBetween(0, 8);
    for (let step = 0; step < steps; step += 1) await run.step();
    const ending = run.prng.nextFloat();
    if (ending < 0.4) {
      await run.append(false);
      run.pending = capture(run.reference);
    } else if (ending < 0.55) {
      await run.localSnapshot(true);
    } else if (ending < 0.7) {
      await run.receivedSnapshot(true);
    }
    run.io.crash(run.prng);
    const durable = run.durable;
    const pending = run.pending;
    await run.open().catch((error: unknown) => {
      t.log(`seed ${seed} crash ${crash} after:\n${run.trace.join("\n")}`);
      throw error;
    });
    run.trace = [];
    const actual = capture(run.reference);
    const logs = [durable.log, ...(pending === undefined ? [] : [pending.log])];
    const hards = [durable.hard, ...(pending === undefined ? [] : [pending.hard])];
    t.true(logs.includes(actual.log), `seed ${seed} crash ${crash}: log ${actual.log} not in ${logs.join(" | ")}`);
    t.true(hards.includes(actual.hard), `seed ${seed} crash ${crash}: hard ${actual.hard} not in ${hards.join(" | ")}`);
  }
});
