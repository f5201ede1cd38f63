/**
 * An in-memory `FileIo` that models what a crash keeps (STYLE rules 4 and 19): appended bytes
 * become durable only on `sync()`, and names only on `syncDir()`. `crash()` throws away
 * everything not durable, optionally keeping a seeded-random prefix of each file's unsynced
 * tail (a torn write). Also counts fsyncs and can fail the next ones, for group-commit and
 * fault tests. Directories are durable as soon as they are made (a simplification: the WAL and
 * snapshot directories exist before any file in them matters).
 */
import * as path from "node:path";
import { type Prng, assert } from "../common/index.js";
import type { AppendFile, FileIo } from "./file-io.js";

/** One file's content. Invariant: the durable content is `data[0, durableBytes)`. */
interface Inode {
  data: Uint8Array;
  durableBytes: number;
}

interface Directory {
  readonly names: Map<string, Inode>;
  readonly durableNames: Map<string, Inode>;
}

/** Raised by every operation on a file handle opened before a `crash()`. */
export class CrashedFileError extends Error {
  override readonly name = "CrashedFileError";
}

/** Raised by `sync`/`syncDir` while `failSyncs` > 0: a device error reported by fsync. */
export class InjectedSyncError extends Error {
  override readonly name = "InjectedSyncError";
}

class MemoryAppendFile implements AppendFile {
  readonly path: string;
  readonly #io: MemoryFileIo;
  readonly #inode: Inode;
  readonly #generation: number;
  #closed = false;

  constructor(io: MemoryFileIo, file: string, inode: Inode, generation: number) {
    this.path = file;
    this.#io = io;
    this.#inode = inode;
    this.#generation = generation;
  }

  get sizeBytes(): number {
    return this.#inode.data.length;
  }

  #check(): void {
    assert(!this.#closed, () => `file ${this.path} used after close`);
    if (this.#generation !== this.#io.generation) {
      throw new CrashedFileError(`file ${this.path} was open when the file system crashed`);
    }
  }

  append(bytes: Uint8Array): Promise<void> {
    this.#check();
    this.#io.beforeMutation();
    const grown = new Uint8Array(this.#inode.data.length + bytes.length);
    grown.set(this.#inode.data, 0);
    grown.set(bytes, this.#inode.data.length);
    this.#inode.data = grown;
    return Promise.resolve();
  }

  sync(): Promise<void> {
    this.#check();
    this.#io.beforeMutation();
    this.#io.countSync();
    this.#inode.durableBytes = this.#inode.data.length;
    return Promise.resolve();
  }

  close(): Promise<void> {
    assert(!this.#closed, () => `file ${this.path} closed twice`);
    this.#closed = true;
    return Promise.resolve();
  }
}

/** A simulated file system in memory. Not thread-safe; one event loop owns it. */
export class MemoryFileIo implements FileIo {
  readonly #directories = new Map<string, Directory>();
  /** Bumped by `crash()`: handles from an older generation refuse every operation. */
  generation = 0;
  /** Successful file syncs (fdatasync) so far. */
  fileSyncs = 0;
  /** Successful directory syncs so far. */
  dirSyncs = 0;
  /** While positive, each `sync`/`syncDir` fails with `InjectedSyncError` and decrements it. */
  failSyncs = 0;

  /** Mutating operations left before a scheduled crash; undefined when none is scheduled. */
  #crashCountdown: number | undefined = undefined;
  #crashPrng: Prng | undefined = undefined;

  /**
   * Schedules a crash: the `operations`-th mutating operation from now (create, append, sync,
   * truncate, rename, remove, directory sync) is not performed; instead `crash(prng)` happens
   * and the operation rejects with `CrashedFileError`. Lets a test crash at every I/O point.
   */
  crashAfter(operations: number, prng?: Prng): void {
    assert(Number.isSafeInteger(operations) && operations >= 1, () => `crash after ${operations}`);
    this.#crashCountdown = operations;
    this.#crashPrng = prng;
  }

  /** Cancels a scheduled crash. */
  cancelCrash(): void {
    this.#crashCountdown = undefined;
  }

  /** Runs the scheduled crash when due. Internal to this module's handles. */
  beforeMutation(): void {
    if (this.#crashCountdown === undefined) return;
    this.#crashCountdown -= 1;
    if (this.#crashCountdown > 0) return;
    this.#crashCountdown = undefined;
    this.crash(this.#crashPrng);
    throw new CrashedFileError("the file system crashed (scheduled)");
  }

  /** Counts a file sync or throws the injected failure. Internal to this module's handles. */
  countSync(): void {
    this.#maybeFail();
    this.fileSyncs += 1;
  }

  #maybeFail(): void {
    if (this.failSyncs > 0) {
      this.failSyncs -= 1;
      throw new InjectedSyncError("injected fsync failure");
    }
  }

  #dir(dir: string): Directory {
    const found = this.#directories.get(path.resolve(dir));
    if (found === undefined) throw new Error(`ENOENT: no such directory ${dir}`);
    return found;
  }

  #inode(file: string): Inode {
    const inode = this.#dir(path.dirname(file)).names.get(path.basename(file));
    if (inode === undefined) throw new Error(`ENOENT: no such file ${file}`);
    return inode;
  }

  makeDir(dir: string): Promise<void> {
    const key = path.resolve(dir);
    if (!this.#directories.has(key)) {
      this.#directories.set(key, { names: new Map(), durableNames: new Map() });
    }
    return Promise.resolve();
  }

  listDir(dir: string): Promise<string[]> {
    return Promise.resolve([...this.#dir(dir).names.keys()].sort());
  }

  readFile(file: string): Promise<Uint8Array> {
    return Promise.resolve(this.#inode(file).data.slice());
  }

  createFile(file: string): Promise<AppendFile> {
    this.beforeMutation();
    const directory = this.#dir(path.dirname(file));
    const name = path.basename(file);
    if (directory.names.has(name)) throw new Error(`EEXIST: file exists ${file}`);
    const inode: Inode = { data: new Uint8Array(0), durableBytes: 0 };
    directory.names.set(name, inode);
    return Promise.resolve(new MemoryAppendFile(this, file, inode, this.generation));
  }

  openAppend(file: string): Promise<AppendFile> {
    return Promise.resolve(new MemoryAppendFile(this, file, this.#inode(file), this.generation));
  }

  truncate(file: string, sizeBytes: number): Promise<void> {
    this.beforeMutation();
    const inode = this.#inode(file);
    assert(sizeBytes <= inode.data.length, () => `truncate ${file} up to ${sizeBytes}`);
    inode.data = inode.data.slice(0, sizeBytes);
    inode.durableBytes = Math.min(inode.durableBytes, sizeBytes);
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    this.beforeMutation();
    const source = this.#dir(path.dirname(from));
    const inode = this.#inode(from);
    source.names.delete(path.basename(from));
    this.#dir(path.dirname(to)).names.set(path.basename(to), inode);
    return Promise.resolve();
  }

  remove(file: string): Promise<void> {
    this.beforeMutation();
    this.#inode(file);
    this.#dir(path.dirname(file)).names.delete(path.basename(file));
    return Promise.resolve();
  }

  syncDir(dir: string): Promise<void> {
    this.beforeMutation();
    const directory = this.#dir(dir);
    this.#maybeFail();
    this.dirSyncs += 1;
    directory.durableNames.clear();
    for (const [name, inode] of directory.names) directory.durableNames.set(name, inode);
    return Promise.resolve();
  }

  /**
   * Simulates power loss: every name and byte not made durable is lost. With `prng`, each
   * file keeps a random prefix of its unsynced tail, as a torn write may.
   */
  crash(prng?: Prng): void {
    this.generation += 1;
    for (const directory of this.#directories.values()) {
      directory.names.clear();
      for (const [name, inode] of directory.durableNames) directory.names.set(name, inode);
      for (const inode of directory.names.values()) {
        const unsynced = inode.data.length - inode.durableBytes;
        const kept = prng === undefined ? 0 : prng.intBelow(unsynced + 1);
        inode.data = inode.data.slice(0, inode.durableBytes + kept);
        inode.durableBytes = inode.data.length;
      }
    }
  }

  /** Test hook: XORs the byte at `offsetBytes` of `file` with `mask` (bit rot). */
  corrupt(file: string, offsetBytes: number, mask = 0xff): void {
    const inode = this.#inode(file);
    const value = inode.data[offsetBytes];
    assert(value !== undefined, () => `corrupt ${file} at ${offsetBytes} beyond its end`);
    inode.data[offsetBytes] = value ^ mask;
  }
}
