/**
 * The bounds of the pfs API layer and the internal shard RPC (STYLE rule 8), named with their
 * unit and why. Relations are asserted when the module loads.
 */
import { assert, limits } from "../../common/index.js";

/**
 * Bytes per data message the API and shard streams send: well under the gRPC message limit
 * (pfsGrpcMessageBytesMax) and large enough that framing costs nothing.
 */
export const streamMessageBytesMax: number = 1024 * 1024;

/** Files one ListFile/GlobFile/DiffFile answer may hold (one unary message holds them all). */
export const listingFilesMax: number = 100_000;

/**
 * File lookups a DiffFile runs at once to fill in each changed file's hash (one shard call
 * each): enough to hide round trips, few enough not to flood the shards.
 */
export const diffLookupsInFlightMax: number = 16;

/** Chunks moved per putChunks call when a copy crosses shards (bounds one message's size). */
export const copyChunksPerCallMax: number = 1;

/** Files a single tar PutFile may hold (each is one staged entry). */
export const tarEntriesMax: number = 1_000_000;

/** Deadline of a unary shard rpc between nodes, in milliseconds (data streams have none). */
export const shardCallDeadlineMs: number = 60_000;

/** Commits ListCommit returns when the request says 0. */
export const listCommitsDefault: number = 100;

/**
 * Longest a write into a branch waits, in milliseconds, while other writes' auto-commits hold
 * the branch (each write into a branch without an open commit gets its own commit, one at a
 * time). Generous: a queue of large concurrent puts finishes well within it; past it the write
 * fails with LIMIT_EXCEEDED rather than waiting forever.
 */
export const autoCommitWaitMsMax: number = 120_000;

/** First pause, in milliseconds, before a write looks at a busy branch again. */
export const autoCommitPauseMsMin: number = 5;

/** Longest pause between two looks at a busy branch, in milliseconds (the pause doubles). */
export const autoCommitPauseMsMax: number = 200;

assert(autoCommitPauseMsMin <= autoCommitPauseMsMax && autoCommitPauseMsMax < autoCommitWaitMsMax,
  "auto-commit pauses must grow up to a bound below the whole wait");
assert(streamMessageBytesMax < limits.pfsGrpcMessageBytesMax,
  "a stream message must fit in a gRPC message");
assert(copyChunksPerCallMax * limits.pfsChunkBytesMax < limits.pfsGrpcMessageBytesMax,
  "one putChunks call must fit in a gRPC message");

/**
 * Rounds of "seal on every shard's master, then mark finished" one finish makes when a sealing
 * master loses its term in between (the mark is refused): each round seals on the new masters.
 */
export const finishAttemptsMax: number = 3;
