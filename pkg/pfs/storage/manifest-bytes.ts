/**
 * A manifest as bytes in memory (the form replicas send each other, DESIGN.md §4): checked
 * whole — header, footer, index and every block against their CRCs and layout, as
 * `openManifest` with `verifyBlocks` checks a file — and read for the chunk ids it names.
 *
 * Invariant: nothing is returned from bytes that did not pass every check; a damaged byte
 * anywhere is DATA_CORRUPTED naming the manifest as `what`.
 */
import { MalformedPayloadError, PfsError, assert } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";
import { FieldCursor, readEntry } from "./entry-codec.js";
import { manifestFooterBytes, manifestHeaderBytes } from "./manifest-format.js";
import {
  checkBlock, checkManifestSize, checkedFooter, checkedRows, corrupted,
} from "./manifest.js";
import { manifestTransferBytesMax } from "./limits.js";

/** What whole manifest bytes hold: their entry count, total size, and distinct chunk ids. */
export interface ManifestContents {
  readonly entryCount: number;
  readonly totalSizeBytes: number;
  /** Every chunk id the entries name, once each, in first-seen order. */
  readonly chunkIds: Sha256Hex[];
}

/** Throws LIMIT_EXCEEDED when a manifest of `size` bytes is too big to move between replicas. */
export function checkManifestTransferSize(size: number, what: string): void {
  if (size > manifestTransferBytesMax) {
    throw new PfsError("LIMIT_EXCEEDED", `${what} is ${size} bytes, more than a replica moves ` +
      `at once (${manifestTransferBytesMax})`, { bytes: size });
  }
}

/**
 * Checks `manifest` whole and returns what it holds. Errors: DATA_CORRUPTED (naming `what`)
 * when any byte fails its check; LIMIT_EXCEEDED past `manifestTransferBytesMax`.
 */
export function readManifestBytes(manifest: Uint8Array, what = "received manifest"):
  ManifestContents {
  checkManifestTransferSize(manifest.length, what);
  const bytes = Buffer.from(manifest.buffer, manifest.byteOffset, manifest.byteLength);
  const ids = new Set<Sha256Hex>();
  let entries = 0;
  let footer;
  try {
    checkManifestSize(bytes.length);
    footer = checkedFooter(bytes.length, bytes.subarray(0, manifestHeaderBytes),
      bytes.subarray(bytes.length - manifestFooterBytes));
    const rows = checkedRows(footer, bytes.subarray(footer.indexOffset,
      footer.indexOffset + footer.indexLength));
    rows.forEach((row, number) => {
      const block = bytes.subarray(row.offset, row.offset + row.length);
      checkBlock(what, block, row, number);
      const cursor = new FieldCursor(block);
      while (!cursor.done) {
        for (const chunk of readEntry(cursor).chunks) ids.add(chunk.id);
        entries += 1;
      }
    });
  } catch (error) {
    if (error instanceof MalformedPayloadError) throw corrupted(what, error.message);
    throw error;
  }
  assert(entries === footer.entryCount,
    () => `${what}: ${entries} entries decoded, footer says ${footer.entryCount}`);
  return { entryCount: footer.entryCount, totalSizeBytes: footer.totalSizeBytes,
    chunkIds: [...ids] };
}

/**
 * The distinct chunk ids the manifest `manifest` names, after checking it whole
 * (DATA_CORRUPTED when any byte is damaged; LIMIT_EXCEEDED when too big to transfer).
 */
export function manifestChunkIds(manifest: Uint8Array): Sha256Hex[] {
  return readManifestBytes(manifest).chunkIds;
}
