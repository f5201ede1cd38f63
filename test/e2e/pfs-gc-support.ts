// Support for the garbage collection e2e tests: seeded distinct file contents (a sha256
// keystream, so every file's chunks are its own), and the chunk files of a pfsd data dir as
// they are on disk (`<data-dir>/pfs/shard-N/chunks/<id[0..2]>/<id[2..]>`).
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** `length` bytes determined by `seed` and `name`, unlike any other (seed, name). */
export function contentOf(seed: number, name: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let block = 0, at = 0; at < length; block += 1, at += 32) {
    createHash("sha256").update(`${seed}/${name}/${block}`).digest().copy(out, at);
  }
  return out;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error: unknown) {
    if ((error as { code?: string }).code === "ENOENT") return [];
    throw error;
  }
}

/** Every chunk file under a pfsd's data dir, as "shard-N/<chunk id>". */
export async function chunkFiles(dataDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const pfs = join(dataDir, "pfs");
  for (const shard of (await names(pfs)).filter((name) => name.startsWith("shard-"))) {
    const chunks = join(pfs, shard, "chunks");
    for (const fanOut of (await names(chunks)).filter((name) => /^[0-9a-f]{2}$/.test(name))) {
      for (const rest of await names(join(chunks, fanOut))) {
        const id = fanOut + rest;
        if (/^[0-9a-f]{64}$/.test(id)) found.add(`${shard}/${id}`);
      }
    }
  }
  return found;
}

/** The members of `after` not in `before`. */
export function added(before: ReadonlySet<string>, after: ReadonlySet<string>): Set<string> {
  return new Set([...after].filter((item) => !before.has(item)));
}

/** Sorted, for comparisons that print well. */
export function sorted(items: Iterable<string>): string[] {
  return [...items].sort();
}
