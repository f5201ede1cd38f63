/**
 * pkg/pfs/storage: the commit storage of a shard replica (DESIGN.md §3): one immutable,
 * checksummed manifest per finished commit (sorted path → file entry), a staging log per open
 * commit (group-committed, crash-recovered), materialize (log over parent → new manifest),
 * manifest diff, and the CommitStore that lays them out in a replica's directory.
 */
export * as storageLimits from "./limits.js";
export {
  comparePaths, directoryPrefix, isAtOrUnder, checkFilePath, checkFileEntry, checkChunkRefs,
  chunkBytes,
} from "./path-order.js";
export {
  type DirectoryChild, type EntrySource, type OpenManifestOptions, Manifest, openManifest,
  emptyManifest, listChildren,
} from "./manifest.js";
export {
  type ManifestContents, checkManifestTransferSize, manifestChunkIds, readManifestBytes,
} from "./manifest-bytes.js";
export { type ManifestSummary, ManifestWriter, writeManifest } from "./manifest-writer.js";
export { type ManifestChange, diffManifests, contentDiffers } from "./manifest-diff.js";
export { type StagingOp, checkStagingOp } from "./staging-record.js";
export {
  type StagingRecovery, StagingLog, createStagingLog, openStagingLog,
} from "./staging-log.js";
export { materialize } from "./materialize.js";
export { type CommitStoreOptions, type StoredCommit, CommitStore } from "./commit-store.js";
