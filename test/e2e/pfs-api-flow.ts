// The core flow every pfs API e2e test file runs against its own cluster (1 node, 3 nodes,
// pfsd over an external etcd): repos, a put into a branch without an open commit (its own
// commit, finished), reads with byte ranges, a tar put and a directory read back as tar, list
// and glob merged over shards, an explicit commit with append, delete and diff, a copy to
// another repo without re-upload, and the repo's deletion. Each step goes to a node picked
// round-robin, so a 3-node run proves any node serves any request.
import { createHash } from "node:crypto";
import type { ExecutionContext } from "ava";
import { extract } from "tar-stream";
import { type PfsClient, tarOf } from "./pfs-api-support.js";

/** Bytes from a seeded xorshift generator (the seed is in the test title on failure). */
export function seededBytes(seed: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index += 1) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

async function untar(archive: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const pieces: Buffer[] = [];
      for await (const piece of entry) pieces.push(piece as Buffer);
      files.set(entry.header.name, Buffer.concat(pieces).toString());
    }
  })();
  reader.end(archive);
  await done;
  return files;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Branches, WaitCommit and SubscribeCommit over the finished history `ids` (oldest first). */
async function branchesAndWaits(t: ExecutionContext, next: () => PfsClient, repo: string,
  ids: readonly string[]): Promise<void> {
  const [, middle, newest] = ids;
  if (middle === undefined || newest === undefined) throw new Error("history too short");
  const dev = await next().call("CreateBranch", { repo, branch: "dev",
    head: { repo, commit: "master^1" } });
  t.is(dev.head, middle);
  t.deepEqual((await next().call("ListBranch", { repo })).branches.map((branch) => branch.name),
    ["dev", "master"]);
  t.deepEqual(await next().getFile(repo, "dev", "/t/x.csv"), Buffer.from("x"));
  t.is((await next().call("WaitCommit", { commit: { repo, commit: newest } })).state, "FINISHED");
  const seen = await next().subscribe(repo, "master", ids.length);
  t.deepEqual(seen, [...ids]);
  t.is((await next().call("DeleteBranch", { repo, branch: "dev" })).name, "dev");
}

export async function coreFlow(t: ExecutionContext, clients: readonly PfsClient[],
  repo: string, seed: number): Promise<void> {
  let turn = 0;
  const next = (): PfsClient => {
    const client = clients[turn % clients.length];
    turn += 1;
    if (client === undefined) throw new Error("no client");
    return client;
  };
  await next().call("CreateRepo", { name: repo, description: "flow" });
  t.is((await next().call("InspectRepo", { name: repo })).description, "flow");
  t.true((await next().call("ListRepo", {})).repos.some((info) => info.name === repo));

  // A put into a branch without an open commit makes its own commit and finishes it.
  const big = seededBytes(seed, 3 * 1024 * 1024 + 17);
  const put = await next().putFile({ repo, commit: "master", path: "/data/big.bin" }, [big]);
  t.is(put.bytes_written, String(big.length));
  const first = await next().call("InspectCommit", { commit: { repo, commit: put.commit } });
  t.is(first.state, "FINISHED");
  t.is(first.size_bytes, String(big.length));
  t.is(sha256(await next().getFile(repo, "master", "/data/big.bin")), sha256(big));
  t.deepEqual(await next().getFile(repo, put.commit, "/data/big.bin", 1000, 5000),
    big.subarray(1000, 6000));
  const info = await next().call("InspectFile",
    { file: { commit: { repo, commit: "master" }, path: "/data/big.bin" } });
  t.is(info.hash, sha256(big));
  t.is(info.type, "FILE");

  // A tar put below a directory; the directory reads back as a tar.
  const archive = await tarOf([{ name: "x.csv", data: "x" }, { name: "sub/", type: "directory" },
    { name: "sub/y.csv", data: "yy" }, { name: "sub/z.txt", data: "zzz" }]);
  const tarPut = await next().putFile({ repo, commit: "master", path: "/t", format: "TAR" },
    [archive]);
  t.is(tarPut.files_written, 3);
  const listing = await next().call("ListFile", { file: { commit: { repo, commit: "master" }, path: "/t" } });
  t.deepEqual(listing.files.map((file) => [file.path, file.type, file.size_bytes]),
    [["/t/sub", "DIR", "5"], ["/t/x.csv", "FILE", "1"]]);
  const root = await next().call("ListFile", { file: { commit: { repo, commit: "master" }, path: "/" } });
  t.deepEqual(root.files.map((file) => file.path), ["/data", "/t"]);
  const glob = await next().call("GlobFile", { commit: { repo, commit: "master" }, pattern: "/**.csv" });
  t.deepEqual(glob.files.map((file) => file.path), ["/t/sub/y.csv", "/t/x.csv"]);
  const untarred = await untar(await next().getFile(repo, "master", "/t"));
  t.deepEqual([...untarred], [["sub/y.csv", "yy"], ["sub/z.txt", "zzz"], ["x.csv", "x"]]);
  t.is((await untar(await next().getFile(repo, "master", "/"))).size, 4);

  // An explicit commit: append, delete, finish; then the diff against its parent.
  const open = await next().call("StartCommit", { repo, branch: "master", description: "edit" });
  t.is(open.state, "OPEN");
  await next().putFile({ repo, commit: open.id, path: "/t/x.csv", append: true }, [Buffer.from("+more")]);
  await next().call("DeleteFile", { file: { commit: { repo, commit: "master" }, path: "/t/sub/z.txt" } });
  await next().putFile({ repo, commit: "master", path: "/new.txt" }, [Buffer.from("new")]);
  // Reads of the branch still see its head while a commit is open.
  t.is((await next().getFile(repo, "master", "/t/x.csv")).toString(), "x");
  const finished = await next().call("FinishCommit", { commit: { repo, commit: open.id } });
  t.is(finished.state, "FINISHED");
  t.is((await next().getFile(repo, "master", "/t/x.csv")).toString(), "x+more");
  const diff = await next().call("DiffFile",
    { new_file: { commit: { repo, commit: "master" }, path: "/" } });
  t.deepEqual(diff.diffs.map((change) => [change.new_file?.path ?? null, change.old_file?.path ?? null]),
    [["/new.txt", null], [null, "/t/sub/z.txt"], ["/t/x.csv", "/t/x.csv"]]);
  const history = await next().call("ListCommit", { repo, branch: "master" });
  t.is(history.commits.length, 3);
  await branchesAndWaits(t, next, repo, history.commits.map((commit) => commit.id).reverse());

  // A copy to another repo moves chunks between shards, not through the client.
  await next().call("CreateRepo", { name: `${repo}-copy` });
  const copy = await next().call("CopyFile", {
    src: { commit: { repo, commit: "master" }, path: "/data" },
    dst: { commit: { repo: `${repo}-copy`, commit: "master" }, path: "/copied" },
  });
  t.is(copy.files_written, 1);
  t.is(sha256(await next().getFile(`${repo}-copy`, "master", "/copied/big.bin")), sha256(big));

  const deleted = await next().call("DeleteRepo", { name: repo });
  t.is(deleted.commits_deleted, 3);
  const gone = await next().failure("InspectRepo", { name: repo });
  t.is(gone.code, 5);
  t.is(sha256(await next().getFile(`${repo}-copy`, "master", "/copied/big.bin")), sha256(big));
}
