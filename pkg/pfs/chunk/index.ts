/**
 * pkg/pfs/chunk: the content-addressed chunk layer of a shard replica (DESIGN.md §3) —
 * content-defined chunking, the on-disk chunk store with write sessions, garbage collection
 * safe against concurrent puts, and whole-file write/read over chunk lists.
 */
export {
  type ChunkingOptions, type Chunk, type ChunkingEnd, Chunker, defaultChunking,
  checkChunkingOptions,
} from "./chunker.js";
export { isChunkId, checkChunkId, sha256Hex } from "./chunk-id.js";
export { gearTable } from "./gear-table.js";
export { BufferPool } from "./buffer-pool.js";
export { ChunkStore, type ChunkStoreOptions } from "./chunk-store.js";
export { ChunkWriteSession, type PutResult } from "./chunk-write-session.js";
export {
  type ChunkReferences, type GarbageCollectionOptions, type GarbageCollectionResult,
  GarbageCollection, collectGarbage,
} from "./garbage-collection.js";
export {
  type WrittenFile, type WriteFileOptions, type ByteRange, type ChunkSource, writeFile, readFile,
} from "./file-chunks.js";
export * as chunkLimits from "./limits.js";
