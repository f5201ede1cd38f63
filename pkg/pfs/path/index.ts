/**
 * pkg/pfs/path: the pure naming layer of the file system (DESIGN.md §3): repo and branch
 * names, commit ids, paths, pachctl addresses, the sharder, globs and tar entry safety.
 * No I/O. Bad input is an INVALID_ARGUMENT `PfsError` returned in a `Result`; helpers that
 * take already-validated values assert them instead.
 */
export {
  pathBytesMax,
  pathSegmentBytesMax,
  repoNameBytesMax,
  branchNameBytesMax,
  ancestryStepsMax,
  globPatternBytesMax,
  quotedInputCharsMax,
} from "./limits.js";
export { type InputKind, invalidInput, quoteInput } from "./invalid-input.js";
export {
  rootPath,
  normalizePath,
  isNormalizedPath,
  pathSegments,
  parentPath,
  baseName,
  isUnder,
  joinPath,
  relativePath,
} from "./path.js";
export { isCommitId, checkCommitId, checkRepoName, checkBranchName } from "./names.js";
export {
  type BranchRef,
  type CommitRef,
  type Ref,
  type Address,
  parseAddress,
  refOf,
  formatRef,
  formatAddress,
} from "./address.js";
export { shardOf } from "./sharder.js";
export { type Glob, compileGlob, globMatch } from "./glob.js";
export {
  type TarEntryType,
  type TarEntryHeader,
  type TarEntryTarget,
  checkTarEntry,
} from "./tar-entry.js";
