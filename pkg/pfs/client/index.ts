/**
 * pkg/pfs/client: the typed client of the pfs API and what the `pfs` CLI builds on: argument
 * parsing, local file walks and tar streams, atomic local output, output formatting, the
 * progress bar and `pfs sync`.
 */
export * as clientLimits from "./limits.js";
export { PfsClientError, clientError, codeOfStatus } from "./client-error.js";
export {
  type ClientTlsFiles, clientCredentials, transportHint, usesTls,
} from "./client-tls.js";
export {
  type PfsClientOptions, type ByteListener, type CommitSubscription, PfsClient, commitRef,
  fileRef,
} from "./client.js";
export {
  type SyncTarget, parseRepoArg, parseBranchArg, parseCommitArg, parseFileArg, parseGlobArg,
  parseSyncTarget, parseByteCount,
} from "./cli-args.js";
export { type LocalFile, walkDirectory, totalBytes, tarOfFiles } from "./local-files.js";
export {
  fsyncPath, temporaryNextTo, writeFileAtomically, writeDirectoryAtomically,
} from "./local-output.js";
export {
  formatBytes, formatTime, formatDuration, formatTable, formatJson, formatRepos, formatRepo,
  formatCommits, formatCommit, formatBranches, formatFiles, formatFile, formatDiff,
} from "./pretty.js";
export { type ProgressOutput, renderProgress, ProgressBar } from "./progress.js";
export { type SyncOptions, inOneCommit, syncDirectory } from "./sync.js";
export type {
  BranchInfoMessage, CommitInfoMessage, CommitRefMessage, FileDiffMessage, FileInfoMessage,
  FileRefMessage, PutFileHeaderMessage, PutFileResponse, RepoInfoMessage,
} from "./proto.js";
