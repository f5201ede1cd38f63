// Goal: garbage collection deletes exactly the stored chunks that are neither referenced nor
// protected, and never deletes a chunk put (written or deduplicated) while it runs, nor one
// held by an open write session or a hold (pushed for a later putEntry). Method: real stores
// in temp directories; seeded random chunk sets and reference sets; a collection racing many
// concurrent puts, with the puts' chunks deliberately absent from the references; holds on an
// injected clock.
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; chunk/ is the API.
import { ChunkStore, chunkLimits, collectGarbage } from "../../../pkg/pfs/chunk/index.js";
// eslint-disable-next-line pfs/boundaries -- the guard's clock is injected only here.
import { ChunkGuard } from "../../../pkg/pfs/chunk/chunk-guard.js";
import { randomBytesFrom, withTempDir } from "./chunk-fixture.js";

async function listAll(store: ChunkStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of store.list()) ids.push(id);
  return ids;
}

for (const seed of [8101, 8102, 8103]) {
  test(`a collection frees exactly the unreferenced chunks (seed ${seed})`, async (t) => {
    await withTempDir(async (dir) => {
      const store = await ChunkStore.open({ dir });
      const prng = new Prng(seed);
      const chunks = Array.from({ length: 120 }, () => randomBytesFrom(prng, 1 + prng.intBelow(2000)));
      const results = await store.putMany(chunks);
      const referenced = new Set(results.filter(() => prng.intBelow(2) === 0).map((result) => result.id));
      const sizeOf = new Map(results.map((result) => [result.id, result.size]));
      const unreferenced = [...sizeOf.keys()].filter((id) => !referenced.has(id));
      const bytesOf = (ids: Iterable<string>): number => [...ids].reduce((sum, id) => sum + (sizeOf.get(id) ?? 0), 0);

      const dry = await collectGarbage(store, referenced, { dryRun: true });
      t.is(dry.chunksFreed, unreferenced.length, `seed ${seed}`);
      t.is((await listAll(store)).length, sizeOf.size, `seed ${seed}: a dry run deletes nothing`);

      const byPredicate = (id: string): boolean => referenced.has(id);
      const result = await collectGarbage(store, seed % 2 === 0 ? byPredicate : referenced);
      t.deepEqual(result, {
        chunksFreed: unreferenced.length, bytesFreed: bytesOf(unreferenced),
        chunksKept: referenced.size, bytesKept: bytesOf(referenced),
      }, `seed ${seed}`);
      t.deepEqual(await listAll(store), [...referenced].sort(), `seed ${seed}`);
      for (const id of referenced) t.is((await store.get(id)).length, sizeOf.get(id)!, `seed ${seed}`);
    });
  });
}

test("puts racing a collection are never collected, though absent from the references", async (t) => {
  const seed = 8104;
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const prng = new Prng(seed);
    const old = Array.from({ length: 300 }, () => randomBytesFrom(prng, 200));
    const oldIds = (await store.putMany(old)).map((result) => result.id);
    // Racing puts: new chunks, and re-puts (dedup hits) of old unreferenced chunks.
    const fresh = Array.from({ length: 150 }, () => randomBytesFrom(prng, 200));
    const reput = old.slice(0, 100);
    const gc = store.beginGarbageCollection();
    const sweeping = gc.sweep(new Set<string>());
    const racing = Promise.all([...fresh, ...reput].map(async (bytes, index) => {
      if (index % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      return store.put(bytes);
    }));
    const [result, putResults] = await Promise.all([sweeping, racing]);
    const acknowledged = new Set(putResults.map((put) => put.id));
    const remaining = new Set(await listAll(store));
    for (const id of acknowledged) t.true(remaining.has(id), `seed ${seed}: ${id} was put during the GC and lost`);
    for (const id of oldIds.slice(100)) t.false(remaining.has(id), `seed ${seed}: ${id} is garbage`);
    t.is(result.chunksFreed, 200, `seed ${seed}: only the 200 untouched old chunks go`);
    for (const id of acknowledged) t.truthy(await store.get(id));
  });
});

test("an open write session's chunks survive a collection; after it ends they are fair game", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const kept = await store.put(Buffer.from("already stored, re-added in the session"));
    const session = store.openSession();
    const reAdded = await session.add(Buffer.from("already stored, re-added in the session"));
    t.false(reAdded.stored);
    t.is(kept.id, reAdded.id);
    // A collection that begins after the add: only the session's pin protects the chunk.
    const during = await collectGarbage(store, new Set());
    t.is(during.chunksFreed, 0);
    t.true(await store.has(kept.id));
    await session.commit();
    t.is(store.pinnedCount, 0);
    const after = await collectGarbage(store, new Set());
    t.is(after.chunksFreed, 1);
    t.false(await store.has(kept.id));
  });
});

test("a chunk re-put after a collection began is spared even if it was garbage before", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const bytes = Buffer.from("garbage until someone needs it again");
    const { id } = await store.put(bytes);
    const gc = store.beginGarbageCollection();
    const again = await store.put(bytes);
    t.false(again.stored, "a dedup hit");
    const result = await gc.sweep(new Set());
    t.is(result.chunksFreed, 0);
    t.true(await store.has(id));
    t.is((await collectGarbage(store, new Set())).chunksFreed, 1, "the next collection frees it");
  });
});

test("a held chunk is spared until its hold runs out; the oldest holds end past the bound", (t) => {
  let nowMs = 1_000;
  const guard = new ChunkGuard(() => nowMs);
  const marks = guard.beginMarks();
  guard.hold("a");
  t.true(guard.isProtected("a", marks));
  nowMs += chunkLimits.chunkHoldMs - 1;
  t.true(guard.isProtected("a", marks), "still within the hold");
  nowMs += 2;
  t.false(guard.isProtected("a", marks), "the hold ran out");
  guard.hold("a");
  t.true(guard.isProtected("a", marks), "a new hold starts from now");
  for (let i = 0; i < chunkLimits.chunkHoldsMax; i += 1) guard.hold(`id-${i}`);
  t.is(guard.heldCount, chunkLimits.chunkHoldsMax);
  t.false(guard.isProtected("a", marks), "the oldest hold ended early at the bound");
  t.true(guard.isProtected("id-0", marks));
  guard.endMarks(marks);
});

test("chunks held by the store (hold, hasAndHold) survive a collection that does not name them", async (t) => {
  await withTempDir(async (dir) => {
    const store = await ChunkStore.open({ dir });
    const pushed = await store.put(Buffer.from("pushed for a file recorded in a later call"));
    const found = await store.put(Buffer.from("garbage, then found present by a copy"));
    const garbage = await store.put(Buffer.from("garbage nobody asked about"));
    await store.hold([pushed.id]);
    t.true(await store.hasAndHold(found.id));
    t.false(await store.hasAndHold("0".repeat(64)), "an absent chunk is reported absent");
    const result = await collectGarbage(store, new Set());
    t.is(result.chunksFreed, 1, "only the unheld garbage is freed");
    t.true(await store.has(pushed.id));
    t.true(await store.has(found.id));
    t.false(await store.has(garbage.id));
  });
});
