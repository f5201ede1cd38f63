/**
 * Snapshots as files in one directory, named as etcd names them: `<term>-<index>.snap` (16
 * hex digits each). A save writes `<name>.tmp`, fsyncs it, renames it and fsyncs the
 * directory, so a crash leaves either no snapshot or a whole one (and maybe a `.tmp` that the
 * next load removes). Every file carries a CRC over its metadata and data, verified on load.
 * Saves, loads and purges run one at a time, in call order: a member may save its own
 * snapshot in the background while its Raft loop saves one received from the leader, and a
 * purge's listing must never take the other's half-written file for a crash's leftover.
 */
import * as path from "node:path";
import type { Snapshot } from "../raft/index.js";
import {
  type Logger,
  MalformedPayloadError,
  PfsError,
  assert,
  assertSafeInteger,
  limits,
} from "../common/index.js";
import type { FileIo } from "./file-io.js";
import type { SnapshotStore } from "./snapshot-store.js";
import { decodeSnapshotFile, encodeSnapshotFileInSlices } from "./snapshot-store-codec.js";

const snapshotPattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const temporarySuffix = ".tmp";

interface SnapshotName {
  readonly name: string;
  readonly term: number;
  readonly index: number;
}

/** The file name of a snapshot at `index` in `term`. */
export function snapshotFileName(snapshotTerm: number, index: number): string {
  const hex = (value: number): string => value.toString(16).padStart(16, "0");
  return `${hex(snapshotTerm)}-${hex(index)}.snap`;
}

function parseSnapshotName(name: string): SnapshotName | undefined {
  const match = snapshotPattern.exec(name);
  if (match === null) return undefined;
  const snapshotTerm = Number.parseInt(match[1] ?? "", 16);
  const index = Number.parseInt(match[2] ?? "", 16);
  if (!Number.isSafeInteger(snapshotTerm) || !Number.isSafeInteger(index)) return undefined;
  return { name, term: snapshotTerm, index };
}

/** Options of `FileSnapshotStore`. */
export interface FileSnapshotStoreOptions {
  readonly dir: string;
  readonly io: FileIo;
  readonly logger: Logger;
}

/** The durable `SnapshotStore`. One store per directory. */
export class FileSnapshotStore implements SnapshotStore {
  readonly #dir: string;
  readonly #io: FileIo;
  readonly #logger: Logger;
  /** The tail of the operations queue (see the module comment). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: FileSnapshotStoreOptions) {
    this.#dir = options.dir;
    this.#io = options.io;
    this.#logger = options.logger;
  }

  /** Runs `operation` after every operation called before it. */
  #serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  save(snapshot: Snapshot): Promise<void> {
    return this.#serialized(() => this.#save(snapshot));
  }

  async #save(snapshot: Snapshot): Promise<void> {
    const pieces = await encodeSnapshotFileInSlices(snapshot, limits.snapshotSliceBytes);
    const bytes = pieces[0].length + pieces[1].length;
    assert(bytes <= limits.snapshotFileBytesMax, () =>
      `snapshot of ${bytes} B above snapshotFileBytesMax ${limits.snapshotFileBytesMax}`);
    await this.#io.makeDir(this.#dir);
    const name = snapshotFileName(snapshot.metadata.term, snapshot.metadata.index);
    const finalPath = path.join(this.#dir, name);
    const temporaryPath = finalPath + temporarySuffix;
    const names = await this.#io.listDir(this.#dir);
    if (names.includes(name + temporarySuffix)) await this.#io.remove(temporaryPath);
    const file = await this.#io.createFile(temporaryPath);
    try {
      for (const piece of pieces) await file.append(piece);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.#io.rename(temporaryPath, finalPath);
    await this.#io.syncDir(this.#dir);
    this.#logger.info("snapshot saved", { file: name, bytes });
  }

  /** Snapshot files, newest (highest index, then term) first; removes leftover temp files. */
  async #list(): Promise<SnapshotName[]> {
    await this.#io.makeDir(this.#dir);
    const found: SnapshotName[] = [];
    for (const name of await this.#io.listDir(this.#dir)) {
      if (name.endsWith(temporarySuffix)) {
        this.#logger.warn("removing a snapshot left half-written by a crash", { file: name });
        await this.#io.remove(path.join(this.#dir, name));
        continue;
      }
      const parsed = parseSnapshotName(name);
      if (parsed !== undefined) found.push(parsed);
    }
    return found.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  loadNewest(): Promise<Snapshot | undefined> {
    return this.#serialized(() => this.#loadNewest());
  }

  async #loadNewest(): Promise<Snapshot | undefined> {
    const failures: string[] = [];
    for (const candidate of await this.#list()) {
      const file = path.join(this.#dir, candidate.name);
      try {
        const snapshot = decodeSnapshotFile(await this.#io.readFile(file));
        checkNameMatches(candidate, snapshot);
        if (failures.length > 0) {
          this.#logger.warn("fell back to an older snapshot", { file, skipped: failures.join("; ") });
        }
        return snapshot;
      } catch (error) {
        if (!(error instanceof MalformedPayloadError)) throw error;
        this.#logger.error("snapshot file failed verification", { file, reason: error.message });
        failures.push(`${file}: ${error.message}`);
      }
    }
    if (failures.length === 0) return undefined;
    throw new PfsError("DATA_CORRUPTED",
      `no snapshot in ${this.#dir} verifies: ${failures.join("; ")}`, { dir: this.#dir });
  }

  purge(keep: number = limits.snapshotFilesKept): Promise<number> {
    assertSafeInteger(keep, "snapshots kept", 1);
    return this.#serialized(() => this.#purge(keep));
  }

  async #purge(keep: number): Promise<number> {
    const old = (await this.#list()).slice(keep);
    for (const snapshot of old) await this.#io.remove(path.join(this.#dir, snapshot.name));
    if (old.length > 0) await this.#io.syncDir(this.#dir);
    return old.length;
  }
}

function checkNameMatches(name: SnapshotName, snapshot: Snapshot): void {
  if (name.index !== snapshot.metadata.index || name.term !== snapshot.metadata.term) {
    throw new MalformedPayloadError(
      `holds index ${snapshot.metadata.index} term ${snapshot.metadata.term}, ` +
      `its name says index ${name.index} term ${name.term}`);
  }
}
