// Goal: the put stream's ready handshake (issue 6, open item 4). Over real gRPC on loopback: a
// RemoteShard reads none of a put's data before the replica accepted the put (its putFile
// asked for data); a refusal before that, or giving up while waiting, rejects with the data
// untouched; a failure after it rejects with the replica's code. Through the ShardRouter: a put
// whose master never answers (stopped) goes to the next master as soon as the directory names
// one, whole, without the caller retrying; a put refused after ready is not resent; a unary
// write refused by a replica that is no longer master goes to the next one.
// Method: a real LocalShard in a temp dir behind a pfs.Shard server; its putFile is scripted
// (wait, refuse, hang, fail after one piece) around the real one. The router gets an in-memory
// directory whose master the test moves.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import test from "ava";
import { PfsError, limits, silentLogger } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; api/ is the API.
import { ShardRouter, shardServiceHandlers } from "../../../pkg/pfs/api/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; replication/ is the API.
import type { ReplicaDirectory, ShardHost } from "../../../pkg/pfs/replication/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts; shard/ is the API.
import type { ShardReplica } from "../../../pkg/pfs/shard/index.js";
import { loadPfsShardService } from "../../../pkg/proto/index.js";
import { randomBytesFrom } from "./chunk-fixture.js";
import { failure, seeded, withRemote } from "./replication-transfer-fixture.js";
import { commitId, openShard, sha256, streamOf, withTempDir } from "./shard-fixture.js";

type Put = ShardReplica["putFile"];

/** `base` with its putFile replaced by `put` and any of `more` (the rest go to `base`). */
function scripted(base: ShardReplica, put: Put, more: Partial<ShardReplica> = {}): ShardReplica {
  return new Proxy(base, {
    get(target, key) {
      if (key === "putFile") return put;
      if (typeof key === "string" && key in more) return (more as Record<string, unknown>)[key];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** `bytes` as a put's data, recording whether anyone read a piece. */
function watched(bytes: Buffer): { data: AsyncIterable<Uint8Array>; pulled: () => boolean } {
  let pulled = false;
  async function* data(): AsyncIterable<Uint8Array> {
    pulled = true;
    yield* streamOf(bytes, 4096);
  }
  return { data: data(), pulled: () => pulled };
}

/** A promise and its resolver. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => { fire = resolve; });
  return { promise, fire };
}

const commit = { repo: "r", id: commitId(1) };

test("no data crosses before the replica takes the put; then the whole file does", async (t) => {
  const bytes = randomBytesFrom(seeded(t), 50_000);
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    const entered = signal();
    const gate = signal();
    const replica = scripted(local, async (...args) => {
      entered.fire();
      await gate.promise;
      return local.putFile(...args);
    });
    try {
      await withRemote(replica, async (remote) => {
        const source = watched(bytes);
        const put = remote.putFile(commit, "", "/a", source.data);
        await entered.promise;
        for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
        t.false(source.pulled(), "the client waits for ready before it reads data");
        gate.fire();
        const entry = await put;
        t.true(source.pulled());
        t.is(entry.hash, sha256(bytes));
        await local.finishCommit(commit, "");
        t.is((await local.inspectFile(commit, "/a")).size, bytes.length);
      });
    } finally {
      await local.close();
    }
  });
});

test("a refusal before ready, or giving up, leaves the data untouched", async (t) => {
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    let refusal: PfsError | undefined = new PfsError("UNAVAILABLE", "not the master");
    const entered = signal();
    const replica = scripted(local, async () => {
      entered.fire();
      if (refusal !== undefined) throw refusal;
      return new Promise(() => undefined); // a master that never answers
    });
    try {
      await withRemote(replica, async (remote) => {
        for (const code of ["UNAVAILABLE", "FAILED_PRECONDITION"] as const) {
          refusal = new PfsError(code, `refused: ${code}`);
          const source = watched(Buffer.from("data"));
          const error = await t.throwsAsync(remote.putFile(commit, "", "/b", source.data));
          t.like(failure(error), { code });
          t.false(source.pulled(), `${code}: nothing read`);
        }
        refusal = undefined;
        const giveUp = new AbortController();
        const source = watched(Buffer.from("data"));
        const put = remote.putFile(commit, "", "/b", source.data, { giveUp: giveUp.signal });
        await entered.promise;
        giveUp.abort();
        t.like(failure(await t.throwsAsync(put)), { code: "UNAVAILABLE" });
        t.false(source.pulled(), "gave up: nothing read");
      });
    } finally {
      await local.close();
    }
  });
});

test("a failure after ready rejects with the replica's code and records nothing", async (t) => {
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    const replica = scripted(local, async (_commit, _parent, _path, data) => {
      for await (const piece of data) {
        throw new PfsError("DATA_CORRUPTED", `bad piece of ${piece.length} bytes`);
      }
      throw new PfsError("INTERNAL", "no data");
    });
    try {
      await withRemote(replica, async (remote) => {
        const source = watched(randomBytesFrom(seeded(t), 20_000));
        const error = await t.throwsAsync(remote.putFile(commit, "", "/c", source.data));
        t.like(failure(error), { code: "DATA_CORRUPTED" });
        t.true(source.pulled());
        await local.finishCommit(commit, "");
        t.like(failure(await t.throwsAsync(local.inspectFile(commit, "/c"))),
          { code: "NOT_FOUND", missing: "file" });
      });
    } finally {
      await local.close();
    }
  });
});

/** A pfs.Shard server on 127.0.0.1 (port 0) over `replica`; its address and a closer. */
async function serve(replica: ShardReplica): Promise<{ address: string; close: () => void }> {
  const server = new Server({ "grpc.max_receive_message_length": limits.pfsGrpcMessageBytesMax });
  server.addService(loadPfsShardService().service,
    shardServiceHandlers(() => Promise.resolve(replica), silentLogger));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
      if (error !== null) reject(error);
      else resolve(bound);
    });
  });
  return { address: `127.0.0.1:${port}`, close: () => { server.forceShutdown(); } };
}

/** The directory of one shard placed on "a" (the router's node) and "b"; the test moves its master. */
class MovingDirectory {
  readonly shards = 1;
  master: string | undefined = "b";
  readonly #listeners = new Set<() => void>();

  constructor(readonly addressB: string) {}

  masterOf(): string | undefined {
    return this.master;
  }

  replicasOf(): readonly string[] {
    return ["a", "b"];
  }

  addressOf(node: string): string | undefined {
    return node === "b" ? this.addressB : node === "a" ? "unused" : undefined;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  waitMaster(): Promise<{ node: string; address: string }> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const node = this.master;
        const address = node === undefined ? undefined : this.addressOf(node);
        if (node === undefined || address === undefined) return false;
        resolve({ node, address });
        return true;
      };
      if (check()) return;
      const remove = this.onChange(() => { if (check()) remove(); });
    });
  }

  move(node: string | undefined): void {
    this.master = node;
    for (const listener of [...this.#listeners]) listener();
  }
}

/** A router on node "a" whose local replica is `mine`, master "b" serving `theirs`. */
async function withRouter(mine: ShardReplica, theirs: ShardReplica,
  body: (router: ShardRouter, directory: MovingDirectory) => Promise<void>): Promise<void> {
  const server = await serve(theirs);
  const directory = new MovingDirectory(server.address);
  const host = { holds: () => true, hosted: () => mine };
  const router = new ShardRouter({
    directory: directory as unknown as ReplicaDirectory, host: host as unknown as ShardHost,
    self: "a", logger: silentLogger,
  });
  try {
    await body(router, directory);
  } finally {
    router.close();
    server.close();
  }
}

test("router: a put to a master that never answers goes whole to the next one", async (t) => {
  const bytes = randomBytesFrom(seeded(t), 40_000);
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    const entered = signal();
    const stopped = scripted(local, () => {
      entered.fire();
      return new Promise(() => undefined);
    });
    try {
      await withRouter(local, stopped, async (router, directory) => {
        const routed = await router.replica(0);
        const put = routed.putFile(commit, "", "/d", streamOf(bytes, 4096));
        await entered.promise;
        directory.move(undefined);
        directory.move("a");
        t.is((await put).hash, sha256(bytes));
        await local.finishCommit(commit, "");
        t.is((await local.inspectFile(commit, "/d")).hash, sha256(bytes));
      });
    } finally {
      await local.close();
    }
  });
});

test("router: a put that fails after ready is not resent", async (t) => {
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    let localPuts = 0;
    const mine = scripted(local, (...args) => {
      localPuts += 1;
      return local.putFile(...args);
    });
    const pulled = signal();
    const gate = signal();
    const failing = scripted(local, async (_commit, _parent, _path, data) => {
      for await (const piece of data) {
        pulled.fire();
        await gate.promise;
        throw new PfsError("UNAVAILABLE", `master term ended after ${piece.length} bytes`);
      }
      throw new PfsError("INTERNAL", "no data");
    });
    try {
      await withRouter(mine, failing, async (router, directory) => {
        const routed = await router.replica(0);
        const put = routed.putFile(commit, "", "/e", streamOf(Buffer.alloc(10_000, 7), 1000));
        await pulled.promise;
        // Another master now: after ready that does not stop the put, and a resend would go there.
        directory.move("a");
        gate.fire();
        t.like(failure(await t.throwsAsync(put)), { code: "UNAVAILABLE" });
        t.is(localPuts, 0, "the data was partly consumed: the caller decides");
      });
    } finally {
      await local.close();
    }
  });
});

test("router: a unary write refused as not master goes to the next master", async (t) => {
  await withTempDir(async (dir) => {
    const local = await openShard(dir);
    await local.putFile(commit, "", "/f", streamOf(Buffer.from("gone soon")));
    const refused = signal();
    const deposed = scripted(local, (...args) => local.putFile(...args), {
      deleteFile: () => {
        refused.fire();
        return Promise.reject(new PfsError("UNAVAILABLE", "not the master of shard 0"));
      },
    });
    try {
      await withRouter(local, deposed, async (router, directory) => {
        const routed = await router.replica(0);
        const deleted = routed.deleteFile(commit, "/f");
        await refused.promise;
        directory.move("a");
        t.is(await deleted, 1);
        await local.finishCommit(commit, "");
        t.like(failure(await t.throwsAsync(local.inspectFile(commit, "/f"))),
          { code: "NOT_FOUND", missing: "file" });
      });
    } finally {
      await local.close();
    }
  });
});
