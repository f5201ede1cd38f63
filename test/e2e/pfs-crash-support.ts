// Support for the pfs crash e2e tests: seeded content streamed without holding it (its sha256
// known up front), a kill -9 that fires when a stream has handed over a given byte count, the
// registered pfs address of a named node, and a kill -9 + restart that waits until the node
// registered its new address (its pfs port is picked afresh: --pfs-address 127.0.0.1:0).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { Prng } from "../../pkg/common/index.js";
import { type ClusterMember, type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient } from "./pfs-api-support.js";

/** Bytes of one piece of a seeded stream. */
const pieceBytes = 256 * 1024;

/** The `size` bytes a seed names, in pieces (the same every time). */
export function* seededPieces(seed: number, size: number): Generator<Buffer> {
  const prng = new Prng(seed);
  for (let done = 0; done < size; done += pieceBytes) {
    const piece = Buffer.allocUnsafe(Math.min(pieceBytes, size - done));
    let at = 0;
    for (; at + 4 <= piece.length; at += 4) piece.writeUInt32LE(prng.nextUint32(), at);
    for (; at < piece.length; at += 1) piece[at] = prng.nextUint32() & 0xff;
    yield piece;
  }
}

/** The sha256 of the content `seededPieces(seed, size)` yields. */
export function seededHash(seed: number, size: number): string {
  const hash = createHash("sha256");
  for (const piece of seededPieces(seed, size)) hash.update(piece);
  return hash.digest("hex");
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The pieces of `source`; once `killAtBytes` bytes have been handed on, runs `kill` (once,
 * awaited before the next piece, so nothing more is sent by a live server's client).
 */
export async function* killingAt(source: Iterable<Buffer>, killAtBytes: number,
  kill: () => Promise<void>): AsyncGenerator<Buffer> {
  let sent = 0;
  let killed = false;
  for (const piece of source) {
    if (!killed && sent >= killAtBytes) {
      killed = true;
      await kill();
    }
    yield piece;
    sent += piece.length;
  }
  if (!killed) await kill();
}

/** The pfs address node `name` has registered, once it is not `stale` (30 s at most). */
export async function addressOf(etcdUrls: string, name: string, stale = ""): Promise<string> {
  const client = new Etcd3({ hosts: etcdUrls.split(",") });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await client.get(`/pfs/nodes/${name}`).string().catch(() => null);
      const address = value === null ? "" : (JSON.parse(value) as { address: string }).address;
      if (address !== "" && address !== stale) return address;
      if (Date.now() > deadline) throw new Error(`node ${name} did not register (stale ${stale})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.close();
  }
}

/** Kills `member` with -9 (if still running), restarts it on its data dir, reconnects. */
export async function restartAfterKill(member: ClusterMember, etcdUrls: string,
  staleAddress: string): Promise<PfsClient> {
  await member.kill9();
  await member.restart();
  await member.waitServing();
  return new PfsClient(await addressOf(etcdUrls, member.name, staleAddress));
}

/** Retries `read` until it returns true, every 100 ms, for at most `timeoutMs`. */
export async function eventually(timeoutMs: number, read: () => Promise<boolean>):
  Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await read().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Generous bound of a replicated cluster test's waits (a failover is about a lease TTL). */
export const replicatedSettleMs = 60_000;

/**
 * Three pfsd processes replicating `shards` shards (R=3, W=2, 2 s master leases, a dead time
 * that never passes during a test), their data in /dev/shm when there is one.
 */
export async function startReplicatedCluster(shards: number): Promise<MemberCluster> {
  const parentDir = existsSync("/dev/shm") ? "/dev/shm" : undefined;
  return startCluster({
    kind: "pfsd", size: 3, ...(parentDir === undefined ? {} : { parentDir }),
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", String(shards), "--replicas", "3",
      "--write-quorum", "2", "--master-lease-ttl", "2", "--dead-time", "600"],
  });
}
