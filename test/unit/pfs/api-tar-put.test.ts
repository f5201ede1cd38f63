// Goal: a tar put stays all or nothing when a garbage collection takes its staged data between
// staging and recording (a scratch commit has no metadata record, so the collector's reconcile
// may drop its log once untouched for its grace): the put is refused as retryable UNAVAILABLE
// and nothing of the archive reaches the commit; without that collection the same put records
// every entry. Method: a real shard in a temp dir behind a one-shard router; the collection is
// run exactly at the put's check of its staged chunks (the moment after staging).
import test from "ava";
import { pack } from "tar-stream";
import { PfsError } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the tar put is internal to the API layer.
import { putTar } from "../../../pkg/pfs/api/tar-put.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs/api's routing contract, faked with one shard.
import type { ShardRouting } from "../../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries -- the shard contract.
import type { ShardReplica } from "../../../pkg/pfs/shard/shard-api.js";
// eslint-disable-next-line pfs/boundaries -- a local replica.
import type { LocalShard } from "../../../pkg/pfs/shard/index.js";
import { commitId, openShard, streamOf, withTempDir } from "./shard-fixture.js";

async function archive(files: Record<string, string>): Promise<Buffer> {
  const tar = pack();
  for (const [name, text] of Object.entries(files)) tar.entry({ name }, text);
  tar.finalize();
  const pieces: Buffer[] = [];
  for await (const piece of tar as AsyncIterable<Buffer>) pieces.push(piece);
  return Buffer.concat(pieces);
}

/** A router of one shard, always `replica`. */
function routerOf(replica: ShardReplica): ShardRouting {
  return {
    shards: 1,
    replica: () => Promise.resolve(replica),
    all: () => Promise.resolve([replica]),
  };
}

/** `shard`, but the first missingChunks call is preceded by `before()`. */
function interceptedMissing(shard: LocalShard, before: () => Promise<void>): ShardReplica {
  let first = true;
  return new Proxy(shard, {
    get(target, property) {
      if (property === "missingChunks") {
        return async (ids: readonly string[]) => {
          if (first) { first = false; await before(); }
          return target.missingChunks(ids);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

const files = { "a.txt": "alpha ".repeat(300), "d/b.txt": "bravo ".repeat(400) };

test("a collection between staging and recording refuses the whole tar put", async (t) => {
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    const commit = { repo: "r", id: commitId(7) };
    // The reconcile's view: every stored commit but the real one is unknown; drop and collect.
    const replica = interceptedMissing(shard, async () => {
      for (const stored of await shard.storedCommits()) {
        if (stored.id !== commit.id) await shard.dropCommit({ repo: stored.repo, id: stored.id });
      }
      await shard.collectGarbage();
    });
    const bytes = await archive(files);
    const error = await t.throwsAsync(() =>
      putTar(streamOf(bytes), "/in", commit, routerOf(replica)));
    t.true(error instanceof PfsError && error.code === "UNAVAILABLE", String(error));
    await shard.finishCommit(commit, "");
    t.deepEqual(await shard.glob(commit, "/**"), [], "nothing of the archive was recorded");
    await shard.close();
  });
});

test("the same tar put records every entry when no collection intervenes", async (t) => {
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    const commit = { repo: "r", id: commitId(8) };
    const result = await putTar(streamOf(await archive(files)), "/in", commit, routerOf(shard));
    t.is(result.files, 2);
    await shard.finishCommit(commit, "");
    t.deepEqual((await shard.glob(commit, "/**")).map((entry) => entry.path).sort(),
      ["/in/a.txt", "/in/d/b.txt"]);
    await shard.close();
  });
});
