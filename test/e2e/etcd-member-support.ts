// In-process etcd members for the etcd-member-*.test.ts files: real disk in a temp dir, the
// real gRPC peer transport on free loopback ports, etcd's flags resolved exactly as pfsd
// resolves them. Only members started here are closed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  putRequest, rangeRequest, startEtcdMember, type EtcdMember,
} from "../../pkg/etcdserver/index.js";
import * as grpc from "@grpc/grpc-js";
import {
  MemoryLogger, leaseId, resolvePfsdConfig, type PfsdConfig,
} from "../../pkg/common/index.js";
import { loadEtcdProtos } from "../../pkg/proto/index.js";
import { freePort } from "../compat/support/etcd-process.js";

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** The flags of one member of a cluster of `names`. */
export interface MemberSpec {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  readonly dataDir: string;
}

export async function memberSpecs(names: readonly string[]): Promise<MemberSpec[]> {
  const root = await mkdtemp(join(tmpdir(), "pfs-etcd-member-"));
  const specs: MemberSpec[] = [];
  for (const name of names) {
    specs.push({
      name, peerUrl: `http://127.0.0.1:${await freePort()}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`, dataDir: join(root, name),
    });
  }
  return specs;
}

export function configOf(spec: MemberSpec, cluster: readonly MemberSpec[],
  state: "new" | "existing" = "new", extra: Record<string, string> = {}): PfsdConfig {
  const resolved = resolvePfsdConfig({
    flags: {
      name: spec.name, dataDir: spec.dataDir,
      listenClientUrls: spec.clientUrl, advertiseClientUrls: spec.clientUrl,
      listenPeerUrls: spec.peerUrl, initialAdvertisePeerUrls: spec.peerUrl,
      initialCluster: cluster.map((member) => `${member.name}=${member.peerUrl}`).join(","),
      initialClusterState: state, logLevel: "warn", ...extra,
    },
    env: {},
  });
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

export async function startMember(spec: MemberSpec, cluster: readonly MemberSpec[],
  state: "new" | "existing" = "new", extra: Record<string, string> = {}): Promise<EtcdMember> {
  return startEtcdMember(configOf(spec, cluster, state, extra), { logger: new MemoryLogger() });
}

export async function removeDirs(specs: readonly MemberSpec[]): Promise<void> {
  for (const spec of specs) await rm(spec.dataDir, { recursive: true, force: true });
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The member that is leader, once exactly one of `members` says so. */
export async function leaderOf(members: readonly EtcdMember[]): Promise<EtcdMember> {
  let leader: EtcdMember | undefined;
  await eventually(() => {
    const leaders = members.filter((member) =>
      member.raftStatus().leader === member.memberId);
    leader = leaders.length === 1 ? leaders[0] : undefined;
    return leader !== undefined;
  });
  if (leader === undefined) throw new Error("no leader");
  return leader;
}

export const put = (member: EtcdMember, key: string, value: string, lease = 0n) =>
  member.put({}, putRequest({ key: text(key), value: text(value), lease: lease as never }));

export const get = (member: EtcdMember, key: string, serializable = false) =>
  member.range({}, rangeRequest({ key: text(key), serializable }));

/**
 * A minimal client API on `clientUrl`: only Lease.LeaseKeepAlive and Lease.LeaseTimeToLive,
 * backed by `member`, so a follower's forwarding reaches the leader over real gRPC without
 * the full services (which live in pkg/etcdserver/grpc).
 */
export async function serveLeaseApi(member: EtcdMember, clientUrl: string): Promise<() => void> {
  const pb = loadEtcdProtos()["etcdserverpb"] as grpc.GrpcObject;
  const lease = pb["Lease"] as grpc.ServiceClientConstructor;
  const server = new grpc.Server();
  server.addService(lease.service, {
    LeaseKeepAlive: (call: grpc.ServerDuplexStream<{ ID: string }, unknown>) => {
      call.on("data", (request: { ID: string }) => {
        member.leaseKeepAlive(leaseId(BigInt(request.ID))).then(
          (ttl) => { call.write({ ID: request.ID, TTL: String(ttl) }); },
          (error: unknown) => { call.destroy(error as Error); });
      });
      call.on("end", () => { call.end(); });
    },
    LeaseTimeToLive: (call: grpc.ServerUnaryCall<{ ID: string; keys: boolean }, unknown>,
      callback: grpc.sendUnaryData<unknown>) => {
      member.leaseTimeToLive(leaseId(BigInt(call.request.ID)), call.request.keys).then(
        (answer) => {
          callback(null, {
            ID: call.request.ID, TTL: String(answer.ttlSeconds),
            grantedTTL: String(answer.grantedTtlSeconds), keys: answer.keys.map((k) => Buffer.from(k)),
          });
        },
        (error: unknown) => { callback(error as grpc.ServiceError); });
    },
  });
  const address = new URL(clientUrl).host;
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(),
      (error) => { if (error === null) resolve(); else reject(error); });
  });
  return () => { server.forceShutdown(); };
}
