/**
 * Chunk ids: the lowercase hex sha256 of a chunk's bytes (`ChunkRef.id` in pkg/pfs/model.ts),
 * and where a chunk with a given id lives inside a chunk store directory.
 *
 * Invariant: an id that passes `checkChunkId` is exactly 64 characters of [0-9a-f], so it can
 * be joined into a path without escaping anything (no "/", no "..").
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { PfsError } from "../../common/index.js";
import type { Sha256Hex } from "../model.js";

const chunkIdPattern = /^[0-9a-f]{64}$/;

/** True when `id` is 64 lowercase hex characters. */
export function isChunkId(id: string): boolean {
  return chunkIdPattern.test(id);
}

/** Throws INVALID_ARGUMENT unless `id` is a well-formed chunk id. */
export function checkChunkId(id: string): Sha256Hex {
  if (!isChunkId(id)) {
    const shown = id.length > 80 ? `${id.slice(0, 80)}…` : id;
    throw new PfsError("INVALID_ARGUMENT", `chunk id ${JSON.stringify(shown)} is not 64 lowercase hex characters`, {
      idLength: id.length,
    });
  }
  return id;
}

/** The lowercase hex sha256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): Sha256Hex {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The fan-out directory name of an id: its first byte in hex ("00".."ff"). */
export function fanOutDirName(id: Sha256Hex): string {
  return id.slice(0, 2);
}

/** The path of chunk `id` under store directory `dir`: `<dir>/<id[0..2]>/<id[2..]>`. */
export function chunkPath(dir: string, id: Sha256Hex): string {
  return path.join(dir, fanOutDirName(id), id.slice(2));
}
