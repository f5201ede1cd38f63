/**
 * Moves datum logs from a staging commit into a job's logs commit in bulk: one GetFile of the
 * staging commit's `/log` directory (a tar stream, names relative to it: the datum ids) piped
 * through a renaming tar into one PutFile TAR of the logs commit, where each wanted datum's
 * log lands at `logPath(job, datum)`. A CopyFile per datum costs a call and a commit write
 * each, which for thousands of datums is most of a job's assembly.
 *
 * Only the datums asked for are relayed (a staging branch may hold a log of a datum whose
 * result was never written there); the caller copies any wanted log the relay did not find.
 * Memory stays flat: entries stream through with backpressure, one at a time.
 */
import { type EventEmitter, once } from "node:events";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Extract, type Pack, extract, pack } from "tar-stream";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import { type PfsClient, commitRef, fileRef } from "../../pfs/client/index.js";
import { logPath, stagedLogPath } from "../task-records.js";
import { parseCommitName } from "./job-plan.js";

/** Moves the wanted entries of `reader` into `archive`, renamed, one at a time; finalizes it. */
async function renameEntries(reader: Extract, archive: Pack, jobId: string,
  datumIds: ReadonlySet<string>, relayed: Set<string>): Promise<void> {
  for await (const entry of reader) {
    const id = entry.header.name;
    if (entry.header.type !== "file" || !datumIds.has(id)) {
      entry.resume();
      continue;
    }
    relayed.add(id);
    let settle: (error?: Error | null) => void = () => undefined;
    const written = new Promise<void>((resolve, reject) => {
      settle = (error) => { if (error) reject(error); else resolve(); };
    });
    const writer = archive.entry({ name: logPath(jobId, id).slice(1),
      size: entry.header.size, type: "file", mode: 0o644 }, (error) => { settle(error); });
    for await (const piece of entry as AsyncIterable<Buffer>) {
      if (!writer.write(piece)) await once(writer as unknown as EventEmitter, "drain");
    }
    writer.end(Buffer.alloc(0));
    await written;
  }
  archive.finalize();
}

/**
 * Relays the logs of `datumIds` from `source`'s `/log` into `target` (open); resolves with
 * the ids relayed. Rejects as pfs does; a failed read or put ends the other.
 */
export async function relayLogs(pfs: PfsClient, jobId: string, source: string, target: string,
  datumIds: ReadonlySet<string>): Promise<Set<string>> {
  const from = parseCommitName(source);
  const to = parseCommitName(target);
  const relayed = new Set<string>();
  const carrier = new PassThrough();
  const reader = extract();
  const archive = pack();
  const feeding = pipeline(carrier, reader);
  const reading = pfs.getFile(fileRef(from.repo, from.id, stagedLogPath("").slice(0, -1)),
    carrier);
  const renaming = renameEntries(reader, archive, jobId, datumIds, relayed);
  renaming.catch((error: unknown) => {
    archive.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  const putting = pfs.putFile({ commit: commitRef(to.repo, to.id), path: "/", append: false,
    format: "TAR" }, archive as AsyncIterable<Buffer>);
  const all = [reading, feeding, renaming, putting];
  for (const step of all) step.catch(() => { reader.destroy(); });
  const outcomes = await Promise.allSettled(all);
  const failure = outcomes.find((outcome) => outcome.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return relayed;
}
