// Goal: what a shard acknowledged survives a fresh instance on the same directory (a process
// that died without closing), open commits carry on there, and every refused write changes
// nothing. Method: real shards in temp directories; the first instance is abandoned, never
// closed; refusals are checked by their error code and by reading the commit afterwards.
import test from "ava";
import { PfsError } from "../../../pkg/common/index.js";
import {
  collect, commitId, openShard, sha256, streamOf, withTempDir,
} from "./shard-fixture.js";

const bytes = (text: string): Buffer => Buffer.from(text.repeat(300));

test("acknowledged writes survive a fresh instance, and an open commit carries on there", async (t) => {
  await withTempDir(async (dir) => {
    const first = await openShard(dir);
    const base = { repo: "r", id: commitId(1) };
    const next = { repo: "r", id: commitId(2) };
    await first.putFile(base, "", "/a", streamOf(bytes("a")));
    await first.putFile(base, "", "/d/b", streamOf(bytes("b")));
    await first.finishCommit(base, "");
    await first.putFile(next, base.id, "/a", streamOf(bytes("x")), { append: true });
    await first.putFile(next, base.id, "/c", streamOf(bytes("c")));
    await first.deleteFile(next, "/d");

    const second = await openShard(dir); // `first` is abandoned, as by a crash.
    t.true((await collect(second.getFile(base, "/a"))).equals(bytes("a")));
    const appended = await second.putFile(next, base.id, "/a", streamOf(bytes("y")), { append: true });
    const expected = Buffer.concat([bytes("a"), bytes("x"), bytes("y")]);
    t.is(appended.hash, sha256(expected), "the append extends the content staged before");
    t.deepEqual(await second.finishCommit(next, base.id),
      { files: 2, sizeBytes: expected.length + bytes("c").length });

    const third = await openShard(dir);
    t.deepEqual(await third.finishCommit(next, base.id),
      { files: 2, sizeBytes: expected.length + bytes("c").length }, "finish is idempotent");
    t.true((await collect(third.getFile(next, "/a"))).equals(expected));
    t.deepEqual((await third.listDirectory(next, "/")).map((child) => child.path), ["/a", "/c"]);
    t.deepEqual(await third.diff(next, base.id, "/"), [
      { path: "/a", change: "changed", oldSize: 300, newSize: 900 },
      { path: "/c", change: "added", oldSize: 0, newSize: 300 },
      { path: "/d/b", change: "deleted", oldSize: 300, newSize: 0 },
    ]);
    for (const shard of [first, second, third]) await shard.close();
  });
});

async function* failing(): AsyncGenerator<Uint8Array> {
  yield bytes("partial");
  await Promise.resolve();
  throw new Error("the source broke");
}

test("refused writes and reads give clear errors and change nothing", async (t) => {
  await withTempDir(async (dir) => {
    const shard = await openShard(dir);
    const commit = { repo: "r", id: commitId(7) };
    const code = async (work: () => Promise<unknown>): Promise<string> => {
      const error = await t.throwsAsync(work);
      return error instanceof PfsError ? error.code : `not a PfsError: ${String(error)}`;
    };
    await shard.putFile(commit, "", "/kept", streamOf(bytes("k")));
    await t.throwsAsync(shard.putFile(commit, "", "/broken", failing()), { message: /source broke/ });
    t.is(await code(() => shard.putFile(commit, "", "/a/../b", streamOf(bytes("z")))), "INVALID_ARGUMENT");
    t.is(await code(() => shard.putFile(commit, "", "/", streamOf(bytes("z")))), "INVALID_ARGUMENT");
    const ghost = { path: "/ghost", size: 5, hash: sha256(Buffer.from("ghost")),
      chunks: [{ id: sha256(Buffer.from("ghost")), size: 5 }] };
    t.is(await code(() => shard.putEntry(commit, "/ghost", ghost)), "NOT_FOUND");
    t.is(await code(() => shard.putChunks([{ ref: ghost.chunks[0] ?? { id: "", size: 0 },
      bytes: Buffer.from("other") }])), "INVALID_ARGUMENT");
    t.is(await code(() => shard.inspectFile(commit, "/kept")), "NOT_FOUND", "not finished yet");

    await shard.finishCommit(commit, "");
    const walked: string[] = [];
    for await (const entry of shard.walk(commit, "/")) walked.push(entry.path);
    t.deepEqual(walked, ["/kept"]);
    t.deepEqual((await shard.listDirectory(commit, "/")).map((child) => child.path), ["/kept"]);
    t.is(await code(() => shard.putFile(commit, "", "/late", streamOf(bytes("l")))), "FAILED_PRECONDITION");
    t.is(await code(() => shard.inspectFile(commit, "/broken")), "NOT_FOUND");
    t.is(await code(() => collect(shard.getFile(commit, "/kept", { start: 301 }))), "INVALID_ARGUMENT");
    t.is((await collect(shard.getFile(commit, "/kept", { start: 290, end: 10_000 }))).length, 10,
      "the end is clamped to the size");
    t.is(await code(() => shard.glob(commit, "no-slash")), "INVALID_ARGUMENT");
    t.deepEqual(await shard.collectGarbage(), { chunksFreed: 0, bytesFreed: 0 },
      "the broken put and the refused pushes stored no chunk");
    t.true((await collect(shard.getFile(commit, "/kept"))).equals(bytes("k")));
    await shard.close();
  });
});
