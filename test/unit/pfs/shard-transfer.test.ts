// Goal: a sealed commit moves between two LocalShards through hasCommit / readManifest /
// missingChunks / readChunk / putChunks / installManifest and reads back byte for byte; every
// bad install (a chunk missing, damaged bytes, different bytes for a sealed commit) is refused
// with its code and installs nothing; a staging log of the commit on the target is dropped; a
// read of a commit the replica lacks says so (details.missing "commit", not "file"); a damaged
// chunk is repaired from another replica on a file read (and on disk), never by readChunk.
// Method: real shards in temp directories with small chunks; seeded file contents (the seed is
// printed; PFS_SEED=<n> replays it); damage is done by flipping bytes of the files on disk.
import { readFile, rm } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; replication/ is the API.
import { copyCommit } from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; storage/ is the API.
import { manifestChunkIds } from "../../../pkg/pfs/storage/index.js";
import {
  chunkFile, expectReads, failure, flipByte, sealCommit, sealedPair, seeded, seededFiles,
} from "./replication-transfer-fixture.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import type { LocalShard } from "../../../pkg/pfs/shard/index.js";
import {
  type ModelFiles, collect, commitId, openShard, sha256, streamOf, withTempDir,
} from "./shard-fixture.js";

const commit = { repo: "r", id: commitId(1) };

test("a sealed commit moves by hand between two shards and reads back alike", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openShard);
    t.true(await a.hasCommit(commit));
    t.false(await b.hasCommit(commit));
    const manifest = await a.readManifest(commit);
    const ids = manifestChunkIds(manifest);
    t.true(ids.length > 10, `the big file makes many chunks (${ids.length})`);
    t.is(new Set(ids).size, ids.length, "ids are distinct");
    const missing = await b.missingChunks(ids);
    t.deepEqual([...missing].sort(), [...ids].sort(), "b has none of them");
    const chunks = await Promise.all(missing.map(async (id) => {
      const bytes = await a.readChunk(id);
      return { ref: { id, size: bytes.length }, bytes };
    }));
    await b.putChunks(chunks);
    await b.installManifest(commit, manifest);
    t.true(await b.hasCommit(commit));
    t.true(Buffer.from(await b.readManifest(commit)).equals(manifest), "stored as sent");
    await expectReads(t, a, commit, files, "source");
    await expectReads(t, b, commit, files, "target");
    await b.installManifest(commit, manifest); // The same bytes again: fine, nothing changes.
    await expectReads(t, b, commit, files, "target after a second install");
    await a.close();
    await b.close();
  });
});

test("installs that must fail change nothing", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openShard);
    const manifest = Buffer.from(await a.readManifest(commit));
    const ids = manifestChunkIds(manifest);
    const push = async (which: readonly string[]): Promise<void> => {
      await b.putChunks(await Promise.all(which.map(async (id) => {
        const bytes = await a.readChunk(id);
        return { ref: { id, size: bytes.length }, bytes };
      })));
    };
    await push(ids.slice(1));
    const lacking = await t.throwsAsync(b.installManifest(commit, manifest));
    t.like(failure(lacking), { code: "NOT_FOUND", missing: "chunks" });
    t.regex(lacking.message, /1 of the \d+ chunks/);
    t.false(await b.hasCommit(commit), "nothing installed");
    t.deepEqual(await b.storedCommits(), []);

    await push(ids.slice(0, 1));
    for (const at of [0, 40, manifest.length >> 1, manifest.length - 1]) {
      const damaged = Buffer.from(manifest);
      damaged[at] = (damaged[at] ?? 0) ^ 0x01;
      t.like(failure(await t.throwsAsync(b.installManifest(commit, damaged))),
        { code: "DATA_CORRUPTED" }, `byte ${at} flipped`);
    }
    t.like(failure(await t.throwsAsync(b.installManifest(commit, manifest.subarray(0, 100)))),
      { code: "DATA_CORRUPTED" }, "cut short");
    t.false(await b.hasCommit(commit), "nothing installed");

    await b.installManifest(commit, manifest);
    const other = { repo: "r", id: commitId(2) };
    await sealCommit(a, other, new Map([["/other", Buffer.from("other content")]]));
    const otherManifest = await a.readManifest(other);
    await push(manifestChunkIds(otherManifest));
    t.like(failure(await t.throwsAsync(b.installManifest(commit, otherManifest))),
      { code: "DATA_CORRUPTED" }, "a sealed commit never changes");
    t.true(Buffer.from(await b.readManifest(commit)).equals(manifest), "the first one stays");
    await expectReads(t, b, commit, files, "target");
  });
});

test("installing drops the commit's staging log on the target", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openShard);
    await b.putFile(commit, "", "/stale", streamOf(Buffer.from("a write the master lost")));
    t.like(await b.storedCommits(), [{ id: commit.id, finished: false, staged: true }]);
    await copyCommit(a, b, commit);
    t.like(await b.storedCommits(), [{ id: commit.id, finished: true, staged: false }]);
    t.like(failure(await t.throwsAsync(b.inspectFile(commit, "/stale"))),
      { code: "NOT_FOUND", missing: "file" });
    t.like(failure(await t.throwsAsync(
      b.putFile(commit, "", "/late", streamOf(Buffer.from("late"))))),
    { code: "FAILED_PRECONDITION" }, "the commit is sealed there now");
    const reopened = await openShard(path.join(dir, "b"));
    t.like(await reopened.storedCommits(), [{ id: commit.id, finished: true, staged: false }]);
    await expectReads(t, reopened, commit, files, "after a restart");
  });
});

test("a read of a commit the replica lacks says the commit is missing, not the file", async (t) => {
  await withTempDir(async (dir) => {
    const b = await openShard(dir);
    const absent = { repo: "r", id: commitId(9) };
    for (const read of [
      () => b.inspectFile(absent, "/a"), () => collect(b.getFile(absent, "/a")),
      () => b.listDirectory(absent, "/"), () => b.glob(absent, "/*"),
      () => b.diff(absent, "", "/"), () => b.readManifest(absent),
      async () => { for await (const entry of b.walk(absent, "/")) t.fail(entry.path); },
    ]) {
      t.like(failure(await t.throwsAsync(read())), { code: "NOT_FOUND", missing: "commit" });
    }
    t.false(await b.hasCommit(absent));
  });
});

test("a damaged manifest counts as absent and a copy replaces it", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b } = await sealedPair(dir, commit, files, openShard);
    await copyCommit(a, b, commit);
    const stored = path.join(dir, "b", "commits", "manifests", commit.repo, commit.id);
    const size = (await readFile(stored)).length;
    await flipByte(stored, size - 3); // In the footer: opening it fails.
    t.false(await b.hasCommit(commit));
    t.like(failure(await t.throwsAsync(b.readManifest(commit))), { code: "DATA_CORRUPTED" });
    await copyCommit(a, b, commit);
    t.true(await b.hasCommit(commit));
    t.true((await readFile(stored)).equals(Buffer.from(await a.readManifest(commit))));
    await expectReads(t, b, commit, files, "repaired");
  });
});

/** Replica B holding a copy of A's sealed commit, and a chunk of /big.bin damaged on B. */
interface DamagedCopy {
  readonly a: LocalShard;
  readonly b: LocalShard;
  readonly victim: string;
  readonly onDisk: string;
}

/** Seals the seeded files on A, copies them to B, flips a byte of /big.bin's chunk `which`. */
async function damagedCopy(dir: string, files: ModelFiles, which: number): Promise<DamagedCopy> {
  const { a, b } = await sealedPair(dir, commit, files, openShard);
  await copyCommit(a, b, commit);
  const entry = await b.inspectFile(commit, "/big.bin");
  const victim = entry.chunks[which]?.id ?? "";
  const onDisk = chunkFile(path.join(dir, "b"), victim);
  await flipByte(onDisk, 7);
  return { a, b, victim, onDisk };
}

test("a damaged chunk is repaired from another replica on a file read, never by readChunk", async (t) => {
  const files = seededFiles(seeded(t));
  const big = files.get("/big.bin") ?? Buffer.alloc(0);
  await withTempDir(async (dir) => {
    const { a, b, victim, onDisk } = await damagedCopy(dir, files, 5);

    t.like(failure(await t.throwsAsync(collect(b.getFile(commit, "/big.bin")))),
      { code: "DATA_CORRUPTED" }, "no repair set: the damage is reported, never served");
    const asked: string[] = [];
    b.setRepairChunk(async (id) => {
      asked.push(id);
      return await a.readChunk(id);
    });
    t.like(failure(await t.throwsAsync(b.readChunk(victim))), { code: "DATA_CORRUPTED" });
    t.deepEqual(asked, [], "readChunk (what peers call) never repairs");

    t.true((await collect(b.getFile(commit, "/big.bin"))).equals(big), "served the good bytes");
    t.deepEqual(asked, [victim]);
    t.is(sha256(await readFile(onDisk)), victim, "the copy on disk is fixed");
    t.is(sha256(await b.readChunk(victim)), victim);
    t.true((await collect(b.getFile(commit, "/big.bin"))).equals(big));
    t.deepEqual(asked, [victim], "repaired once");
  });
});

test("a repair that fails or brings wrong bytes leaves the damage reported", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b, onDisk } = await damagedCopy(dir, files, 0);
    const damaged = await readFile(onDisk);
    b.setRepairChunk(async (id) => {
      const bytes = Buffer.from(await a.readChunk(id));
      bytes[0] = (bytes[0] ?? 0) ^ 0x10; // A peer with its own damage.
      return bytes;
    });
    t.like(failure(await t.throwsAsync(collect(b.getFile(commit, "/big.bin")))),
      { code: "DATA_CORRUPTED" });
    b.setRepairChunk(() => Promise.reject(new Error("peer unreachable")));
    t.like(failure(await t.throwsAsync(collect(b.getFile(commit, "/big.bin")))),
      { code: "DATA_CORRUPTED" });
    t.true((await readFile(onDisk)).equals(damaged),
      "nothing written over the local copy");
  });
});

test("an append repairs the damaged content it extends", async (t) => {
  const files = seededFiles(seeded(t));
  const big = files.get("/big.bin") ?? Buffer.alloc(0);
  await withTempDir(async (dir) => {
    const { a, b, victim, onDisk } = await damagedCopy(dir, files, 1);
    const next = { repo: "r", id: commitId(2) };
    const tail = Buffer.from("appended");
    t.like(failure(await t.throwsAsync(b.putFile(next, commit.id, "/big.bin", streamOf(tail),
      { append: true }))), { code: "DATA_CORRUPTED" }, "no repair set");
    b.setRepairChunk((id) => a.readChunk(id));
    const appended = await b.putFile(next, commit.id, "/big.bin", streamOf(tail), { append: true });
    t.is(appended.hash, sha256(Buffer.concat([big, tail])));
    t.is(sha256(await readFile(onDisk)), victim);
  });
});

test("a chunk file gone from disk is restored by a repair too", async (t) => {
  const files = seededFiles(seeded(t));
  await withTempDir(async (dir) => {
    const { a, b, victim, onDisk } = await damagedCopy(dir, files, 2);
    await rm(onDisk);
    t.like(failure(await t.throwsAsync(collect(b.getFile(commit, "/big.bin")))),
      { code: "NOT_FOUND" });
    b.setRepairChunk((id) => a.readChunk(id));
    t.true((await collect(b.getFile(commit, "/big.bin"))).equals(files.get("/big.bin") ??
      Buffer.alloc(1)));
    t.is(sha256(await readFile(onDisk)), victim, "restored on disk");
  });
});
