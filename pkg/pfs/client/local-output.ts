/**
 * Where `pfs get file` writes on this machine, durably and all or nothing: a file is streamed
 * to a temporary file next to the output, fsynced, renamed over it and its directory fsynced;
 * a directory (the server sends it as a tar stream) is extracted into a temporary directory
 * next to the output, every file fsynced, then swapped in for the output the same way. A
 * failure removes the temporary and leaves the old output as it was.
 *
 * Tar entries are checked with pkg/pfs/path's `checkTarEntry` (no links, no devices, nothing
 * that climbs out), so a hostile server cannot write outside the output directory.
 */
import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { Prng, systemSeed } from "../../common/index.js";
import { checkTarEntry, rootPath } from "../path/index.js";

/** fsyncs a file or directory by path. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const tempRandom = new Prng(systemSeed());

/** A fresh temporary name next to `path` (same directory, so a rename is atomic). */
export function temporaryNextTo(path: string): string {
  const tag = tempRandom.intBelow(0x7fff_ffff).toString(16).padStart(8, "0");
  return join(dirname(path), `.${basename(path)}.pfs-${process.pid}-${tag}`);
}

/** Writes what `fill` streams into a Writable to `out`, atomically and durably. */
export async function writeFileAtomically(out: string,
  fill: (sink: Writable) => Promise<unknown>): Promise<void> {
  const temporary = temporaryNextTo(out);
  try {
    const sink = createWriteStream(temporary, { flags: "wx" });
    await fill(sink);
    await fsyncPath(temporary);
    await rename(temporary, out);
    await fsyncPath(dirname(out));
  } catch (error: unknown) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Extracts the tar stream `source` below `directory` (which exists), fsyncing every file. */
async function extractTar(source: Readable, directory: string): Promise<number> {
  const extract = tar.extract();
  let files = 0;
  const done = pipeline(source, extract);
  for await (const entry of extract) {
    const target = checkTarEntry(entry.header, rootPath);
    if (!target.ok) {
      entry.resume();
      throw target.error;
    }
    const local = join(directory, ...target.value.path.split("/").filter((part) => part !== ""));
    if (target.value.kind === "directory") {
      await mkdir(local, { recursive: true });
      entry.resume();
      continue;
    }
    await mkdir(dirname(local), { recursive: true });
    await pipeline(entry, createWriteStream(local, { flags: "wx" }));
    await fsyncPath(local);
    files += 1;
  }
  await done;
  return files;
}

/**
 * Replaces the directory `out` with the tar stream `fill` produces, extracted. Resolves with
 * the number of files written. `out` may be absent; an existing file or directory there is
 * replaced only once the new directory is complete.
 */
export async function writeDirectoryAtomically(out: string,
  fill: (sink: Writable) => Promise<unknown>): Promise<number> {
  const temporary = temporaryNextTo(out);
  const retired = temporaryNextTo(out);
  await mkdir(temporary);
  try {
    const stream = new PassThrough();
    const [, files] = await Promise.all([fill(stream), extractTar(stream, temporary)]);
    await fsyncPath(temporary);
    await rename(out, retired).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
    await rename(temporary, out);
    await fsyncPath(dirname(out));
    await rm(retired, { recursive: true, force: true });
    return files;
  } catch (error: unknown) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
}
