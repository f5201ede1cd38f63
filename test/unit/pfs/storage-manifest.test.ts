// Goal: a manifest reads back exactly the sorted entries written (exact lookups, prefix walks,
// direct children with implicit directories, glob predicates, diff), rejects unsorted or
// malformed input without publishing anything, detects any flipped or missing byte as
// DATA_CORRUPTED, and scales to 100,000 entries.
// Method: real files in a temp dir; seeded random entry sets compared against plain in-memory
// models; seeded byte flips. A failure prints its seed (rerun with PFS_SEED=<seed>).
import { readFile, readdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import fc from "fast-check";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries
import type { FileEntry } from "../../../pkg/pfs/model.js";
// eslint-disable-next-line pfs/boundaries
import * as storage from "../../../pkg/pfs/storage/index.js";
import {
  Prng, collect, comparePathsOf, entryOf, randomEntry, randomPath, sortEntries, testSeed,
  withTempDir,
} from "./storage-fixtures.js";

/** A sorted, duplicate-free random entry set. */
function randomEntries(prng: Prng, count: number, depthMax = 3): FileEntry[] {
  const byPath = new Map<string, FileEntry>();
  for (let i = 0; i < count; i += 1) {
    const filePath = randomPath(prng, depthMax);
    byPath.set(filePath, randomEntry(prng, filePath));
  }
  return sortEntries(byPath.values());
}

/** The model of listChildren: children of `dir` in manifest order. */
function modelChildren(entries: readonly FileEntry[], dir: string): string[] {
  const prefix = dir === "/" ? "/" : `${dir}/`;
  const children = new Map<string, { kind: string; size: number; count: number }>();
  for (const entry of entries) {
    if (!entry.path.startsWith(prefix)) continue;
    const rest = entry.path.slice(prefix.length);
    const slash = rest.indexOf("/");
    const key = slash < 0 ? rest : `${rest.slice(0, slash)}/`;
    const child = children.get(key) ?? { kind: slash < 0 ? "file" : "directory", size: 0, count: 0 };
    child.size += entry.size;
    child.count += 1;
    children.set(key, child);
  }
  return [...children.entries()]
    .sort(([a], [b]) => comparePathsOf(a, b))
    .map(([key, child]) => `${child.kind} ${key.replace(/\/$/, "")} ${child.size} ${child.count}`);
}

test("round trip: lookups, prefix walks, children and globs equal the model", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  await withTempDir(async (dir) => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 400 }),
      async (runSeed, count) => {
        const prng = new Prng(runSeed);
        const entries = randomEntries(prng, count);
        const file = path.join(dir, `m-${runSeed}-${count}`);
        const summary = await storage.writeManifest(file, entries);
        t.is(summary.entryCount, entries.length);
        const manifest = await storage.openManifest(file, { verifyBlocks: true });
        try {
          t.deepEqual(await collect(manifest.entries()), entries);
          for (const entry of entries) t.deepEqual(await manifest.get(entry.path), entry);
          for (let probe = 0; probe < 20; probe += 1) {
            const probePath = randomPath(prng, 4);
            t.deepEqual(await manifest.get(probePath), entries.find((e) => e.path === probePath));
            const prefix = probePath.slice(0, prng.intBetween(0, probePath.length));
            t.deepEqual(await collect(manifest.entries(prefix)), entries.filter((e) => e.path.startsWith(prefix)));
            const parentDir = probePath.slice(0, Math.max(1, probePath.lastIndexOf("/")));
            const children = (await collect(manifest.children(parentDir)))
              .map((c) => `${c.kind} ${c.name} ${c.sizeBytes} ${c.fileCount}`);
            t.deepEqual(children, modelChildren(entries, parentDir), `children of ${parentDir}`);
          }
          const isText = (p: string): boolean => p.endsWith(".txt");
          t.deepEqual(await collect(manifest.glob(isText)), entries.filter((e) => isText(e.path)));
        } finally {
          await manifest.close();
        }
      }), { seed: seed % 2 ** 31, numRuns: 40 });
  });
});

test("children of a directory: files and implicit sub-directories with total sizes", async (t) => {
  await withTempDir(async (dir) => {
    const entries = sortEntries([
      entryOf("/data/a.csv", "a", [10]),
      entryOf("/data/b/x", "x", [5, 6]),
      entryOf("/data/b/y/z", "z", [7]),
      entryOf("/data/b.txt", "bt", [1]),
      entryOf("/data/c", "c", []),
      entryOf("/other", "o", [100]),
    ]);
    const file = path.join(dir, "m");
    await storage.writeManifest(file, entries);
    const manifest = await storage.openManifest(file);
    const list = async (d: string): Promise<string[]> =>
      (await collect(manifest.children(d))).map((c) => `${c.kind}:${c.path}:${c.sizeBytes}:${c.fileCount}`);
    t.deepEqual(await list("/"), ["directory:/data:29:5", "file:/other:100:1"]);
    t.deepEqual(await list("/data"), [
      "file:/data/a.csv:10:1", "file:/data/b.txt:1:1", "directory:/data/b:18:2", "file:/data/c:0:1",
    ]);
    t.deepEqual(await list("/data/b/y"), ["file:/data/b/y/z:7:1"]);
    t.deepEqual(await list("/nothing"), []);
    t.deepEqual((await collect(manifest.under("/data/b"))).map((e) => e.path), ["/data/b/x", "/data/b/y/z"]);
    await manifest.close();
  });
});

test("unsorted, duplicate or malformed entries are refused and nothing is published", async (t) => {
  await withTempDir(async (dir) => {
    const good = entryOf("/b", "b", [3]);
    const cases: { name: string; entries: FileEntry[] }[] = [
      { name: "unsorted", entries: [good, entryOf("/a", "a", [1])] },
      { name: "duplicate", entries: [good, good] },
      { name: "relative", entries: [entryOf("a", "a", [1])] },
      { name: "dot-dot", entries: [entryOf("/a/../b", "a", [1])] },
      { name: "trailing slash", entries: [entryOf("/a/", "a", [1])] },
      { name: "bad hash", entries: [{ ...good, hash: "XYZ" }] },
      { name: "size mismatch", entries: [{ ...good, size: 4 }] },
      { name: "bad chunk id", entries: [{ ...good, chunks: [{ id: "00", size: 3 }] }] },
    ];
    for (const { name, entries } of cases) {
      const error = await t.throwsAsync(storage.writeManifest(path.join(dir, name), entries));
      t.true(error instanceof PfsError && error.code === "INVALID_ARGUMENT", name);
    }
    t.deepEqual(await readdir(dir), [], "no manifest and no temporary file is left");
  });
});

test("every flipped byte and every truncation is DATA_CORRUPTED, never served", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const entries = randomEntries(prng, 1500, 4);
    const file = path.join(dir, "m");
    await storage.writeManifest(file, entries);
    const original = await readFile(file);
    const damaged = path.join(dir, "damaged");
    const offsets = new Set<number>();
    for (let i = 0; i < 40; i += 1) offsets.add(i); // Header and the first entries.
    for (let i = 1; i <= 150; i += 1) offsets.add(original.length - i); // Footer and index.
    for (let i = 0; i < 120; i += 1) offsets.add(prng.intBelow(original.length));
    for (const offset of offsets) {
      const bytes = Buffer.from(original);
      bytes[offset] = (bytes[offset] ?? 0) ^ (1 << prng.intBelow(8));
      await writeFile(damaged, bytes);
      const error = await t.throwsAsync(storage.openManifest(damaged, { verifyBlocks: true }));
      t.is(error instanceof PfsError ? error.code : String(error), "DATA_CORRUPTED", `seed ${seed} offset ${offset}`);
    }
    for (let i = 0; i < 20; i += 1) {
      await writeFile(damaged, original.subarray(0, prng.intBelow(original.length)));
      const error = await t.throwsAsync(storage.openManifest(damaged, { verifyBlocks: true }));
      t.is(error instanceof PfsError ? error.code : "", "DATA_CORRUPTED", `seed ${seed}`);
    }
  });
});

test("a damaged block is reported when first read, by lookups and walks", async (t) => {
  await withTempDir(async (dir) => {
    const entries = Array.from({ length: 5000 }, (_, i) => entryOf(`/f/${String(i).padStart(5, "0")}`, `${i}`, [i + 1]));
    const file = path.join(dir, "m");
    await storage.writeManifest(file, entries);
    const bytes = await readFile(file);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff; // Inside the first block.
    await writeFile(file, bytes);
    const manifest = await storage.openManifest(file); // Header, index and footer are intact.
    t.deepEqual(await manifest.get("/f/04999"), entries[4999], "other blocks still serve");
    const lookup = await t.throwsAsync(manifest.get("/f/00000"));
    t.is(lookup instanceof PfsError ? lookup.code : "", "DATA_CORRUPTED");
    const walk = await t.throwsAsync(collect(manifest.entries()));
    t.is(walk instanceof PfsError ? walk.code : "", "DATA_CORRUPTED");
    const verify = await t.throwsAsync(manifest.verify());
    t.is(verify instanceof PfsError ? verify.code : "", "DATA_CORRUPTED");
    await manifest.close();
    const missing = await t.throwsAsync(storage.openManifest(path.join(dir, "absent")));
    t.is(missing instanceof PfsError ? missing.code : "", "NOT_FOUND");
  });
});

test("diff equals the model: added, deleted and changed paths in order", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  await withTempDir(async (dir) => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (runSeed) => {
      const prng = new Prng(runSeed);
      const before = randomEntries(prng, prng.intBetween(0, 300));
      const after = new Map(before.map((e) => [e.path, e]));
      for (const entry of before) {
        const roll = prng.intBelow(4);
        if (roll === 0) after.delete(entry.path);
        else if (roll === 1) after.set(entry.path, randomEntry(prng, entry.path));
        else if (roll === 2) after.set(entry.path, { ...entry, chunks: [...entry.chunks].reverse() }); // Same content.
      }
      for (let i = prng.intBelow(50); i > 0; i -= 1) {
        const added = randomPath(prng, 4);
        if (!after.has(added)) after.set(added, randomEntry(prng, added));
      }
      const a = path.join(dir, `a-${runSeed}`);
      const b = path.join(dir, `b-${runSeed}`);
      await storage.writeManifest(a, before);
      await storage.writeManifest(b, sortEntries(after.values()));
      const from = await storage.openManifest(a);
      const to = await storage.openManifest(b);
      const expected: string[] = [];
      const paths = sortEntries([...before, ...after.values()]).map((e) => e.path);
      for (const p of [...new Set(paths)]) {
        const x = before.find((e) => e.path === p);
        const y = after.get(p);
        if (x === undefined) expected.push(`added ${p}`);
        else if (y === undefined) expected.push(`deleted ${p}`);
        else if (x.hash !== y.hash || x.size !== y.size) expected.push(`changed ${p}`);
      }
      const actual = (await collect(storage.diffManifests(from, to))).map((c) => `${c.kind} ${c.path}`);
      t.deepEqual(actual, expected);
      const reverse = (await collect(storage.diffManifests(to, from))).map((c) => c.kind);
      t.is(reverse.filter((k) => k === "added").length, expected.filter((e) => e.startsWith("deleted")).length);
      await from.close();
      await to.close();
    }), { seed: seed % 2 ** 31, numRuns: 25 });
  });
});

test("a 100,000-entry manifest is written streaming and looked up", async (t) => {
  await withTempDir(async (dir) => {
    const count = 100_000;
    const name = (i: number): string => `/d${i % 97}/sub${i % 13}/file-${String(i).padStart(6, "0")}.bin`;
    const paths = Array.from({ length: count }, (_, i) => name(i)).sort(comparePathsOf);
    const shared = entryOf("/x", "shared content", [1024]); // Hashing 100k contents is not the point.
    function* entries(): Generator<FileEntry> {
      for (const p of paths) yield { ...shared, path: p };
    }
    const file = path.join(dir, "big");
    const summary = await storage.writeManifest(file, entries());
    t.is(summary.entryCount, count);
    t.is(summary.totalSizeBytes, count * 1024);
    const manifest = await storage.openManifest(file);
    t.is(manifest.entryCount, count);
    const prng = new Prng(7);
    const missed: string[] = [];
    for (let i = 0; i < 1000; i += 1) {
      const p = prng.pick(paths);
      if ((await manifest.get(p))?.path !== p) missed.push(p);
    }
    t.deepEqual(missed, []);
    t.is(await manifest.get("/d1/sub1/missing"), undefined);
    const children = await collect(manifest.children("/d5"));
    t.is(children.length, 13);
    t.is(children.reduce((sum, c) => sum + c.fileCount, 0), paths.filter((p) => p.startsWith("/d5/")).length);
    let walked = 0;
    let mismatches = 0;
    for await (const entry of manifest.entries()) {
      if (entry.path !== paths[walked]) mismatches += 1;
      walked += 1;
    }
    t.is(walked, count);
    t.is(mismatches, 0, "the walk yields every path in order");
    await manifest.close();
  });
});
