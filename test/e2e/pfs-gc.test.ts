// Goal: garbage collection frees exactly the storage no commit references any more — the chunks
// of a deleted repo and of a deleted open commit — whether asked through pfs.API
// CollectGarbage or run by pfsd's own timer (--pfs-gc-interval), keeps every byte of the
// finished commits that remain, and loses nothing of a put running during a collection.
// Method: real pfsd processes (embedded member, --shards 4, one node each so the data dir holds
// every shard); seeded distinct files of a few MiB; the chunk files on disk before and after
// each step say which chunks each write added and which the collection removed; reads compare
// sha256 with what was written.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import test from "ava";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient, pfsAddresses } from "./pfs-api-support.js";
import { added, chunkFiles, contentOf, sha256, sorted } from "./pfs-gc-support.js";

const pfsScript = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));

/** Runs the `pfs` CLI; its stdout. */
async function pfs(args: readonly string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [pfsScript, ...args]);
  return stdout;
}

const seed = Number(process.env["PFS_SEED"] ?? Date.now() % 1_000_000_000);
const mebibyte = 1024 * 1024;

interface Node { cluster: MemberCluster; client: PfsClient; dataDir: string }

async function startNode(gcIntervalSeconds: number): Promise<Node> {
  const cluster = await startCluster({ kind: "pfsd", size: 1, extraArgs: [
    "--pfs-address", "127.0.0.1:0", "--shards", "4",
    "--pfs-gc-interval", String(gcIntervalSeconds)] });
  const [address] = await pfsAddresses([cluster.endpoints], 1);
  const member = cluster.members[0];
  if (address === undefined || member === undefined) throw new Error("no pfs node");
  return { cluster, client: new PfsClient(address), dataDir: member.dataDir };
}

async function stopNode(node: Node | undefined): Promise<void> {
  node?.client.close();
  await node?.cluster.stop();
}

/** Puts `count` files of 1.5 to 3 MiB into `repo@commit`; path → sha256. */
async function putFiles(node: Node, repo: string, commit: string, count: number):
  Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (let i = 0; i < count; i += 1) {
    const path = `/${commit}-${i}.bin`;
    const bytes = contentOf(seed, `${repo}${path}`, 1.5 * mebibyte + ((seed + i) % 1.5) * mebibyte);
    await node.client.putFile({ repo, commit, path }, [bytes]);
    files.set(path, sha256(bytes));
  }
  return files;
}

async function checkFiles(t: { is(a: unknown, b: unknown, m?: string): void }, node: Node,
  repo: string, files: ReadonlyMap<string, string>): Promise<void> {
  for (const [path, hash] of files) {
    t.is(sha256(await node.client.getFile(repo, "master", path)), hash, `${repo}:${path}`);
  }
}

/** A repo of finished files, a deleted repo and a deleted open commit; the chunks of each. */
async function makeGarbage(node: Node, prefix: string): Promise<{
  kept: Set<string>; garbage: Set<string>; files: Map<string, string>;
}> {
  const repoA = `${prefix}a`;
  const repoB = `${prefix}b`;
  await node.client.call("CreateRepo", { name: repoA });
  await node.client.call("CreateRepo", { name: repoB });
  const start = await chunkFiles(node.dataDir);
  await putFiles(node, repoA, "master", 3);
  const afterA = await chunkFiles(node.dataDir);
  const files = await putFiles(node, repoB, "master", 3);
  const afterB = await chunkFiles(node.dataDir);
  const open = await node.client.call("StartCommit", { repo: repoB, branch: "master" });
  await putFiles(node, repoB, open.id, 2);
  const afterOpen = await chunkFiles(node.dataDir);
  await node.client.call("DeleteRepo", { name: repoA });
  await node.client.call("DeleteCommit", { commit: { repo: repoB, commit: open.id } });
  const garbage = new Set([...added(start, afterA), ...added(afterB, afterOpen)]);
  return { kept: added(afterA, afterB), garbage, files };
}

test.serial("CollectGarbage frees exactly a deleted repo's and a deleted commit's chunks",
  async (t) => {
    t.log(`seed ${seed} (PFS_SEED)`);
    let node: Node | undefined;
    try {
      node = await startNode(0);
      const before = await chunkFiles(node.dataDir);
      const { kept, garbage, files } = await makeGarbage(node, "api");
      t.true(garbage.size >= 5 && kept.size >= 3, `${garbage.size} garbage, ${kept.size} kept`);
      const freed = await node.client.call("CollectGarbage", {});
      t.is(Number(freed.chunks_freed), garbage.size);
      t.true(Number(freed.bytes_freed) >= 5 * 1.5 * mebibyte, freed.bytes_freed);
      const after = await chunkFiles(node.dataDir);
      t.deepEqual(sorted(after), sorted([...before, ...kept]), "exactly the garbage is gone");
      await checkFiles(t, node, "apib", files);
      const again = await node.client.call("CollectGarbage", {});
      t.is(again.chunks_freed, "0");
      const cli = ["gc", "--address", node.client.address];
      t.deepEqual(JSON.parse(await pfs([...cli, "--json"])), { chunks_freed: "0", bytes_freed: "0" });
      t.regex(await pfs(cli), /^freed 0 chunks, 0 ?B\n$/);

      // A put streamed slowly while collections run: its chunks are new and unreferenced
      // until its record lands, and the collections must keep them.
      const bytes = contentOf(seed, "concurrent", 9 * mebibyte);
      async function* slowly(): AsyncGenerator<Buffer> {
        for (let at = 0; at < bytes.length; at += mebibyte / 2) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          yield bytes.subarray(at, at + mebibyte / 2);
        }
      }
      let done = false;
      const put = node.client.putFile({ repo: "apib", commit: "master", path: "/during.bin" },
        slowly()).finally(() => { done = true; });
      let collections = 0;
      while (!done) {
        await node.client.call("CollectGarbage", {});
        collections += 1;
      }
      await put;
      await node.client.call("CollectGarbage", {});
      t.log(`${collections} collections during the put`);
      t.true(collections >= 1);
      t.is(sha256(await node.client.getFile("apib", "master", "/during.bin")), sha256(bytes));
      await checkFiles(t, node, "apib", files);
    } finally {
      await stopNode(node);
    }
  });

test.serial("pfsd's timer (--pfs-gc-interval) frees the same garbage by itself", async (t) => {
  t.log(`seed ${seed} (PFS_SEED)`);
  let node: Node | undefined;
  try {
    node = await startNode(1);
    const { kept, garbage, files } = await makeGarbage(node, "timer");
    const deadline = Date.now() + 30_000;
    let left = garbage.size;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = await chunkFiles(node.dataDir);
      left = [...garbage].filter((chunk) => now.has(chunk)).length;
    }
    t.is(left, 0, "every garbage chunk went by itself");
    const after = await chunkFiles(node.dataDir);
    t.deepEqual([...kept].filter((chunk) => !after.has(chunk)), [], "every kept chunk is there");
    await checkFiles(t, node, "timerb", files);
  } finally {
    await stopNode(node);
  }
});
