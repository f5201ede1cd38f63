/**
 * pkg/pfs/meta: the file system's metadata (repos, branches, commits, cluster settings) in the
 * coordination store, through the etcd3 client. `MetaStore` is the API; meta-store.ts documents
 * its semantics and keys.ts the key layout.
 */
export {
  MetaStore,
  type MetaStoreOptions,
  type CreateRepoOptions,
  type StartCommitOptions, type DeleteCommitOptions,
  type ListCommitsOptions, type MasterFence,
  type SubscribeCommitsOptions,
  type DeletedRepo,
} from "./meta-store.js";
export {
  type BranchRecord,
  type ClusterConfig,
  encodeRecord,
  decodeClusterConfig,
  decodeRepoInfo,
  decodeBranchRecord,
  decodeCommitInfo,
} from "./records.js";
export { prefixEnd } from "./meta-kv.js";
export {
  MetaKeys, metaRootDefault, isCommitId, checkRepoName, checkBranchName, checkCommitId,
} from "./keys.js";
export { type CommitRef, parseCommitRef } from "./commit-ref.js";
export { type ProvenanceCommit, formatProvenance, parseProvenance } from "./provenance.js";
export * as metaLimits from "./limits.js";
