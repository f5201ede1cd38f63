/**
 * Snapshots as files in one directory, named as etcd names them: `<term>-<index>.snap` (16
 * hex digits each). A save writes `<name>.tmp`, fsyncs it, renames it and fsyncs the
 * directory, so a crash leaves either no snapshot or a whole one (and maybe a `.tmp` that the
 * next load removes). Every file carries a CRC over its metadata and data, verified on load.
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
import { decodeSnapshotFile, encodeSnapshotFile } from "./snapshot-store-codec.js";

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

  constructor(options: FileSnapshotStoreOptions) {
    this.#dir = options.dir;
    this.#io = options.io;
    this.#logger = options.logger;
  }

  async save(snapshot: Snapshot): Promise<void> {
    const bytes = encodeSnapshotFile(snapshot);
    assert(bytes.length <= limits.snapshotFileBytesMax, () =>
      `snapshot of ${bytes.length} B above snapshotFileBytesMax ${limits.snapshotFileBytesMax}`);
    await this.#io.makeDir(this.#dir);
    const name = snapshotFileName(snapshot.metadata.term, snapshot.metadata.index);
    const finalPath = path.join(this.#dir, name);
    const temporaryPath = finalPath + temporarySuffix;
    const names = await this.#io.listDir(this.#dir);
    if (names.includes(name + temporarySuffix)) await this.#io.remove(temporaryPath);
    const file = await this.#io.createFile(temporaryPath);
    try {
      await file.append(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.#io.rename(temporaryPath, finalPath);
    await this.#io.syncDir(this.#dir);
    this.#logger.info("snapshot saved", { file: name, bytes: bytes.length });
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

  async loadNewest(): Promise<Snapshot | undefined> {
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

  async purge(keep: number = limits.snapshotFilesKept): Promise<number> {
    assertSafeInteger(keep, "snapshots kept", 1);
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
