/**
 * Direct pfs.Shard calls to one node, as the fencing test makes them to a deposed master: a
 * PutFile stream (header, then the data) and a unary FinishCommit, each with a deadline, and
 * a path that the sharder puts on a given shard. The API routes by the election, so only a
 * direct call reaches a node that is no longer master.
 */
import type { Client as GrpcClient, ServiceError } from "@grpc/grpc-js";
import type { Writable } from "node:stream";
import { shardOf } from "../../pkg/pfs/index.js";
import { callDeadlineMs } from "./limits.js";

/** The first `<prefix><n>` (n = 0, 1, …) the sharder puts on `shard` of `shards`. */
export function pathOnShard(prefix: string, shard: number, shards: number): string {
  for (let n = 0; n < 10_000; n += 1) {
    const path = `${prefix}${n}`;
    if (shardOf(path, shards) === shard) return path;
  }
  throw new Error(`no path ${prefix}N on shard ${shard} of ${shards}`);
}

function method(client: GrpcClient, name: string): (...args: unknown[]) => unknown {
  const found = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
  if (found === undefined) throw new Error(`no method ${name}`);
  return found.bind(client);
}

export interface ShardCommitTarget {
  readonly shard: number;
  readonly repo: string;
  readonly commit: string;
  /** The commit's parent ("" for none). */
  readonly parent: string;
}

/** pfs.Shard PutFile of `data` at `path`; resolves with the entry, rejects with the status. */
export function shardPutFile(client: GrpcClient, target: ShardCommitTarget, path: string,
  data: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const stream = method(client, "PutFile")({ deadline: Date.now() + callDeadlineMs },
      (error: ServiceError | null, response: unknown) => {
        if (error !== null) reject(error); else resolve(response);
      }) as Writable;
    stream.write({ header: { shard: target.shard,
      commit: { repo: target.repo, id: target.commit }, parent: target.parent, path,
      append: false } });
    stream.write({ data });
    stream.end();
  });
}

/** pfs.Shard FinishCommit of the target's commit on its shard. */
export function shardFinishCommit(client: GrpcClient, target: ShardCommitTarget):
  Promise<unknown> {
  return new Promise((resolve, reject) => {
    method(client, "FinishCommit")({ shard: target.shard,
      commit: { repo: target.repo, id: target.commit }, parent: target.parent },
    { deadline: Date.now() + callDeadlineMs },
    (error: ServiceError | null, response: unknown) => {
      if (error !== null) reject(error); else resolve(response);
    });
  });
}

/** pfs.Shard ReadManifest: the sealed manifest's bytes of the target's commit on its shard. */
export async function shardReadManifest(client: GrpcClient, target: ShardCommitTarget):
  Promise<Buffer> {
  const stream = method(client, "ReadManifest")({ shard: target.shard,
    commit: { repo: target.repo, id: target.commit }, parent: target.parent },
  { deadline: Date.now() + callDeadlineMs }) as AsyncIterable<{ data: Buffer }>;
  const pieces: Buffer[] = [];
  for await (const message of stream) pieces.push(message.data);
  return Buffer.concat(pieces);
}
