/**
 * The wire form of Maintenance.Snapshot (etcd-api.md §9), pure: the member's snapshot bytes
 * padded with zeros to a multiple of etcdSnapshotPaddingBytes, sent in chunks of
 * etcdSnapshotChunkBytes with remaining_bytes counting down to 0, then one last message with
 * the 32-byte SHA-256 of every earlier byte. etcdctl 3.4 accepts a file only when its size
 * % 512 == 32, which the padding guarantees.
 */
import { createHash } from "node:crypto";
import { assert, limits } from "../../common/index.js";

/** One SnapshotResponse, less its (unset, as in etcd 3.4) header. */
export interface SnapshotChunk {
  readonly remainingBytes: number;
  readonly blob: Uint8Array;
}

/** `payload` followed by zeros up to the next multiple of the padding size (at least one). */
export function paddedSnapshot(payload: Uint8Array): Uint8Array {
  const pad = limits.etcdSnapshotPaddingBytes;
  const length = Math.max(pad, Math.ceil(payload.length / pad) * pad);
  const padded = new Uint8Array(length);
  padded.set(payload);
  assert(padded.length % pad === 0, () => `padded snapshot ${padded.length} B is not whole pads`);
  return padded;
}

/**
 * The messages of a snapshot stream for `payload`: data chunks (remaining bytes after each),
 * then the SHA-256 message. The concatenated blobs have a size % 512 of 32.
 */
export function snapshotChunks(payload: Uint8Array): SnapshotChunk[] {
  const padded = paddedSnapshot(payload);
  const chunkBytes = limits.etcdSnapshotChunkBytes;
  const chunks: SnapshotChunk[] = [];
  for (let offset = 0; offset < padded.length; offset += chunkBytes) {
    const blob = padded.subarray(offset, Math.min(offset + chunkBytes, padded.length));
    chunks.push({ remainingBytes: padded.length - offset - blob.length, blob });
  }
  const sha = createHash("sha256").update(padded).digest();
  assert(sha.length === 32, "a SHA-256 is 32 bytes");
  chunks.push({ remainingBytes: 0, blob: new Uint8Array(sha) });
  return chunks;
}
