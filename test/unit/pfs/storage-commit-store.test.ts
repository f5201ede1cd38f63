// Goal: the CommitStore lays out manifests and staging logs per repo and commit, finishes a
// commit by materializing its log over its parent's manifest, stays correct when a finish is
// interrupted by a crash at any step (finishing again is idempotent and yields the same bytes),
// recovers staging logs across a restart (a damaged log fails only its own commit), aborts and deletes repos durably, refuses bad names,
// and reports every chunk referenced by manifests and staging logs.
// Method: real directories in a temp dir; a "crash" is simulated by putting back the files a
// crash would leave (the staging log, a temporary manifest) and reopening the store.
import { copyFile, readFile, readdir, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import test from "ava";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries
import * as storage from "../../../pkg/pfs/storage/index.js";
import { chunk, collect, entryOf, sha, withTempDir } from "./storage-fixtures.js";

const commitA = "a".repeat(32);
const commitB = "b".repeat(32);
const commitC = "c".repeat(32);

function codeOf(error: unknown): string {
  return error instanceof PfsError ? error.code : String(error);
}

async function paths(store: storage.CommitStore, repo: string, commitId: string): Promise<string[]> {
  const manifest = await store.manifest(repo, commitId, { verifyBlocks: true });
  try {
    return (await collect(manifest.entries())).map((e) => `${e.path}:${e.size}`);
  } finally {
    await manifest.close();
  }
}

test("a chain of commits: each finish applies its log to its parent", async (t) => {
  await withTempDir(async (dir) => {
    const store = await storage.CommitStore.open({ dir });
    const first = await store.openStaging("images", commitA);
    await Promise.all([
      first.put(entryOf("/cats/1.png", "c1", [100])),
      first.put(entryOf("/cats/2.png", "c2", [200])),
      first.put(entryOf("/dogs/1.png", "d1", [300])),
    ]);
    t.is(await store.openStaging("images", commitA), first, "one shared log per open commit");
    t.deepEqual(await store.openCommits("images"), [commitA]);
    t.deepEqual(await store.finish("images", commitA, ""), { entryCount: 3, totalSizeBytes: 600 });
    const refused = await t.throwsAsync(first.put(entryOf("/late", "l", [1])));
    t.is(codeOf(refused), "FAILED_PRECONDITION", "writes after finish are refused");
    t.deepEqual(await store.openCommits("images"), []);
    const second = await store.openStaging("images", commitB);
    await second.delete("/cats");
    await second.append("/dogs/1.png", [chunk("more", 5)], sha("d1+more"));
    await second.copy("/best.png", entryOf("/cats/2.png", "c2", [200]));
    await store.finish("images", commitB, commitA);
    t.deepEqual(await paths(store, "images", commitA), ["/cats/1.png:100", "/cats/2.png:200", "/dogs/1.png:300"]);
    t.deepEqual(await paths(store, "images", commitB), ["/best.png:200", "/dogs/1.png:305"]);
    // A commit that wrote nothing to this shard finishes as a copy of its parent.
    t.deepEqual(await store.finish("images", commitC, commitB), { entryCount: 2, totalSizeBytes: 505 });
    t.deepEqual(await readFile(store.manifestPath("images", commitC)), await readFile(store.manifestPath("images", commitB)));
    t.deepEqual(await store.finishedCommits("images"), [commitA, commitB, commitC]);
    const reopened = await t.throwsAsync(store.openStaging("images", commitB));
    t.is(codeOf(reopened), "FAILED_PRECONDITION", "a finished commit takes no writes");
    await store.close();
  });
});

test("finish interrupted by a crash at any step: finishing again yields the same manifest", async (t) => {
  await withTempDir(async (dir) => {
    let store = await storage.CommitStore.open({ dir });
    const log = await store.openStaging("r", commitA);
    for (let i = 0; i < 50; i += 1) await log.put(entryOf(`/f/${i}`, `${i}`, [i + 1]));
    await log.close();
    const logFile = store.stagingPath("r", commitA);
    const saved = path.join(dir, "saved.log");
    await copyFile(logFile, saved);
    await store.close();
    store = await storage.CommitStore.open({ dir });
    await store.finish("r", commitA, "");
    const manifestFile = store.manifestPath("r", commitA);
    const finished = await readFile(manifestFile);
    // Crash after the rename, before the log's removal: both files are there.
    await copyFile(saved, logFile);
    store = await storage.CommitStore.open({ dir });
    t.deepEqual(await store.finish("r", commitA, ""), { entryCount: 50, totalSizeBytes: 1275 });
    t.deepEqual(await readFile(manifestFile), finished);
    t.deepEqual(await store.openCommits("r"), []);
    // Crash before the rename: a temporary manifest is left beside the log.
    await copyFile(saved, logFile);
    await writeFile(`${manifestFile}.tmp-deadbeef`, finished.subarray(0, 100));
    await rm(manifestFile); // Not renamed yet.
    store = await storage.CommitStore.open({ dir });
    t.deepEqual(await readdir(path.dirname(manifestFile)), [], "leftover temporary file removed on open");
    await store.finish("r", commitA, "");
    t.deepEqual(await readFile(manifestFile), finished, "the same bytes after a re-finish");
    // A finish repeated with nothing left to do is a no-op with the same answer.
    t.deepEqual(await store.finish("r", commitA, ""), { entryCount: 50, totalSizeBytes: 1275 });
    await store.close();
  });
});

test("an open commit survives a restart: its log is recovered and writes go on", async (t) => {
  await withTempDir(async (dir) => {
    let store = await storage.CommitStore.open({ dir });
    const log = await store.openStaging("r", commitA);
    await log.put(entryOf("/a", "a", [1]));
    await log.put(entryOf("/b", "b", [2]));
    await store.close();
    // A torn record at the tail, as a crash mid-append would leave.
    const file = store.stagingPath("r", commitA);
    await writeFile(file, Buffer.concat([await readFile(file), Buffer.from([0, 0, 1, 0, 7])]));
    store = await storage.CommitStore.open({ dir });
    const again = await store.openStaging("r", commitA);
    t.is(again.recordCount, 2);
    await again.put(entryOf("/c", "c", [3]));
    await store.finish("r", commitA, "");
    t.deepEqual(await paths(store, "r", commitA), ["/a:1", "/b:2", "/c:3"]);
    await store.close();
  });
});

test("a damaged middle record fails only its commit, with DATA_CORRUPTED; others go on", async (t) => {
  await withTempDir(async (dir) => {
    let store = await storage.CommitStore.open({ dir });
    const damagedLog = await store.openStaging("r", commitA);
    await damagedLog.put(entryOf("/a", "a", [1]));
    const firstEnd = damagedLog.durableBytes;
    await damagedLog.put(entryOf("/b", "b", [2]));
    const other = await store.openStaging("r", commitB);
    await other.put(entryOf("/x", "x", [4]));
    await store.close();
    // Bit rot in the first record: the second one (acknowledged) must not be silently cut.
    const file = store.stagingPath("r", commitA);
    const bytes = await readFile(file);
    const flipAt = firstEnd - 3;
    bytes[flipAt] = (bytes[flipAt] ?? 0) ^ 0x01;
    await writeFile(file, bytes);
    store = await storage.CommitStore.open({ dir });
    const refused = await t.throwsAsync(store.openStaging("r", commitA));
    t.is(codeOf(refused), "DATA_CORRUPTED");
    t.regex(refused.message, /offset 8 /);
    t.is(codeOf(await t.throwsAsync(store.finish("r", commitA, ""))), "DATA_CORRUPTED");
    t.deepEqual(await readFile(file), bytes, "the damaged log is kept as it was");
    const carriedOn = await store.openStaging("r", commitB);
    await carriedOn.put(entryOf("/y", "y", [5]));
    await store.finish("r", commitB, "");
    t.deepEqual(await paths(store, "r", commitB), ["/x:4", "/y:5"]);
    await store.close();
  });
});

test("abort, deleteRepo, bad names and missing parents", async (t) => {
  await withTempDir(async (dir) => {
    const store = await storage.CommitStore.open({ dir });
    const log = await store.openStaging("r", commitA);
    await log.put(entryOf("/a", "a", [1]));
    await store.abort("r", commitA);
    t.deepEqual(await store.openCommits("r"), []);
    t.is(codeOf(await t.throwsAsync(log.put(entryOf("/b", "b", [1])))), "FAILED_PRECONDITION");
    await store.abort("r", commitA); // Idempotent.
    t.is(codeOf(await t.throwsAsync(store.finish("r", commitB, commitA))), "NOT_FOUND", "parent never finished");
    t.deepEqual(await store.finishedCommits("r"), [], "a failed finish publishes nothing");
    for (const [repo, commit] of [["../x", commitA], ["r", "xyz"], ["r/s", commitA], ["", commitA], ["r", commitA.toUpperCase()]]) {
      t.is(codeOf(await t.throwsAsync(store.openStaging(repo!, commit!))), "INVALID_ARGUMENT", `${repo} ${commit}`);
    }
    await store.finish("r", commitA, "");
    t.is(codeOf(await t.throwsAsync(store.abort("r", commitA))), "FAILED_PRECONDITION");
    const other = await store.openStaging("r", commitB);
    await other.put(entryOf("/z", "z", [1]));
    await store.finish("keep", commitC, "");
    await store.deleteRepo("r");
    t.deepEqual(await store.repos(), ["keep"]);
    t.is(codeOf(await t.throwsAsync(store.manifest("r", commitA))), "NOT_FOUND");
    t.deepEqual(await readdir(path.join(dir, "trash")), []);
    await store.deleteRepo("never-existed");
    await store.close();
  });
});

test("referencedChunks: every chunk of every manifest and staging log, nothing else", async (t) => {
  await withTempDir(async (dir) => {
    const store = await storage.CommitStore.open({ dir });
    const first = await store.openStaging("r", commitA);
    await first.put(entryOf("/a", "a", [1, 2]));
    await first.put(entryOf("/gone", "gone", [3]));
    await store.finish("r", commitA, "");
    const open = await store.openStaging("r", commitB);
    await open.delete("/gone"); // Still referenced by commit A's manifest.
    await open.append("/a", [chunk("appended", 4)], sha("a+"));
    await open.copy("/copy", entryOf("/src", "copied", [5]));
    const other = await store.openStaging("s", commitC);
    await other.put(entryOf("/s", "s", [6]));
    await store.close(); // Logs on disk only, not open.
    const reopened = await storage.CommitStore.open({ dir });
    const expected = new Set([
      ...entryOf("/a", "a", [1, 2]).chunks, ...entryOf("/gone", "gone", [3]).chunks, chunk("appended", 4),
      ...entryOf("/src", "copied", [5]).chunks, ...entryOf("/s", "s", [6]).chunks,
    ].map((c) => c.id));
    t.deepEqual([...await reopened.referencedChunks()].sort(), [...expected].sort());
    await reopened.openStaging("s", commitC); // And with a log open.
    t.deepEqual([...await reopened.referencedChunks()].sort(), [...expected].sort());
    await reopened.close();
  });
});

test("installManifest: a replica's manifest is checked in full before it is published", async (t) => {
  await withTempDir(async (dir) => {
    const master = await storage.CommitStore.open({ dir: path.join(dir, "master") });
    const replica = await storage.CommitStore.open({ dir: path.join(dir, "replica") });
    const log = await master.openStaging("r", commitA);
    for (let i = 0; i < 3000; i += 1) await log.write({ kind: "put", entry: entryOf(`/f/${i}`, `${i}`, [i + 1]) });
    const summary = await master.finish("r", commitA, "");
    const bytes = await readFile(master.manifestPath("r", commitA));
    const damaged = Buffer.from(bytes);
    damaged[bytes.length >> 1] = (damaged[bytes.length >> 1] ?? 0) ^ 4; // Inside a block.
    t.is(codeOf(await t.throwsAsync(replica.installManifest("r", commitA, damaged))), "DATA_CORRUPTED");
    t.is(codeOf(await t.throwsAsync(replica.installManifest("r", commitA, bytes.subarray(0, 1000)))), "DATA_CORRUPTED");
    t.deepEqual(await replica.finishedCommits("r"), []);
    t.deepEqual(await readdir(path.join(dir, "replica", "manifests", "r")), [], "no temporary file left");
    t.deepEqual(await replica.installManifest("r", commitA, bytes), summary);
    t.deepEqual(await readFile(replica.manifestPath("r", commitA)), bytes);
    t.deepEqual(await replica.installManifest("r", commitA, damaged), summary, "installed already: unchanged");
    t.deepEqual(await readFile(replica.manifestPath("r", commitA)), bytes);
    await master.close();
    await replica.close();
  });
});
