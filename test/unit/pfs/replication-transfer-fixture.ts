// Shared pieces of the transfer tests: a seeded set of files (one of many chunks, small ones,
// an empty one, a duplicate) sealed into a commit of a real shard; a check that two replicas
// answer every read of a commit alike and as the model says; a pfs.Shard gRPC server on
// 127.0.0.1 port 0 over a local shard with a RemoteShard client; where a chunk lives on disk;
// a replica with some methods replaced (peers that fail, stall or count).
import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { credentials, Server, ServerCredentials } from "@grpc/grpc-js";
import type { ExecutionContext } from "ava";
import { PfsError, Prng, limits, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; api/ is the API.
import { RemoteShard, shardServiceHandlers } from "../../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import type { ShardCommit, ShardReplica } from "../../../pkg/pfs/shard/index.js";
import { loadPfsShardService } from "../../../pkg/proto/index.js";
import { randomBytesFrom } from "./chunk-fixture.js";
import {
  collect, modelChildren, modelWalk, sha256, streamOf, testSeed, type ModelFiles,
} from "./shard-fixture.js";

/** A PRNG from the test's seed (PFS_SEED or fresh), printed so a failure can be replayed. */
export function seeded(t: { log: (message: string) => void }): Prng {
  const seed = testSeed();
  t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
  return new Prng(seed);
}

/** A seeded commit's files: a file of many small chunks, small files, an empty one, a copy. */
export function seededFiles(prng: Prng): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set("/big.bin", randomBytesFrom(prng, 30_000 + prng.intBetween(0, 10_000)));
  for (let i = 0; i < 6; i += 1) {
    files.set(`/d/small-${i}.txt`, randomBytesFrom(prng, prng.intBetween(1, 3_000)));
  }
  files.set("/d/e/empty", Buffer.alloc(0));
  files.set("/d/e/copy.bin", files.get("/d/small-0.txt") ?? Buffer.alloc(0));
  return files;
}

/** Writes `files` into `commit` on `shard` (parent `parent`) and seals it. */
export async function sealCommit(shard: ShardReplica, commit: ShardCommit,
  files: ModelFiles, parent = ""): Promise<void> {
  for (const [file, bytes] of files) await shard.putFile(commit, parent, file, streamOf(bytes));
  await shard.finishCommit(commit, parent);
}

/** Replicas "a" and "b" opened by `open` under `dir`, with `files` sealed as `commit` on a. */
export async function sealedPair<S extends ShardReplica>(dir: string, commit: ShardCommit,
  files: ModelFiles, open: (replicaDir: string) => Promise<S>): Promise<{ a: S; b: S }> {
  const a = await open(path.join(dir, "a"));
  const b = await open(path.join(dir, "b"));
  await sealCommit(a, commit, files);
  return { a, b };
}

/** Every read of `commit` on `replica` matches `files` (and, through that, any other replica). */
export async function expectReads(t: ExecutionContext, replica: ShardReplica, commit: ShardCommit,
  files: ModelFiles, what: string): Promise<void> {
  for (const [file, bytes] of files) {
    const read = await collect(replica.getFile(commit, file));
    t.true(read.equals(bytes), `${what}: ${file} reads back its ${bytes.length} bytes`);
    const entry = await replica.inspectFile(commit, file);
    t.is(entry.hash, sha256(bytes), `${what}: ${file}'s hash`);
  }
  t.deepEqual(await replica.listDirectory(commit, "/d"), modelChildren(files, "/d"), what);
  const walked: string[] = [];
  for await (const entry of replica.walk(commit, "/")) walked.push(entry.path);
  t.deepEqual(walked, modelWalk(files, "/"), what);
  t.is((await replica.diff(commit, "", "/")).length, files.size, what);
}

/** The file holding chunk `id` in the replica directory `dir` (pkg/pfs/chunk layout). */
export function chunkFile(dir: string, id: string): string {
  return path.join(dir, "chunks", id.slice(0, 2), id.slice(2));
}

/** Flips one byte of `file` in place (at `at`, clamped). */
export async function flipByte(file: string, at = 0): Promise<void> {
  const bytes = await readFile(file);
  const index = Math.min(at, bytes.length - 1);
  bytes[index] = (bytes[index] ?? 0) ^ 0xff;
  await writeFile(file, bytes);
}

/** `replica` with some methods replaced (the others reach the real replica). */
export function wrap(replica: ShardReplica, overrides: Partial<ShardReplica>): ShardReplica {
  return new Proxy(replica, {
    get(target, property, receiver) {
      const override = (overrides as Record<string | symbol, unknown>)[property];
      if (override !== undefined) return override;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** The code of a PfsError (and its details), for `t.like`. */
export function failure(error: unknown): { code: string; missing: unknown } {
  if (!(error instanceof PfsError)) return { code: `not a PfsError: ${String(error)}`, missing: "" };
  return { code: error.code, missing: error.details["missing"] };
}

/**
 * Runs `body` with a RemoteShard reaching `local` through a real pfs.Shard server on
 * 127.0.0.1 (port 0); server and client are closed afterwards. The server serves shard
 * `local.shard` only (FAILED_PRECONDITION for others, as a node does).
 */
export async function withRemote<T>(local: ShardReplica,
  body: (remote: RemoteShard) => Promise<T>): Promise<T> {
  const proto = loadPfsShardService();
  const server = new Server({
    "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
    "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
  });
  server.addService(proto.service, shardServiceHandlers((shard) => shard === local.shard
    ? Promise.resolve(local)
    : Promise.reject(new PfsError("FAILED_PRECONDITION", `shard ${shard} is not here`)),
  silentLogger));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
      if (error !== null) reject(error);
      else resolve(bound);
    });
  });
  const address = `127.0.0.1:${port}`;
  const client = new proto.Client(address, credentials.createInsecure(), {
    "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax,
    "grpc.max_send_message_length": limits.pfsGrpcMessageBytesMax,
  });
  try {
    return await body(new RemoteShard(local.shard, client, address));
  } finally {
    client.close();
    server.forceShutdown();
  }
}
