// Goal: a shard's garbage collection frees exactly the chunks nothing references (after
// aborted commits, deleted repos and overwritten files), keeps every chunk a finished or open
// commit names, and never frees a chunk of a put or putEntry running at the same time.
// Method: real shards in temp directories with small chunks and seeded random contents; the
// chunk ids every put returned tell which chunks are referenced; collections race slow
// streaming puts (each piece yielded after a macrotask) in a loop.
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; the model is shared.
import type { FileEntry } from "../../../pkg/pfs/model.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import { LocalShard } from "../../../pkg/pfs/shard/index.js";
import {
  collect, commitId, openShard, sha256, smallChunking, streamOf, testSeed, withTempDir,
} from "./shard-fixture.js";

function randomBytes(prng: Prng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = prng.intBelow(256);
  return bytes;
}

function idsOf(entries: readonly FileEntry[]): Set<string> {
  return new Set(entries.flatMap((entry) => entry.chunks.map((chunk) => chunk.id)));
}

test("a collection frees exactly the unreferenced chunks", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    const kept = { repo: "kept", id: commitId(1) };
    const aborted = { repo: "kept", id: commitId(2) };
    const open = { repo: "kept", id: commitId(3) };
    const doomed = { repo: "doomed", id: commitId(4) };
    const put = (commit: typeof kept, file: string): Promise<FileEntry> =>
      shard.putFile(commit, "", file, streamOf(randomBytes(prng, 500 + prng.intBelow(6000))));
    const overwritten = await put(kept, "/over");
    const keptEntries = [await put(kept, "/a"), await put(kept, "/d/b"), await put(kept, "/over")];
    await shard.finishCommit(kept, "");
    const openEntries = [await put(open, "/staged")];
    const garbage = [overwritten, await put(aborted, "/x"), await put(doomed, "/y"),
      await put(doomed, "/z")];
    await shard.finishCommit(doomed, "");
    await shard.abortCommit(aborted);
    await shard.deleteRepo("doomed");

    const live = new Set([...idsOf(keptEntries), ...idsOf(openEntries)]);
    const dead = [...idsOf(garbage)].filter((id) => !live.has(id));
    const sizes = new Map(garbage.flatMap((entry) => entry.chunks).map((chunk) => [chunk.id, chunk.size]));
    const result = await shard.collectGarbage();
    t.deepEqual(result, {
      chunksFreed: dead.length, bytesFreed: dead.reduce((sum, id) => sum + (sizes.get(id) ?? 0), 0),
    }, `seed ${seed}`);
    t.deepEqual(await shard.missingChunks([...live]), [], `seed ${seed}: referenced chunks kept`);
    t.deepEqual((await shard.missingChunks(dead)).sort(), [...dead].sort(), `seed ${seed}`);
    t.deepEqual(await shard.collectGarbage(), { chunksFreed: 0, bytesFreed: 0 }, "a second run frees nothing");
    for (const entry of keptEntries) {
      t.is(sha256(await collect(shard.getFile(kept, entry.path))), entry.hash, `seed ${seed}: ${entry.path}`);
    }
    await shard.finishCommit(open, kept.id);
    t.is((await shard.inspectFile(open, "/staged")).hash, openEntries[0]?.hash ?? "");
    await shard.close();
  });
});

/** `bytes` in small pieces, each after a macrotask, so a collection runs in between. */
async function* slowly(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 100) {
    await new Promise((resolve) => setImmediate(resolve));
    yield bytes.subarray(at, at + 100);
  }
}

test("collections running alongside puts, appends and putEntry never free their chunks", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    const source = { repo: "src", id: commitId(10) };
    const copied = await shard.putFile(source, "", "/copied", streamOf(randomBytes(prng, 4000)));
    await shard.finishCommit(source, "");
    // Garbage for the collections to find while the puts run.
    const junk = { repo: "src", id: commitId(11) };
    await shard.putFile(junk, "", "/junk", streamOf(randomBytes(prng, 8000)));
    await shard.abortCommit(junk);

    const commits = [0, 1, 2].map((n) => ({ repo: "dst", id: commitId(20 + n) }));
    const contents = new Map<string, Buffer>();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 16; i += 1) {
      const commit = commits[i % commits.length] ?? commits[0];
      if (commit === undefined) throw new Error("no commit");
      const data = randomBytes(prng, 1000 + prng.intBelow(5000));
      const key = `${commit.id}:/f${i}`;
      contents.set(key, data);
      writes.push(shard.putFile(commit, "", `/f${i}`, slowly(data)));
    }
    writes.push(shard.putEntry(commits[0] ?? source, "/copy", copied));
    const pieces = [0, 1, 2].map(() => randomBytes(prng, 500 + prng.intBelow(3000)));
    const grown = commits[1] ?? source;
    contents.set(`${grown.id}:/grown`, Buffer.concat(pieces));
    writes.push((async () => {
      for (const piece of pieces) await shard.putFile(grown, "", "/grown", slowly(piece), { append: true });
    })());
    const progress = { done: false };
    const all = Promise.all(writes).finally(() => {
      progress.done = true;
    });
    let rounds = 0;
    let freed = 0;
    while (!progress.done || rounds < 2) {
      freed += (await shard.collectGarbage()).chunksFreed;
      rounds += 1;
    }
    await all;
    t.true(freed > 0, `seed ${seed}: the collections freed the aborted commit's chunks`);
    for (const commit of commits) await shard.finishCommit(commit, "");
    for (const [key, data] of contents) {
      const [id, file] = key.split(":");
      const commit = commits.find((candidate) => candidate.id === id);
      if (commit === undefined || file === undefined) throw new Error(`bad key ${key}`);
      t.true((await collect(shard.getFile(commit, file))).equals(data), `seed ${seed}: ${key}`);
    }
    t.is(sha256(await collect(shard.getFile(commits[0] ?? source, "/copy"))), copied.hash);
    t.deepEqual(await shard.collectGarbage(), { chunksFreed: 0, bytesFreed: 0 },
      `seed ${seed}: nothing left to free`);
    await shard.close();
  });
});

/** Resolves after `count` event-loop turns (I/O callbacks run in between): no timer. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

test("a put that ends between a collection's reference scan and its sweep keeps its chunks", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    // The put's source yields its bytes (their chunks are written, before the collection
    // begins), then waits; the collection's seam lets it end after the references are taken.
    let releaseSource = (): void => undefined;
    const sourceReleased = new Promise<void>((resolve) => {
      releaseSource = resolve;
    });
    let blocked = (): void => undefined;
    const sourceBlocked = new Promise<void>((resolve) => {
      blocked = resolve;
    });
    const data = randomBytes(prng, 6000);
    async function* source(): AsyncGenerator<Uint8Array> {
      yield data;
      blocked();
      await sourceReleased;
    }
    const slot: { put?: Promise<FileEntry> } = {};
    const shard = await LocalShard.open({
      dir, shard: 0, chunking: smallChunking,
      beforeSweep: async () => {
        releaseSource();
        // Without the gate the put would now commit its session and record its file; with
        // it, the put waits here until the sweep is over.
        await Promise.race([slot.put, turns(2000)]);
      },
    });
    const commit = { repo: "r", id: commitId(1) };
    slot.put = shard.putFile(commit, "", "/f", source());
    await sourceBlocked;
    await turns(50); // The chunk writes (pin, exists check, temp file) get under way.
    await shard.collectGarbage();
    const entry = await slot.put;
    t.deepEqual(await shard.missingChunks(entry.chunks.map((chunk) => chunk.id)), [], `seed ${seed}`);
    await shard.finishCommit(commit, "");
    t.true((await collect(shard.getFile(commit, "/f"))).equals(data), `seed ${seed}`);
    await shard.close();
  });
});

test("a cross-shard copy's chunks survive collections between putChunks and putEntry", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed}`);
  const prng = new Prng(seed);
  await withTempDir(async (dir) => {
    const from = await openShard(`${dir}/from`);
    const to = await openShard(`${dir}/to`);
    const source = { repo: "src", id: commitId(1) };
    const entry = await from.putFile(source, "", "/f", streamOf(randomBytes(prng, 9000)));
    await from.finishCommit(source, "");
    // One chunk is on the target already (an earlier, interrupted copy pushed it): the copy
    // finds it present and does not push it; the rest it pushes.
    const first = entry.chunks[0];
    if (first === undefined) throw new Error("no chunks");
    await to.putChunks([{ ref: first, bytes: await from.readChunk(first.id) }]);
    const missing = await to.missingChunks(entry.chunks.map((chunk) => chunk.id));
    t.false(missing.includes(first.id));
    const moving = entry.chunks.filter((chunk) => missing.includes(chunk.id));
    await to.putChunks(await Promise.all(moving.map(async (ref) =>
      ({ ref, bytes: await from.readChunk(ref.id) }))));
    t.deepEqual(await to.collectGarbage(), { chunksFreed: 0, bytesFreed: 0 },
      `seed ${seed}: nothing pushed or found present is freed before its file is recorded`);
    const target = { repo: "dst", id: commitId(2) };
    await to.putEntry(target, "/g", { ...entry, path: "/g" });
    await to.finishCommit(target, "");
    t.is(sha256(await collect(to.getFile(target, "/g"))), entry.hash, `seed ${seed}`);
    await Promise.all([from.close(), to.close()]);
  });
});
