/**
 * A `FileIo` that times every fsync of a file under the WAL directory and reports it (in
 * seconds) to `onWalSync`, for etcd_disk_wal_fsync_duration_seconds. Everything else passes
 * through unchanged, so the WAL's durability contract is the wrapped FileIo's. Snapshot files
 * (another directory) are not timed: etcd's histogram is of WAL fsyncs only.
 */
import { resolve, sep } from "node:path";
import type { AppendFile, FileIo } from "../../raftnode/index.js";

class TimedAppendFile implements AppendFile {
  readonly #file: AppendFile;
  readonly #onSync: (seconds: number) => void;

  constructor(file: AppendFile, onSync: (seconds: number) => void) {
    this.#file = file;
    this.#onSync = onSync;
  }

  get path(): string { return this.#file.path; }
  get sizeBytes(): number { return this.#file.sizeBytes; }
  append(bytes: Uint8Array): Promise<void> { return this.#file.append(bytes); }
  close(): Promise<void> { return this.#file.close(); }

  /** Times only a sync that succeeded: a failed fsync leaves the WAL unusable anyway. */
  async sync(): Promise<void> {
    const started = process.hrtime.bigint();
    await this.#file.sync();
    this.#onSync(Number(process.hrtime.bigint() - started) / 1e9);
  }
}

/** `io` with the fsyncs of files below `walDir` timed into `onWalSync`. */
export function timedWalIo(io: FileIo, walDir: string, onWalSync: (seconds: number) => void):
  FileIo {
  const prefix = resolve(walDir) + sep;
  const timed = (file: AppendFile): AppendFile =>
    resolve(file.path).startsWith(prefix) ? new TimedAppendFile(file, onWalSync) : file;
  return {
    makeDir: (dir) => io.makeDir(dir),
    listDir: (dir) => io.listDir(dir),
    readFile: (file) => io.readFile(file),
    createFile: async (file) => timed(await io.createFile(file)),
    openAppend: async (file) => timed(await io.openAppend(file)),
    truncate: (file, sizeBytes) => io.truncate(file, sizeBytes),
    rename: (from, to) => io.rename(from, to),
    remove: (file) => io.remove(file),
    syncDir: (dir) => io.syncDir(dir),
  };
}
