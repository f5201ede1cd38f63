// Goal: whatever a driver does (appends with conflict overwrites, hard states, local
// snapshots with compaction and WAL purge, snapshots received from a leader) and at whichever
// I/O operation the power fails (including inside a reopen), reopening yields a state the
// driver could have made durable: the log after the snapshot and the hard state are each the
// state before the interrupted operation or one of its intermediate or final states (a
// snapshot file durable before its WAL marker already wins over the log it replaces).
// Method: seeded random driver runs over MemoryFileIo with small segments; every mutation is
// mirrored on a reference DiskStorage that is never persisted; MemoryFileIo.crashAfter()
// crashes at a chosen mutating operation, keeping a random prefix of unsynced bytes (torn
// writes). Prints the seed; rerun one with PFS_SEED=<seed>.
import test from "ava";
import { type Entry, EntryType, type HardState, type Snapshot } from "../../../pkg/raft/index.js";
import {
  type LogIndex, Prng, logIndex, nodeId, silentLogger, systemSeed, term,
} from "../../../pkg/common/index.js";
import {
  CrashedFileError, DiskStorage, MemoryFileIo, type OpenedDiskStorage, openDiskStorage,
} from "../../../pkg/raftnode/index.js";

const confState = { voters: [nodeId(1n), nodeId(2n), nodeId(3n)], learners: [] };
const i = (value: number): LogIndex => logIndex(value);

function captureLog(storage: DiskStorage): string {
  const snap = storage.snapshot();
  if (!snap.ok) throw new Error("no snapshot");
  const { index, term: snapTerm } = snap.value.metadata;
  const list = storage.entries(i(index + 1), i(storage.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
  if (!list.ok) throw new Error(`entries after ${index}: ${list.error}`);
  return `snap ${index}@${snapTerm} [${snap.value.data.join(",")}] ` +
    list.value.map((e) => `${e.index}@${e.term}`).join(" ");
}

function captureHard(hard: HardState): string {
  return `${hard.term}/${hard.vote}/${hard.commit}`;
}

class Run {
  readonly io = new MemoryFileIo();
  readonly prng: Prng;
  node!: OpenedDiskStorage;
  reference!: DiskStorage;
  /** The logs and hard states a crash now may leave: the durable one and in-flight ones. */
  logs: string[] = [];
  hards: string[] = [];
  currentTerm = 1;
  /** The operations since the last reopen, for failure messages. */
  trace: string[] = [];

  constructor(prng: Prng) {
    this.prng = prng;
  }

  async open(): Promise<void> {
    this.node = await openDiskStorage({
      walDir: "/n/wal", snapshotDir: "/n/snap", io: this.io, logger: silentLogger, segmentBytes: 256,
    });
    const storage = this.node.storage;
    const snap = storage.snapshot();
    const after = storage.entries(storage.firstIndex(), i(storage.lastIndex() + 1), Number.MAX_SAFE_INTEGER);
    if (!snap.ok || !after.ok) throw new Error("reopened storage unreadable");
    this.reference = new DiskStorage({
      hardState: storage.initialState().hardState, snapshot: snap.value, entries: after.value,
    });
    this.settle();
    this.currentTerm = Math.max(this.currentTerm, storage.initialState().hardState.term);
  }

  /** The reference state is durable: it is the only one a crash may leave. */
  settle(): void {
    this.logs = [captureLog(this.reference)];
    this.hards = [captureHard(this.reference.initialState().hardState)];
  }

  /** The reference state may be durable from now on (an I/O that makes it so is next). */
  mayPersist(): void {
    this.logs.push(captureLog(this.reference));
    this.hards.push(captureHard(this.reference.initialState().hardState));
  }

  hard(commit: number): HardState {
    return { term: term(this.currentTerm), vote: nodeId(2n), commit: i(commit) };
  }

  async append(mustSync: boolean): Promise<void> {
    const commit = this.reference.initialState().hardState.commit;
    if (this.prng.chance(0.2)) this.currentTerm += 1;
    const from = this.prng.intBetween(Math.max(commit + 1, this.reference.firstIndex()),
      this.reference.lastIndex() + 1);
    const list: Entry[] = [];
    for (let index = from; index < from + this.prng.intBetween(1, 4); index += 1) {
      list.push({ index: i(index), term: term(this.currentTerm), type: EntryType.Normal, data: new Uint8Array([index % 256]) });
    }
    const last = list.at(-1)?.index ?? from;
    const hard = this.hard(this.prng.intBetween(commit, last));
    this.trace.push(`append ${from}..${last}@${this.currentTerm} commit ${hard.commit} sync ${mustSync}`);
    this.reference.append(list);
    this.reference.setHardState(hard);
    this.mayPersist();
    await this.node.wal.save({ hardState: hard, entries: list }, mustSync);
    this.node.storage.append(list);
    this.node.storage.setHardState(hard);
  }

  async localSnapshot(): Promise<void> {
    const commit = this.reference.initialState().hardState.commit;
    const current = this.reference.snapshot();
    if (!current.ok || commit <= current.value.metadata.index) return;
    const snapIndex = this.reference.firstIndex() - 1;
    const index = i(this.prng.intBetween(current.value.metadata.index + 1, commit));
    const data = new Uint8Array([index % 256, 1]);
    this.trace.push(`local snapshot ${index}`);
    if (!this.reference.createSnapshot(index, confState, data).ok) throw new Error("snapshot");
    this.mayPersist();
    const made = this.node.storage.createSnapshot(index, confState, data);
    if (!made.ok) throw new Error("snapshot");
    await this.node.snapshots.save(made.value);
    await this.node.wal.save({ entries: [], snapshotMarker: { index, term: made.value.metadata.term } }, true);
    const compactTo = i(this.prng.intBetween(Math.max(snapIndex, index - 3), index));
    if (compactTo > snapIndex) {
      this.node.storage.compact(compactTo);
      this.reference.compact(compactTo);
    }
    await this.node.wal.releaseTo(compactTo);
    await this.node.snapshots.purge(2);
  }

  async receivedSnapshot(): Promise<void> {
    const old = this.reference.initialState().hardState;
    const current = this.reference.snapshot();
    if (!current.ok) throw new Error("snapshot");
    this.currentTerm += 1;
    const floor = Math.max(old.commit, current.value.metadata.index) + 1;
    const index = i(this.prng.intBetween(floor, Math.max(floor, this.reference.lastIndex() + 3)));
    const snapshot: Snapshot = {
      metadata: { index, term: term(this.currentTerm), confState }, data: new Uint8Array([index % 256, 2]),
    };
    const hard = this.hard(index);
    this.trace.push(`received snapshot ${index}@${this.currentTerm}`);
    if (!this.reference.applySnapshot(snapshot).ok) throw new Error("apply");
    // Durable file, no WAL record yet: the snapshot wins and raises the old commit.
    this.logs.push(captureLog(this.reference));
    this.hards.push(captureHard({ ...old, commit: index }));
    this.reference.setHardState(hard);
    this.mayPersist();
    await this.node.snapshots.save(snapshot);
    await this.node.wal.save({ hardState: hard, entries: [], snapshotMarker: { index, term: snapshot.metadata.term } }, true);
    if (!this.node.storage.applySnapshot(snapshot).ok) throw new Error("apply");
    this.node.storage.setHardState(hard);
  }

  async step(): Promise<void> {
    const roll = this.prng.nextFloat();
    if (roll < 0.7) await this.append(true);
    else if (roll < 0.85) await this.localSnapshot();
    else await this.receivedSnapshot();
    this.settle();
  }
}

/** Runs steps until the scheduled crash fires (or crashes after the last step). */
async function runUntilCrash(run: Run): Promise<boolean> {
  for (let step = 0; step < 20; step += 1) {
    try {
      await run.step();
    } catch (error) {
      if (error instanceof CrashedFileError) return true;
      throw error;
    }
  }
  run.io.cancelCrash();
  run.io.crash(run.prng);
  return false;
}

test("crashes at any I/O operation reopen to a state the driver could have made durable", async (t) => {
  const seedText = process.env["PFS_SEED"];
  const seed = seedText === undefined ? systemSeed() : Number(seedText);
  t.log(`seed ${seed} (rerun with PFS_SEED=${seed})`);
  const run = new Run(new Prng(seed));
  await run.open();
  let crashesInsideOperations = 0;
  for (let crash = 0; crash < 400; crash += 1) {
    const steps = run.prng.intBetween(0, 6);
    for (let step = 0; step < steps; step += 1) await run.step();
    if (run.prng.chance(0.3)) {
      await run.append(false);
      run.io.crash(run.prng);
    } else {
      run.io.crashAfter(run.prng.intBetween(1, 10), run.prng);
      if (await runUntilCrash(run)) crashesInsideOperations += 1;
    }
    const { logs, hards } = run;
    const where = `seed ${seed} crash ${crash} after:\n${run.trace.join("\n")}`;
    if (run.prng.chance(0.2)) run.io.crashAfter(run.prng.intBetween(1, 3), run.prng);
    try {
      await run.open();
    } catch (error) {
      if (!(error instanceof CrashedFileError)) {
        t.log(where);
        throw error;
      }
      await run.open(); // Crashed while reopening: reopen again.
    }
    run.io.cancelCrash();
    run.trace = [];
    const log = captureLog(run.reference);
    const hard = captureHard(run.reference.initialState().hardState);
    t.true(logs.includes(log), `${where}\nlog ${log} not in\n${logs.join("\n")}`);
    t.true(hards.includes(hard), `${where}\nhard ${hard} not in ${hards.join(" | ")}`);
  }
  t.true(crashesInsideOperations >= 100, `only ${crashesInsideOperations} crashes hit an operation`);
});
