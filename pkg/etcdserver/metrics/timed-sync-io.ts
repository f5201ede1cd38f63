/**
 * A `FileIo` that times every fsync of a file under a watched directory and reports it (in
 * seconds) to that directory's callback: the WAL's for etcd_disk_wal_fsync_duration_seconds
 * (etcd's histogram is of WAL fsyncs only), the snapshot directory's for the snapshot
 * histogram. Everything else passes through unchanged, so the durability contract is the
 * wrapped FileIo's.
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

/** A directory whose files' fsyncs are timed, and where the durations go. */
export interface TimedDir {
  readonly dir: string;
  readonly onSync: (seconds: number) => void;
}

/** `io` with the fsyncs of files below each of `dirs` timed into its `onSync`. */
export function timedSyncIo(io: FileIo, dirs: readonly TimedDir[]): FileIo {
  const prefixes = dirs.map((each) => ({ prefix: resolve(each.dir) + sep, onSync: each.onSync }));
  const timed = (file: AppendFile): AppendFile => {
    const where = prefixes.find((each) => resolve(file.path).startsWith(each.prefix));
    return where === undefined ? file : new TimedAppendFile(file, where.onSync);
  };
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
