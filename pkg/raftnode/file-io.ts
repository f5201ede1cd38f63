/**
 * The file-system seam of the durable Raft storage (STYLE rule 4). The WAL and the snapshot
 * store do every read, write, fsync and rename through a `FileIo`, so tests and the simulator
 * can count fsyncs, fail them, or crash and lose every byte that was not made durable
 * (`MemoryFileIo`). `NodeFileIo` is the real implementation over `node:fs/promises`.
 *
 * Durability contract (what `MemoryFileIo` models and `NodeFileIo` relies on from POSIX):
 * bytes appended to a file survive a crash only after `sync()` on that file; a created,
 * renamed or removed name survives a crash only after `syncDir()` on its directory.
 */
import { constants as fsConstants } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { assert } from "../common/index.js";

/** An open file that is only ever appended to. Owned by whoever opened it; close it once. */
export interface AppendFile {
  /** The file's name, for error messages and logs. */
  readonly path: string;
  /** The file's size in bytes, including appended bytes not yet synced. */
  readonly sizeBytes: number;
  /** Appends `bytes` at the end. Not durable until `sync()` resolves. */
  append(bytes: Uint8Array): Promise<void>;
  /** Makes every appended byte durable (fdatasync). Rejects if the device reports an error. */
  sync(): Promise<void>;
  /** Closes the file; unsynced bytes are not made durable by closing. */
  close(): Promise<void>;
}

/** File-system operations of the WAL and snapshot store. Paths are absolute or cwd-relative. */
export interface FileIo {
  /** Creates `dir` and its parents if missing, durably (their parents are fsynced). */
  makeDir(dir: string): Promise<void>;
  /** The names (not paths) in `dir`, sorted by code unit. */
  listDir(dir: string): Promise<string[]>;
  /** The whole content of a file. */
  readFile(file: string): Promise<Uint8Array>;
  /** Creates a new, empty file for appending. Rejects if it exists. */
  createFile(file: string): Promise<AppendFile>;
  /** Opens an existing file for appending after its current content. */
  openAppend(file: string): Promise<AppendFile>;
  /** Cuts a file to `sizeBytes` and makes the cut durable. */
  truncate(file: string, sizeBytes: number): Promise<void>;
  /** Renames atomically, replacing `to`. Durable only after `syncDir`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. Durable only after `syncDir`. */
  remove(file: string): Promise<void>;
  /** Makes the names in `dir` durable (fsync of the directory). */
  syncDir(dir: string): Promise<void>;
}

class NodeAppendFile implements AppendFile {
  readonly path: string;
  #handle: fs.FileHandle | undefined;
  #sizeBytes: number;

  constructor(file: string, handle: fs.FileHandle, sizeBytes: number) {
    this.path = file;
    this.#handle = handle;
    this.#sizeBytes = sizeBytes;
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  #open(): fs.FileHandle {
    assert(this.#handle !== undefined, () => `file ${this.path} used after close`);
    return this.#handle;
  }

  async append(bytes: Uint8Array): Promise<void> {
    const handle = this.#open();
    let written = 0;
    while (written < bytes.length) {
      const result = await handle.write(bytes, written, bytes.length - written, null);
      assert(result.bytesWritten > 0, () => `write to ${this.path} made no progress`);
      written += result.bytesWritten;
    }
    this.#sizeBytes += bytes.length;
  }

  async sync(): Promise<void> {
    await this.#open().datasync();
  }

  async close(): Promise<void> {
    const handle = this.#open();
    this.#handle = undefined;
    await handle.close();
  }
}

/** The real file system (`node:fs/promises`). */
export class NodeFileIo implements FileIo {
  async makeDir(dir: string): Promise<void> {
    const firstCreated = await fs.mkdir(dir, { recursive: true });
    if (firstCreated === undefined) return;
    // Make each new directory's name durable: sync from `dir` up to the parent of the first
    // directory created (its name lives there).
    const stop = path.dirname(path.resolve(firstCreated));
    for (let current = path.resolve(dir); ; current = path.dirname(current)) {
      await this.syncDir(path.dirname(current));
      const parent = path.dirname(current);
      if (parent === stop || current === stop || parent === current) break;
    }
  }

  async listDir(dir: string): Promise<string[]> {
    const names = await fs.readdir(dir);
    return names.sort();
  }

  async readFile(file: string): Promise<Uint8Array> {
    const buffer = await fs.readFile(file);
    // A view, not a copy: snapshot files may be large.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  async createFile(file: string): Promise<AppendFile> {
    const flags = fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY;
    const handle = await fs.open(file, flags, 0o600);
    return new NodeAppendFile(file, handle, 0);
  }

  async openAppend(file: string): Promise<AppendFile> {
    const handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND);
    const stat = await handle.stat();
    return new NodeAppendFile(file, handle, stat.size);
  }

  async truncate(file: string, sizeBytes: number): Promise<void> {
    const handle = await fs.open(file, fsConstants.O_WRONLY);
    try {
      await handle.truncate(sizeBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to);
  }

  async remove(file: string): Promise<void> {
    await fs.rm(file);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await fs.open(path.resolve(dir), fsConstants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
