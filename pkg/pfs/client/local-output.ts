/**
 * Where `pfs get file` writes on this machine, durably and all or nothing: a file is streamed
 * to a temporary file next to the output, fsynced, renamed over it and its directory fsynced;
 * a directory (the server sends it as a tar stream) is extracted into a temporary directory
 * next to the output, every file fsynced, then swapped in for the output the same way. A
 * failure (the server's stream failing part way included) removes the temporary and leaves
 * the old output as it was, so a partial copy is never left pretending to be complete.
 *
 * Tar entries are checked with pkg/pfs/path's `checkTarEntry` (no links, no devices, nothing
 * that climbs out), so a hostile server cannot write outside the output directory.
 */
import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { PfsError, Prng, systemSeed } from "../../common/index.js";
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

/**
 * Writes what `fill` streams into a Writable to `out`, atomically and durably. If `fill`
 * rejects (a stream that failed part way), the temporary file is closed and removed and `out`
 * is left as it was: a partial copy is never renamed into place.
 */
export async function writeFileAtomically(out: string,
  fill: (sink: Writable) => Promise<unknown>): Promise<void> {
  const temporary = temporaryNextTo(out);
  // Opened before anything is asked of `fill`: a directory that is missing or not writable
  // fails here, as a rejection, not later as an 'error' event with no listener.
  const handle = await open(temporary, "wx").catch((error: unknown) => {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new PfsError("INVALID_ARGUMENT", `cannot write ${out} (${reason})`);
  });
  const sink = handle.createWriteStream();
  try {
    await fill(sink);
    await fsyncPath(temporary);
    await rename(temporary, out);
    await fsyncPath(dirname(out));
  } catch (error: unknown) {
    sink.destroy();
    await finished(sink).catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Extracts the tar stream `source` below `directory` (which exists), fsyncing every file. */
async function extractTar(source: Readable, directory: string): Promise<number> {
  const extract = tar.extract();
  let files = 0;
  const done = pipeline(source, extract);
  // Observed now: the loop below may throw first, and `done` then fails unawaited.
  done.catch(() => undefined);
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
 * Runs `fill` into a stream and `extractTar` from it, both to the end: whichever fails first
 * destroys the stream, so the other one fails too instead of waiting forever (a get whose
 * extraction failed is cancelled; an extraction whose get failed stops). Rejects with the
 * extraction's own refusal (a PfsError: a hostile entry, a limit), else with the get's error,
 * which is the cause when the server failed or the connection dropped.
 */
async function fillAndExtract(fill: (sink: Writable) => Promise<unknown>, directory: string):
  Promise<number> {
  const stream = new PassThrough();
  const stopOnFailure = async <T>(work: Promise<T>): Promise<{ ok: T } | { error: unknown }> => {
    try {
      return { ok: await work };
    } catch (error: unknown) {
      stream.destroy(error instanceof Error ? error : new Error(String(error)));
      return { error };
    }
  };
  const [filled, extracted] = await Promise.all([
    stopOnFailure(fill(stream)), stopOnFailure(extractTar(stream, directory)),
  ]);
  if ("error" in extracted && extracted.error instanceof PfsError) throw extracted.error;
  if ("error" in filled) throw filled.error;
  if ("error" in extracted) throw extracted.error;
  return extracted.ok;
}

/**
 * Replaces the directory `out` with the tar stream `fill` produces, extracted. Resolves with
 * the number of files written. `out` may be absent; an existing file or directory there is
 * replaced only once the new directory is complete. If `fill` or the extraction fails, the
 * temporary directory is removed and `out` is left as it was.
 */
export async function writeDirectoryAtomically(out: string,
  fill: (sink: Writable) => Promise<unknown>): Promise<number> {
  const temporary = temporaryNextTo(out);
  const retired = temporaryNextTo(out);
  await mkdir(temporary);
  try {
    const files = await fillAndExtract(fill, temporary);
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
