/**
 * The bounds of the pfs client and CLI (STYLE rule 8): each named, with its unit last and why
 * it has this value. Relations between them are asserted when the module loads.
 */
import { assert, limits } from "../../common/index.js";

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

/**
 * Deadline of every call that moves no data (repos, commits, branches, inspect, list, glob,
 * diff, delete, copy): long enough for a finish that waits on a write quorum, short enough
 * that a dead server fails a script instead of hanging it.
 */
export const callDeadlineMsDefault: number = 30_000;
/** Smallest deadline `--deadline-ms` accepts: below it even a healthy local call fails. */
export const callDeadlineMsMin: number = 100;
/** Largest deadline `--deadline-ms` accepts: an hour is a hang by any other name. */
export const callDeadlineMsMax: number = 3_600_000;
/**
 * Bytes of one PutFile data message: big enough that framing costs nothing, small enough that
 * the bytes in flight (this times the stream's buffered messages) keep memory flat.
 */
export const putMessageBytes: number = 1 * mebibyte;
/** Largest message the client accepts or sends: the server's limit (one chunk plus framing). */
export const grpcMessageBytesMax: number = limits.pfsGrpcMessageBytesMax;
/** A put or get shows a progress bar (on a terminal) only above this many bytes. */
export const progressBytesMin: number = 8 * mebibyte;
/** A progress bar redraws at most this often: cheap, and readable. */
export const progressRedrawMsMin: number = 200;
/** Quiet period after the last change before `pfs sync` commits a burst of changes. */
export const syncQuietMsDefault: number = 500;
/** Files `put file -r` and `pfs sync` walk in one directory tree: bounds the walk's memory. */
export const walkFilesMax: number = 1_000_000;
/** Commits `list commit` asks for by default (0 = the server's default). */
export const listCommitLimitDefault: number = 0;

assert(putMessageBytes < grpcMessageBytesMax, "a PutFile message must fit the gRPC limit");
assert(callDeadlineMsMin <= callDeadlineMsDefault && callDeadlineMsDefault <= callDeadlineMsMax,
  "the default call deadline must lie in [callDeadlineMsMin, callDeadlineMsMax]");
assert(progressRedrawMsMin < callDeadlineMsDefault, "redraw interval above call deadline");
